import type * as tf from '@tensorflow/tfjs';
import { Subscription, scan, type Observable, type OperatorFunction } from 'rxjs';
import { GradientTransform, LearningRateModifier, ofType, provide, StateProvider, type Json, type Plugin, type TrainerControl } from '@fitstream/core';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { PolicyEvent, SpikeAction } from './events.js';
import { assertFiniteNumber, assertPositiveInt } from './monitor.js';
import { ResumableState, asRecord, readNum } from './resumable-state.js';
import { inputError } from '../input-error.js';

/** Options of the spike detector (the pure part of {@link lossSpikeGuard}). */
export interface SpikeDetectorOptions {
  /** Recent non-spike batch losses kept for the median and MAD (default 50). */
  readonly window?: number;
  /** Robust z-score above which a loss is a spike (default 6). */
  readonly threshold?: number;
  /** Losses needed before anything counts as a spike (default 10). */
  readonly minHistory?: number;
}

export interface SpikeDetectorConfig {
  readonly window: number;
  readonly threshold: number;
  readonly minHistory: number;
}

export interface SpikeDetectorState {
  /** Recent accepted losses, oldest first. */
  readonly history: readonly number[];
  readonly consecutive: number;
}

export interface SpikeDecision extends SpikeDetectorState {
  readonly loss: number;
  readonly median: number;
  readonly mad: number;
  readonly score: number;
  readonly spike: boolean;
}

export const INITIAL_SPIKE_STATE: SpikeDetectorState = { history: [], consecutive: 0 };

