import { Subscription, scan, type Observable, type OperatorFunction } from 'rxjs';
import { ofType, provide, StateProvider, type Plugin, type TrainerControl } from '@fitstream/core';
import { afterFitEnd } from './after-fit-end.js';
import { BestWeights } from './best-weights.js';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { PolicyEvent } from './events.js';
import { assertFiniteNumber, assertMonitorKnown, assertNonNegativeInt, isImprovement, monitoredMetric, monitoredValue, type MonitoredMetric, type MonitorOptions } from './monitor.js';
import { readNames } from '../averaging/averaged-weights.js';
import { ResumableState, asRecord, num, readNum } from './resumable-state.js';

/** Options of {@link earlyStopping}; Keras names and defaults. */
export interface EarlyStoppingOptions<M extends string = string> extends MonitorOptions<M> {
  /** Smallest change that counts as an improvement (absolute, default 0). */
  readonly minDelta?: number;
  /** Epochs without improvement before stopping (default 0). */
  readonly patience?: number;
  /** Training stops if the value does not beat this baseline within `patience` epochs. */
  readonly baseline?: number;
  /** Epochs to ignore at the start (warm-up), default 0. */
  readonly startFromEpoch?: number;
  /**
   * Keep a copy of the best weights and write them back when the fit ends — whatever ended it, as Keras 3. The copy is
   * saved in checkpoints, so a resumed run restores the same weights. Default `false`.
   */
  readonly restoreBestWeights?: boolean;
  /** Where the one-line note about a `val_` monitor missing in an epoch goes; default `console.warn`, `null` silences. */
  readonly log?: ((line: string) => void) | null;
}

/** The policy's settings with defaults applied. */
export interface EarlyStoppingConfig {
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly patience: number;
  readonly baseline: number | undefined;
  readonly startFromEpoch: number;
}

/** What early stopping remembers between epochs (and across a resume). */
export interface EarlyStoppingState {
  readonly best: number | undefined;
  readonly bestEpoch: number | undefined;
  readonly wait: number;
  readonly stoppedEpoch: number | undefined;
}

/** One epoch as the policy sees it: `value` is `undefined` when the monitored log is absent this epoch. */
export interface MonitoredEpoch {
  readonly epoch: number;
  readonly value: number | undefined;
}

/** The policy's verdict on one epoch. */
export interface EarlyStoppingDecision extends EarlyStoppingState {
  readonly epoch: number;
  readonly value: number | undefined;
  /** `ignored`: before `startFromEpoch` or no value; `improved`: new best (snapshot now); `stop`: stop after this epoch. */
  readonly action: 'ignored' | 'improved' | 'waiting' | 'stop';
}

export const INITIAL_EARLY_STOPPING_STATE: EarlyStoppingState = { best: undefined, bestEpoch: undefined, wait: 0, stoppedEpoch: undefined };

/** Keras' defaults of the options every monitoring policy shares. */
const MONITOR_DEFAULTS = { minDelta: 0, patience: 0 } as const;

/** Applies defaults and checks ranges. */
export function earlyStoppingConfig(monitor: string, options: Omit<EarlyStoppingOptions, 'monitor'> = {}): EarlyStoppingConfig {
  return withOwnOptions(monitoredMetric('earlyStopping', { ...options, monitor }, MONITOR_DEFAULTS), options);
}

/** The watched metric's settings and early stopping's own (baseline, warm-up), checked. */
function withOwnOptions({ mode, minDelta, patience }: MonitoredMetric, options: Omit<EarlyStoppingOptions, 'monitor'>): EarlyStoppingConfig {
  return {
    mode,
    minDelta,
    patience,
    baseline: options.baseline === undefined ? undefined : assertFiniteNumber(options.baseline, 'earlyStopping: baseline'),
    startFromEpoch: assertNonNegativeInt(options.startFromEpoch ?? 0, 'earlyStopping: startFromEpoch'),
  };
}

