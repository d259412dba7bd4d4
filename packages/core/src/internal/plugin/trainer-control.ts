import type * as tf from '@tensorflow/tfjs';
import type { Random } from '@fitstream/util';
import type { CheckpointInfo } from '@fitstream/checkpoint';
import type { PluginEventType, TrainerEventMap } from '../events/event-map.js';
import type { TrainableModel } from '../model/model.js';

/**
 * How plugins steer a running fit. The event stream is for observing; this is for acting.
 *
 * @example
 * ```ts
 * const stopAtLoss = (limit: number): Plugin => ({
 *   name: 'stop-at-loss',
 *   attach: (events$, control) =>
 *     events$.pipe(ofType('epoch:end')).subscribe((e) => e.metrics.loss < limit && control.stop(`loss below ${limit}`)),
 * });
 * ```
 */
export interface TrainerControl<M extends string = string> {
  /** Stops after the current optimizer step (or at once between epochs); `fit` resolves with reason `'stopped'`. */
  stop(reason?: string): void;
  /** Whether a stop was requested. */
  readonly stopRequested: boolean;
  /**
   * The learning rate in force. Core's learning-rate pipeline alone writes it (a `LearningRateBase` schedule times the
   * `LearningRateModifier`s); to change it, provide one of those.
   */
  getLearningRate(): number;
  /** Asks for a checkpoint in the fit's `checkpointDir` at the next step or epoch boundary. */
  requestCheckpoint(reason?: string): void;
  /**
   * Writes a checkpoint to `dir` (holds the loop until written). It is taken at the next boundary — once every
   * subscriber has seen the current event, or when the current step ends — so it holds every plugin's state of the same
   * moment whatever the order of `trainer.use`; a change made after that (a restore scheduled with `await`) never leaks in.
   */
  saveCheckpoint(dir: string, reason?: string): Promise<CheckpointInfo>;
  /**
   * Runs `hook` before each checkpoint of this fit is published (every `saveCheckpoint`, `requestCheckpoint` and
   * backup): after its snapshot was taken, before it is put in place; the checkpoint is written once every hook's
   * promise settled (a hook that throws or rejects fails the checkpoint, and so the fit). Loggers make their records
   * durable here: a kill right after a checkpoint is in place — before `checkpoint:saved` is logged — must not lose
   * what was logged before it, since a run resumed from it does not log it again.
   */
  beforeCheckpoint(hook: () => void | PromiseLike<unknown>): void;
  /** Holds the loop at the next boundary until `promise` settles; a rejection fails the fit. */
  await(promise: PromiseLike<unknown>): void;
  /** The model's weights as named copies (caller disposes), e.g. to restore the best weights later. */
  snapshotWeights(): Map<string, tf.Tensor>;
  /** Writes weights taken with {@link snapshotWeights} back into the model. */
  restoreWeights(weights: ReadonlyMap<string, tf.Tensor>): void;
  /** The model being trained (the object given to `createTrainer`): fine-tuning schedules freeze and unfreeze its layers. */
  readonly model: TrainableModel;
  /**
   * The model's weights by unique name (trainable and not: batch-norm statistics included), as the live variables —
   * for plugins that keep a copy of the weights (EMA, SWA). Do not dispose them.
   */
  namedWeights(): ReadonlyMap<string, tf.Variable>;
  /** The trainer's seeded random root; derive streams from it (`control.random.derive('my-plugin', epoch)`). */
  readonly random: Random;
  /** The fit's `checkpointDir`, where `requestCheckpoint` writes; `undefined` when the fit has none. */
  readonly checkpointDir: string | undefined;
  /** Metric names this trainer reports (without `val_`). */
  readonly metricNames: readonly ('loss' | M)[];
  /**
   * Publishes a plugin event (a type added to `TrainerEventMap` by module augmentation) on the trainer's stream, in
   * order with the core events. Core event types cannot be emitted by plugins.
   */
  emit<K extends PluginEventType>(type: K, payload: TrainerEventMap<M>[K]): void;
}