export function spikeDetectorConfig(options: SpikeDetectorOptions = {}): SpikeDetectorConfig {
  const window = assertPositiveInt(options.window ?? 50, 'lossSpikeGuard: window');
  const minHistory = assertPositiveInt(options.minHistory ?? Math.min(10, window), 'lossSpikeGuard: minHistory');
  if (minHistory > window) throw inputError(`lossSpikeGuard: minHistory (${minHistory}) cannot exceed window (${window}).`);
  return { window, minHistory, threshold: assertFiniteNumber(options.threshold ?? 6, 'lossSpikeGuard: threshold', (v) => v > 0, 'a number > 0') };
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** 1.4826 · MAD estimates the standard deviation of normal data. */
const MAD_TO_SIGMA = 1.4826;

/**
 * One batch through the detector: the robust z-score `(loss − median) / (1.4826 · MAD)` of the window; only upward
 * deviations are spikes, non-finite losses always are (once the window is warm, and before that too). Spikes do not
 * enter the window, so a burst cannot drag the baseline up. A MAD of zero (a flat window) is floored at 1e-3·|median|.
 */
export function spikeDetectorStep(config: SpikeDetectorConfig, state: SpikeDetectorState, loss: number): SpikeDecision {
  const sorted = [...state.history].sort((a, b) => a - b);
  const med = median(sorted);
  const mad = median(sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
  const scale = Math.max(MAD_TO_SIGMA * mad, 1e-3 * Math.abs(med), 1e-12);
  const warm = state.history.length >= config.minHistory;
  const score = !Number.isFinite(loss) ? Number.POSITIVE_INFINITY : warm ? (loss - med) / scale : 0;
  const spike = !Number.isFinite(loss) || (warm && score > config.threshold);
  if (spike) return { history: state.history, consecutive: state.consecutive + 1, loss, median: med, mad, score, spike };
  const history = state.history.length >= config.window ? [...state.history.slice(state.history.length - config.window + 1), loss] : [...state.history, loss];
  return { history, consecutive: 0, loss, median: med, mad, score, spike };
}

/**
 * The spike detector as a pure RxJS operator over batch losses: replay a recorded run's losses to tune `window` and
 * `threshold` offline.
 *
 * @example
 * ```ts
 * from(losses).pipe(spikeDetector({ window: 20, threshold: 5 }), filter((d) => d.spike)).subscribe(console.log);
 * ```
 */
export function spikeDetector(options: SpikeDetectorOptions = {}, initial: SpikeDetectorState = INITIAL_SPIKE_STATE): OperatorFunction<number, SpikeDecision> {
  const config = spikeDetectorConfig(options);
  return (source) => source.pipe(scan<number, SpikeDecision, SpikeDetectorState>((s, loss) => spikeDetectorStep(config, s, loss), initial));
}

/** Options of {@link lossSpikeGuard}. */
export interface LossSpikeGuardOptions extends SpikeDetectorOptions {
  /**
   * What to do on a spike: `'log'` (emit `lossSpikeGuard:detected` only), `'skip'` (default: skip the spiking step's optimizer
   * update), or `'rollback'` (restore the last good weights, skip the update and lower the learning rate).
   */
  readonly action?: SpikeAction;
  /**
   * Rollback: multiply the learning rate by this (default 0.5). The guard is a modifier of core's learning-rate pipeline
   * (stage `'adapt'`), so the back-off stays on top of whatever base schedule runs.
   */
  readonly lrFactor?: number;
  /** Rollback: take a snapshot of good weights every n optimizer steps (default 1; each is a copy of the weights). */
  readonly snapshotEvery?: number;
  /** With `'skip'`/`'rollback'`, stop the fit after this many consecutive spikes (default 10): the run has diverged. */
  readonly maxConsecutive?: number;
  readonly name?: string;
}

// Options, then the plugin type with its events$ and state: alike in shape to every callback's (Swa in swa.ts); the fields are its own.
/** The plugin {@link lossSpikeGuard} returns. */
export interface LossSpikeGuard<M extends string = string> extends Plugin<M> {
  readonly events$: Observable<PolicyEvent<'lossSpikeGuard:detected' | 'learningRate:changed'>>;
  /** The product of the rollback factors applied so far (1 without rollbacks). */
  readonly lrScale: number;
}

/**
 * Guards against loss spikes: the median and MAD of a window of recent batch losses flag a batch whose loss is far above
 * the norm; the guard then logs, skips the update, or rolls back to the last good weights with a lower learning rate.
 * Emits `lossSpikeGuard:detected`.
 *
 * Cost: the median needs every batch loss on the host: one device read per batch (shared with anyone else reading the
 * batch metrics). The skip works because `batch:end` is published after the backward pass and before the optimizer
 * update: the decision is taken there and a gradient transform returns `null` for that step.
 *
 * @example
 * ```ts
 * trainer.use(lossSpikeGuard({ window: 100, threshold: 6, action: 'rollback', lrFactor: 0.5 }));
 * ```
 */
export function lossSpikeGuard<M extends string = string>(options: LossSpikeGuardOptions = {}): LossSpikeGuard<M> {
  const config = spikeDetectorConfig(options);
  const action: SpikeAction = options.action ?? 'skip';
  if (!['log', 'skip', 'rollback'].includes(action)) throw inputError(`lossSpikeGuard: action must be 'log', 'skip' or 'rollback', got ${String(action)}.`);
  const lrFactor = assertFiniteNumber(options.lrFactor ?? 0.5, 'lossSpikeGuard: lrFactor', (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  const snapshotEvery = assertPositiveInt(options.snapshotEvery ?? 1, 'lossSpikeGuard: snapshotEvery');
  const maxConsecutive = assertPositiveInt(options.maxConsecutive ?? 10, 'lossSpikeGuard: maxConsecutive');
  const name = options.name ?? 'loss-spike-guard';
  const emitter = new PluginEventEmitter<'lossSpikeGuard:detected' | 'learningRate:changed'>();
  interface GuardState extends SpikeDetectorState {
    readonly scale: number;
  }
  const state = new ResumableState<GuardState>(() => ({ ...INITIAL_SPIKE_STATE, scale: 1 }), {
    toJson: (s): Json => ({ history: [...s.history], consecutive: s.consecutive, scale: s.scale }),
    fromJson: (j) => {
      const r = asRecord(j);
      const history = Array.isArray(r.history) ? (r.history as readonly Json[]).filter((v): v is number => typeof v === 'number') : [];
      return { history, consecutive: readNum(r.consecutive) ?? 0, scale: readNum(r.scale) ?? 1 };
    },
  });
  let skipStep: number | undefined; // the optimizer step whose update is skipped (its `step` before the update)

  return {
    name,
    events$: emitter.events$,
    get lrScale() {
      return state.current.scale;
    },
    register: (c) => {
      provide(c, StateProvider, state.provider(name));
      if (action !== 'log') provide(c, GradientTransform, { name, transform: (grads, ctx) => (ctx.step === skipStep ? null : grads) });
      if (action === 'rollback') provide(c, LearningRateModifier, { name, stage: 'adapt', factor: () => state.current.scale });
    },
    attach: (events$, control: TrainerControl<M>) => {
      state.begin();
      skipStep = undefined;
      let snapshot: Map<string, tf.Tensor> | undefined;
      let spikedThisStep = false;
      let batchesPerEpoch: number | undefined;
      const drop = () => {
        if (snapshot) for (const t of snapshot.values()) t.dispose();
        snapshot = undefined;
      };
      const subscription = new Subscription(drop);
      if (action === 'rollback') snapshot = control.snapshotWeights();
      subscription.add(events$.pipe(ofType('epoch:start')).subscribe((e) => (batchesPerEpoch = e.batchesPerEpoch)));
      subscription.add(
        events$.pipe(ofType('batch:end')).subscribe((e) => {
          const d = spikeDetectorStep(config, state.current, e.metrics.loss);
          state.current = { history: d.history, consecutive: d.consecutive, scale: state.current.scale };
          if (!d.spike) return;
          spikedThisStep = true;
          if (action !== 'log') skipStep = e.step;
          if (action === 'rollback') {
            if (snapshot) control.restoreWeights(snapshot);
            const previous = control.getLearningRate();
            const lr = previous * lrFactor;
            state.current = { ...state.current, scale: state.current.scale * lrFactor };
            // Core applies the lowered factor from the next update on (this step's update is skipped): step e.step + 1,
            // in the next epoch when this was the epoch's last batch.
            const epoch = batchesPerEpoch !== undefined && e.batch + 1 >= batchesPerEpoch ? e.epoch + 1 : e.epoch;
            emitter.emit(control, 'learningRate:changed', { epoch, step: e.step + 1, previous, learningRate: lr, by: name, reason: 'spike-rollback' });
          }
          emitter.emit(control, 'lossSpikeGuard:detected', {
            epoch: e.epoch,
            step: e.step,
            batch: e.batch,
            loss: d.loss,
            median: d.median,
            mad: d.mad,
            score: d.score,
            action,
            consecutive: d.consecutive,
          });
          if (action !== 'log' && d.consecutive >= maxConsecutive) {
            control.stop(`lossSpikeGuard: ${d.consecutive} consecutive loss spikes (last ${d.loss}, median ${d.median}); the run looks diverged`);
          }
        }),
      );
      subscription.add(
        events$.pipe(ofType('step:end')).subscribe((e) => {
          const good = !spikedThisStep;
          spikedThisStep = false;
          if (action === 'rollback' && good && e.step % snapshotEvery === 0) {
            drop();
            snapshot = control.snapshotWeights();
          }
        }),
      );
      return subscription;
    },
  };
}