/**
 * The early-stopping state machine, Keras `EarlyStopping.on_epoch_end` step for step: the wait counter grows every
 * monitored epoch and resets on an improvement that also beats the baseline; a stop needs `wait ≥ patience` on an
 * epoch that did not improve, and never happens at epoch 0.
 */
export function earlyStoppingStep(config: EarlyStoppingConfig, state: EarlyStoppingState, input: MonitoredEpoch): EarlyStoppingDecision {
  const { epoch, value } = input;
  if (value === undefined || epoch < config.startFromEpoch) return { ...state, epoch, value, action: 'ignored' };
  const wait = state.wait + 1;
  if (isImprovement(value, state.best, config.mode, config.minDelta)) {
    const beatsBaseline = config.baseline === undefined || isImprovement(value, config.baseline, config.mode, config.minDelta);
    return { ...state, best: value, bestEpoch: epoch, wait: beatsBaseline ? 0 : wait, epoch, value, action: 'improved' };
  }
  if (wait >= config.patience && epoch > 0) return { ...state, wait, stoppedEpoch: epoch, epoch, value, action: 'stop' };
  return { ...state, wait, epoch, value, action: 'waiting' };
}

/**
 * Early stopping as a pure RxJS operator over monitored epochs: replay recorded runs offline, tune `patience` without
 * retraining, test with marbles.
 *
 * @example
 * ```ts
 * from(recorded).pipe(earlyStoppingPolicy({ mode: 'min', patience: 3 })).subscribe((d) => d.action === 'stop' && console.log(d.epoch));
 * ```
 */
export function earlyStoppingPolicy(
  options: Omit<EarlyStoppingOptions, 'monitor' | 'restoreBestWeights' | 'log'> & { readonly monitor?: string } = {},
  initial: EarlyStoppingState = INITIAL_EARLY_STOPPING_STATE,
): OperatorFunction<MonitoredEpoch, EarlyStoppingDecision> {
  const config = earlyStoppingConfig(options.monitor ?? 'val_loss', options);
  return (source) =>
    source.pipe(
      scan<MonitoredEpoch, EarlyStoppingDecision, EarlyStoppingState>((prev, input) => earlyStoppingStep(config, prev, input), initial),
    );
}

/** The plugin {@link earlyStopping} returns. */
export interface EarlyStopping<M extends string = string> extends Plugin<M> {
  /** `earlyStopping:stopped` and `earlyStopping:restored`, also published on `trainer.events$` by cores with `control.emit`. */
  readonly events$: Observable<PolicyEvent<'earlyStopping:stopped' | 'earlyStopping:restored'>>;
  readonly monitor: string;
  /** State after the last monitored epoch. */
  readonly state: EarlyStoppingState;
}

/**
 * Stops training when a monitored epoch log stops improving (Keras `EarlyStopping` semantics), optionally restoring the
 * best weights when the fit ends — whatever ended it: early stopping, all epochs done, another plugin's stop, a signal,
 * an error. Keras 3 restores the same way at `on_train_end` (except after an error); tf.keras 2 restored only when early
 * stopping itself stopped the run.
 *
 * Every piece of its state is in checkpoints — best value and epoch, wait counter, the stop decision and the best
 * weights — so a run resumed from any checkpoint ends as the uninterrupted one: resumed from the checkpoint of the epoch
 * that stopped it, it stops again at once. The weights are written back after every other subscriber has seen
 * `fit:end`, so a backup taken then holds the weights being trained.
 *
 * `monitor` is typed from the trainer's metric names when the call sits inside `trainer.use(...)`; a name the trainer can
 * never report fails when the fit starts, naming the available ones.
 *
 * @example
 * ```ts
 * trainer.use(earlyStopping({ monitor: 'val_loss', patience: 5, restoreBestWeights: true }));
 * ```
 */
