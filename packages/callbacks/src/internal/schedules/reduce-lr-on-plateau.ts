import { Subscription, scan, type Observable, type OperatorFunction } from 'rxjs';
import { LearningRateModifier, ofType, provide, StateProvider, type LearningRateModifierInput, type Plugin, type TrainerControl } from '@fitstream/core';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { PolicyEvent } from '../policies/events.js';
import { assertFiniteNumber, assertMonitorKnown, assertNonNegativeInt, isImprovement, monitoredMetric, monitoredValue, type MonitoredMetric, type MonitorOptions } from '../policies/monitor.js';
import { ResumableState, asRecord, num, readNum } from '../policies/resumable-state.js';

/** Options of {@link reduceLROnPlateau}: Keras names and defaults. */
export interface ReduceLROnPlateauOptions<M extends string = string> extends MonitorOptions<M> {
  /** Multiply the rate by this on a plateau (0 < factor < 1, default 0.1). */
  readonly factor?: number;
  /** Epochs without improvement before reducing (default 10). */
  readonly patience?: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  readonly cooldown?: number;
  /** Lower bound of the rate (default 0). */
  readonly minLr?: number;
  /** Absolute threshold for an improvement, as Keras `min_delta` (default 1e-4). */
  readonly minDelta?: number;
  readonly name?: string;
}

export interface PlateauConfig {
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly minDelta: number;
}

export interface PlateauState {
  readonly best: number | undefined;
  readonly wait: number;
  readonly cooldownCounter: number;
}

/** One epoch as the plateau policy sees it: the monitored value (absent: skipped) and the rate in force. */
export interface PlateauInput {
  readonly epoch: number;
  readonly value: number | undefined;
  readonly learningRate: number;
}

export interface PlateauDecision extends PlateauState {
  readonly epoch: number;
  readonly value: number | undefined;
  /** The rate to use from now on; differs from the input rate only when `action` is `'reduce'`. */
  readonly learningRate: number;
  readonly action: 'ignored' | 'improved' | 'waiting' | 'cooldown' | 'reduce';
}

export const INITIAL_PLATEAU_STATE: PlateauState = { best: undefined, wait: 0, cooldownCounter: 0 };

/** Keras' defaults of the options every monitoring policy shares. */
const MONITOR_DEFAULTS = { minDelta: 1e-4, patience: 10 } as const;

/** Applies defaults and checks ranges. */
export function plateauConfig(monitor: string, options: Omit<ReduceLROnPlateauOptions, 'monitor' | 'name'> = {}): PlateauConfig {
  return withOwnOptions(monitoredMetric('reduceLROnPlateau', { ...options, monitor }, MONITOR_DEFAULTS), options);
}

