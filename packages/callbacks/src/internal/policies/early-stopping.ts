import type * as tf from '@tensorflow/tfjs';
import { Subscription, scan, type Observable, type OperatorFunction } from 'rxjs';
import { ofType, provide, StateProvider, type LogName, type Plugin, type TrainerControl } from '@fitstream/core';
import { PolicyEmitter, type PolicyEvent } from './events.js';
import {
  assertFiniteNumber,
  assertMonitorKnown,
  assertNonNegativeInt,
  isImprovement,
  monitoredValue,
  resolveMode,
  type MonitorMode,
} from './monitor.js';
import { ResumableState, asRecord, num, readNum } from './resumable-state.js';

/** Options of {@link earlyStopping}; Keras names and defaults. */
export interface EarlyStoppingOptions<M extends string = string> {
  /** Epoch log to watch (default `'val_loss'`). Typed from the trainer's metrics where TypeScript can infer them. */
  readonly monitor?: NoInfer<LogName<M>>;
  /** `'auto'` (default) maximises names containing acc/auc/f1 and minimises the rest. */
  readonly mode?: MonitorMode;
  /** Smallest change that counts as an improvement (absolute, default 0). */
  readonly minDelta?: number;
  /** Epochs without improvement before stopping (default 0). */
  readonly patience?: number;
  /** Training stops if the value does not beat this baseline within `patience` epochs. */
  readonly baseline?: number;
  /** Epochs to ignore at the start (warm-up), default 0. */
  readonly startFromEpoch?: number;
  /** Keep a copy of the best weights and write them back when the fit ends — whatever ended it. Default `false`. */
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

/** Applies defaults and checks ranges. */
export function earlyStoppingConfig(monitor: string, options: Omit<EarlyStoppingOptions, 'monitor'> = {}): EarlyStoppingConfig {
  return {
    mode: resolveMode(monitor, options.mode),
    minDelta: Math.abs(assertFiniteNumber(options.minDelta ?? 0, 'earlyStopping: minDelta')),
    patience: assertNonNegativeInt(options.patience ?? 0, 'earlyStopping: patience'),
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
 * best weights when the fit ends — also when it completed all epochs or another plugin stopped it (Keras restores only
 * when early stopping itself stopped the run).
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
  const monitor: string = options.monitor ?? 'val_loss';
  if (typeof monitor !== 'string' || monitor.length === 0) throw new TypeError('earlyStopping: monitor must be a metric name such as "val_loss".');
  const config = earlyStoppingConfig(monitor, options);
  const restoreBest = options.restoreBestWeights ?? false;
  const log = options.log === undefined ? (line: string) => console.warn(line) : options.log;
  const name = `early-stopping(${monitor})`;
  const emitter = new PolicyEmitter<'earlyStopping:stopped' | 'earlyStopping:restored'>();
  const state = new ResumableState<EarlyStoppingState>(() => INITIAL_EARLY_STOPPING_STATE, {
    toJson: (s) => ({ best: num(s.best), bestEpoch: num(s.bestEpoch), wait: s.wait, stoppedEpoch: num(s.stoppedEpoch) }),
    fromJson: (j) => {
      const r = asRecord(j);
      return { best: readNum(r.best), bestEpoch: readNum(r.bestEpoch), wait: readNum(r.wait) ?? 0, stoppedEpoch: readNum(r.stoppedEpoch) };
    },
  });

  return {
    name,
    monitor,
    events$: emitter.events$,
    get state() {
      return state.current;
    },
    register: (container) => provide(container, StateProvider, state.provider(name)),
    attach: (events$, control: TrainerControl<M>) => {
      assertMonitorKnown(`earlyStopping`, monitor, control.metricNames);
      state.begin();
      let best: Map<string, tf.Tensor> | undefined;
      let warned = false;
      const dropSnapshot = () => {
        if (best) for (const t of best.values()) t.dispose();
        best = undefined;
      };
      const subscription = new Subscription(dropSnapshot);
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
          if (decision.action === 'improved' && restoreBest) {
            dropSnapshot();
            best = control.snapshotWeights();
          }
          if (decision.action === 'stop') {
            control.stop(`early stopping: ${monitor} did not improve for ${wait} epochs (best ${String(b)} at epoch ${String(bestEpoch)})`);
            emitter.emit(control, 'earlyStopping:stopped', { epoch: e.epoch, step: e.step, monitor, value: value!, best: b!, bestEpoch: bestEpoch!, wait });
          }
        }),
      );
      subscription.add(
        events$.pipe(ofType('fit:end')).subscribe((e) => {
          if (!restoreBest || !best) return;
          control.restoreWeights(best);
          dropSnapshot();
          emitter.emit(control, 'earlyStopping:restored', { monitor, best: state.current.best!, bestEpoch: state.current.bestEpoch!, reason: e.reason });
        }),
      );
      return subscription;
    },
  };
}