export function earlyStopping<M extends string = string>(options: EarlyStoppingOptions<M> = {}): EarlyStopping<M> {
  const metric = monitoredMetric('earlyStopping', options, MONITOR_DEFAULTS);
  const { monitor } = metric;
  const config = withOwnOptions(metric, options);
  const restoreBest = options.restoreBestWeights ?? false;
  const log = options.log === undefined ? (line: string) => console.warn(line) : options.log;
  const name = `early-stopping(${monitor})`;
  const emitter = new PluginEventEmitter<'earlyStopping:stopped' | 'earlyStopping:restored'>();
  const best = new BestWeights(name);
  let savedOrder: readonly string[] | undefined;
  const state = new ResumableState<EarlyStoppingState>(() => INITIAL_EARLY_STOPPING_STATE, {
    toJson: (s) => ({ best: num(s.best), bestEpoch: num(s.bestEpoch), wait: s.wait, stoppedEpoch: num(s.stoppedEpoch), weights: best.names() }),
    fromJson: (j) => {
      const r = asRecord(j);
      savedOrder = readNames(r.weights);
      return { best: readNum(r.best), bestEpoch: readNum(r.bestEpoch), wait: readNum(r.wait) ?? 0, stoppedEpoch: readNum(r.stoppedEpoch) };
    },
  });
  const stopReason = (s: EarlyStoppingState) => `early stopping: ${monitor} did not improve for ${s.wait} epochs (best ${String(s.best)} at epoch ${String(s.bestEpoch)})`;

  return {
    name,
    monitor,
    events$: emitter.events$,
    get state() {
      return state.current;
    },
    register: (container) =>
      provide(container, StateProvider, {
        ...state.provider(name),
        getTensors: () => best.tensors(),
        setTensors: (tensors) => best.load(tensors, savedOrder),
      }),
    dispose: () => best.dispose(),
    attach: (events$, control: TrainerControl<M>) => {
      assertMonitorKnown(`earlyStopping`, monitor, control.metricNames);
      const resumed = state.begin();
      best.bind(resumed && restoreBest, control.namedWeights());
      // The checkpoint was written at the epoch that decided to stop: the uninterrupted run ended there.
      if (resumed && state.current.stoppedEpoch !== undefined) control.stop(stopReason(state.current));
      let warned = false;
      const subscription = new Subscription(() => best.drop());
      subscription.add(
        events$.pipe(ofType('epoch:end')).subscribe((e) => {
          const logs = e.metrics as unknown as Readonly<Record<string, number | undefined>>;
          const value = monitoredValue('earlyStopping', monitor, logs, control.metricNames);
          if (value === undefined && !warned && e.epoch >= config.startFromEpoch) {
            warned = true;
            log?.(`earlyStopping: "${monitor}" is missing from the logs of epoch ${e.epoch} (no validation that epoch?); such epochs are skipped.`);
          }
          const decision = earlyStoppingStep(config, state.current, { epoch: e.epoch, value });
          const { best: b, bestEpoch, wait, stoppedEpoch } = decision;
          state.current = { best: b, bestEpoch, wait, stoppedEpoch };
          if (decision.action === 'improved' && restoreBest) best.keep(control.snapshotWeights());
          if (decision.action === 'stop') {
            control.stop(stopReason(state.current));
            emitter.emit(control, 'earlyStopping:stopped', { epoch: e.epoch, step: e.step, monitor, value: value!, best: b!, bestEpoch: bestEpoch!, wait });
          }
        }),
      );
      subscription.add(
        events$.pipe(ofType('fit:end')).subscribe((e) => {
          if (!restoreBest || !best.present) return;
          afterFitEnd(control, () => {
            const weights = best.current;
            if (!weights) return;
            control.restoreWeights(weights);
            best.drop();
            emitter.emit(control, 'earlyStopping:restored', { monitor, best: state.current.best!, bestEpoch: state.current.bestEpoch!, reason: e.reason });
          });
        }),
      );
      return subscription;
    },
  };
}