/** The watched metric's settings and the plateau's own (factor, cooldown, floor), checked. */
function withOwnOptions({ mode, minDelta, patience }: MonitoredMetric, options: Omit<ReduceLROnPlateauOptions, 'monitor' | 'name'>): PlateauConfig {
  return {
    mode,
    factor: assertFiniteNumber(options.factor ?? 0.1, 'reduceLROnPlateau: factor', (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    patience,
    cooldown: assertNonNegativeInt(options.cooldown ?? 0, 'reduceLROnPlateau: cooldown'),
    minLr: assertFiniteNumber(options.minLr ?? 0, 'reduceLROnPlateau: minLr', (v) => v >= 0, 'a finite number ≥ 0'),
    minDelta,
  };
}

/**
 * Keras `ReduceLROnPlateau.on_epoch_end`, step for step: in cooldown the counter ticks down and `wait` stays 0; an
 * improvement (beyond `minDelta`, absolute) resets `wait`; otherwise, outside cooldown, `wait` grows and at `patience`
 * the rate becomes `max(lr · factor, minLr)` (if above `minLr`), cooldown starts and `wait` resets.
 */
export function plateauStep(config: PlateauConfig, state: PlateauState, input: PlateauInput): PlateauDecision {
  const { epoch, value, learningRate } = input;
  if (value === undefined) return { ...state, epoch, value, learningRate, action: 'ignored' };
  const { best } = state;
  let { wait, cooldownCounter } = state;
  if (cooldownCounter > 0) {
    cooldownCounter -= 1;
    wait = 0;
  }
  if (isImprovement(value, best, config.mode, config.minDelta)) {
    return { best: value, wait: 0, cooldownCounter, epoch, value, learningRate, action: 'improved' };
  }
  // As Keras, cooldown is checked again after the decrement: the epoch that ends the cooldown already counts.
  if (cooldownCounter > 0) return { best, wait, cooldownCounter, epoch, value, learningRate, action: 'cooldown' };
  wait += 1;
  if (wait >= config.patience && learningRate > config.minLr) {
    const lr = Math.max(learningRate * config.factor, config.minLr);
    return { best, wait: 0, cooldownCounter: config.cooldown, epoch, value, learningRate: lr, action: 'reduce' };
  }
  return { best, wait, cooldownCounter, epoch, value, learningRate, action: 'waiting' };
}

/**
 * The plateau policy as a pure RxJS operator over epochs. The rate is threaded through: each decision's
 * `learningRate` is the next input's (pass `learningRate` in the input to override it, e.g. from a recording).
 *
 * @example
 * ```ts
 * from(valLosses.map((value, epoch) => ({ epoch, value }))).pipe(plateauPolicy({ patience: 2 }, 0.1)).subscribe(console.log);
 * ```
 */
export function plateauPolicy(
  options: Omit<ReduceLROnPlateauOptions, 'monitor' | 'name'> & { readonly monitor?: string },
  initialLr: number,
): OperatorFunction<Omit<PlateauInput, 'learningRate'> & { readonly learningRate?: number }, PlateauDecision> {
  const config = plateauConfig(options.monitor ?? 'val_loss', options);
  const seed: PlateauDecision = { ...INITIAL_PLATEAU_STATE, epoch: -1, value: undefined, learningRate: initialLr, action: 'ignored' };
  return (source) => source.pipe(scan((prev, input) => plateauStep(config, prev, { ...input, learningRate: input.learningRate ?? prev.learningRate }), seed));
}

/** The plugin {@link reduceLROnPlateau} returns. */
export interface ReduceLROnPlateau<M extends string = string> extends Plugin<M> {
  readonly monitor: string;
  readonly state: PlateauState;
  /** The product of the reductions so far (1 before the first); the rate is the rate so far × this, floored at `minLr`. */
  readonly factor: number;
  readonly events$: Observable<PolicyEvent<'learningRate:changed'>>;
}

interface PlateauPluginState extends PlateauState {
  readonly factor: number;
  readonly reductions: number;
}

/**
 * The plateau's factor on the rate so far: the product of its reductions, with Keras' floor — a reduction never takes
 * the rate below `minLr` — expressed on the rate that reaches it, and never above 1, so that a rate a schedule already
 * took below `minLr` is not raised back.
 */
export function plateauFactor(factor: number, reductions: number, minLr: number, rateIn: number): number {
  if (reductions === 0) return 1;
  return Math.min(1, Math.max(factor, rateIn > 0 ? minLr / rateIn : 0));
}

/**
 * Lowers the learning rate when a monitored epoch log stops improving (Keras `ReduceLROnPlateau`). A modifier of core's
 * learning-rate pipeline (stage `'adapt'`): each reduction multiplies its factor by `factor`, so it composes with any
 * base schedule (`cosineDecay(…)` then plateau reductions on top). As Keras, a reduction happens only while the rate is
 * above `minLr` and never takes it below `minLr`. The reductions stay in force across fits of the same trainer (the
 * optimizer kept them in Keras); checkpoints keep the factor and the counters. Emits `learningRate:changed` at each
 * reduction.
 *
 * @example
 * ```ts
 * trainer.use(cosineDecay({ totalSteps: 10_000 })).use(reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 3, cooldown: 1, minLr: 1e-5 }));
 * ```
 */
export function reduceLROnPlateau<M extends string = string>(options: ReduceLROnPlateauOptions<M> = {}): ReduceLROnPlateau<M> {
  const metric = monitoredMetric('reduceLROnPlateau', options, MONITOR_DEFAULTS);
  const { monitor } = metric;
  const config = withOwnOptions(metric, options);
  const name = options.name ?? `reduce-lr-on-plateau(${monitor})`;
  const emitter = new PluginEventEmitter<'learningRate:changed'>();
  // The counters restart with every fit (Keras `on_train_begin`); the reductions carry over, as the optimizer's rate did.
  let carried = { factor: 1, reductions: 0 };
  const state = new ResumableState<PlateauPluginState>(() => ({ ...INITIAL_PLATEAU_STATE, ...carried }), {
    toJson: (s) => ({ best: num(s.best), wait: s.wait, cooldownCounter: s.cooldownCounter, factor: s.factor, reductions: s.reductions }),
    fromJson: (j) => {
      const r = asRecord(j);
      return {
        best: readNum(r.best),
        wait: readNum(r.wait) ?? 0,
        cooldownCounter: readNum(r.cooldownCounter) ?? 0,
        factor: readNum(r.factor) ?? 1,
        reductions: readNum(r.reductions) ?? 0,
      };
    },
  });
  const modifier: LearningRateModifier = {
    name,
    stage: 'adapt',
    factor: (input: LearningRateModifierInput) => plateauFactor(state.current.factor, state.current.reductions, config.minLr, input.rate),
  };
  return {
    name,
    monitor,
    events$: emitter.events$,
    get state() {
      const { best, wait, cooldownCounter } = state.current;
      return { best, wait, cooldownCounter };
    },
    get factor() {
      return state.current.factor;
    },
    register: (r) => {
      provide(r, LearningRateModifier, modifier);
      provide(r, StateProvider, state.provider(name));
    },
    attach: (events$, control: TrainerControl<M>) => {
      assertMonitorKnown('reduceLROnPlateau', monitor, control.metricNames);
      state.begin();
      carried = { factor: state.current.factor, reductions: state.current.reductions };
      const subscription = new Subscription();
      subscription.add(
        events$.pipe(ofType('epoch:end')).subscribe((e) => {
          const value = monitoredValue('reduceLROnPlateau', monitor, e.metrics as unknown as Record<string, number | undefined>, control.metricNames);
          // Keras compares the rate in force; here that is the rate of the epoch's last update.
          const previous = e.learningRate;
          const d = plateauStep(config, state.current, { epoch: e.epoch, value, learningRate: previous });
          const reduced = d.action === 'reduce';
          const factor = reduced ? state.current.factor * config.factor : state.current.factor;
          const reductions = state.current.reductions + (reduced ? 1 : 0);
          state.current = { best: d.best, wait: d.wait, cooldownCounter: d.cooldownCounter, factor, reductions };
          carried = { factor, reductions };
          if (reduced) {
            emitter.emit(control, 'learningRate:changed', { epoch: e.epoch + 1, step: e.step, previous, learningRate: d.learningRate, by: name, reason: 'plateau' });
          }
        }),
      );
      return subscription;
    },
  };
}
