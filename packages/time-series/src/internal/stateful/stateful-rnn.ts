import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, IndexSampler, ofType, provide, type Plugin, type Trainer } from '@fitstream/core';
import { Subscription } from 'rxjs';
import type { StatefulData } from './layout.js';
import { compactState, disposeState, modelBatchSize, resetState, restoreState, snapshotState, statefulLayers, type StateSnapshot } from './state.js';

/** Options of {@link statefulRnn}. */
export interface StatefulRnnOptions {
  /** The stateful model the trainer trains (every stateful layer built with a fixed batch size). */
  readonly model: tf.LayersModel;
  /** Where independent sequences start (from {@link statefulData}); without it the whole epoch is one sequence per stream. */
  readonly data?: Pick<StatefulData, 'sequenceStarts' | 'batchSize'>;
  /**
   * The state validation starts from: `'reset'` (default: zeros, since validation data is laid out on its own) or
   * `'continue'` (the state at the end of the training epoch). Either way the training state is restored afterwards.
   */
  readonly validationState?: 'reset' | 'continue';
}

/** The plugin, with the state helpers bound to its model. */
export interface StatefulRnnPlugin extends Plugin {
  readonly batchSize: number;
  snapshotState(): StateSnapshot;
  restoreState(snapshot: StateSnapshot): void;
  resetState(): void;
  /** `trainer.evaluate` that leaves the training state as it was (snapshot → reset → evaluate → restore). */
  evaluate<M extends string>(trainer: Trainer<M>, ...args: Parameters<Trainer<M>['evaluate']>): ReturnType<Trainer<M>['evaluate']>;
}

/**
 * Trains a stateful RNN with the core trainer: plans batches in row order (an `IndexSampler` with `order:
 * 'sequential'`, claiming `batch-order: sequential`, so a shuffling sampler or `shuffle: true` is refused with an error
 * naming both), refuses a batch size other than the model's, resets the state at every epoch start and at sequence
 * boundaries, frees tfjs's kept BPTT states after every step, and snapshots the state before validation and restores it
 * afterwards. Lay the data out with {@link statefulData} (chunk k of stream s at row s + k·B; ragged tails dropped).
 *
 * @example
 * ```ts
 * const model = tf.sequential({ layers: [
 *   tf.layers.lstm({ units: 16, stateful: true, returnSequences: true, batchInputShape: [4, 25, 1] }),
 *   tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 1 }) }),
 * ] });
 * const data = statefulData(series, { batchSize: 4, chunkLength: 25 });
 * const trainer = createTrainer({ model, optimizer: 'adam', loss: 'meanSquaredError' }).use(statefulRnn({ model, data }));
 * await trainer.fit(data, { epochs: 10, batchSize: 4, shuffle: false });
 * ```
 */
export function statefulRnn(options: StatefulRnnOptions): StatefulRnnPlugin {
  const { model } = options;
  if (!(model instanceof tf.LayersModel)) throw new FitstreamInputError('options.model', 'must be a tf.LayersModel with stateful RNN layers.');
  if (statefulLayers(model).length === 0) throw new FitstreamInputError('options.model', `"${model.name}" has no stateful RNN layer; build the RNN with { stateful: true, batchInputShape: [B, T, features] }.`);
  const B = modelBatchSize(model);
  if (B === undefined) throw new FitstreamInputError('options.model', `"${model.name}" has no fixed batch size; a stateful RNN needs batchInputShape: [B, T, features] (tfjs) on its first layer.`);
  if (options.data && options.data.batchSize !== B) throw new FitstreamInputError('options.data', `was laid out for batch size ${options.data.batchSize}, but the model's fixed batch size is ${B}.`);
  const sequenceStarts = new Set(options.data?.sequenceStarts ?? [0]);
  const validationState = options.validationState ?? 'reset';
  const name = 'stateful-rnn';

  const sampler: IndexSampler = {
    name,
    order: 'sequential',
    plan(ctx) {
      if (ctx.batchSize !== B) {
        throw new FitstreamInputError('options.batchSize', `is ${ctx.batchSize}, but the stateful model "${model.name}" has a fixed batch size of ${B} (its batchInputShape); fit with batchSize: ${B}.`);
      }
      if (ctx.size % B !== 0) {
        throw new FitstreamInputError('data', `has ${ctx.size} rows, not a multiple of the batch size ${B}: lay the series out with statefulData(), which drops the ragged tail.`);
      }
      return Array.from({ length: ctx.size / B }, (_, k) => Int32Array.from({ length: B }, (_, s) => k * B + s));
    },
  };

  const plugin: StatefulRnnPlugin = {
    name,
    batchSize: B,
    claims: [{ resource: 'batch-order', value: 'sequential' }],
    register: (container) => provide(container, IndexSampler, sampler),
    attach: (events$) => {
      let batches = 0;
      let saved: StateSnapshot | undefined;
      const restoreSaved = () => {
        if (!saved) return;
        restoreState(model, saved);
        disposeState(saved);
        saved = undefined;
      };
      const sub = new Subscription();
      sub.add(events$.pipe(ofType('epoch:start')).subscribe((e) => {
        batches = e.batchesPerEpoch ?? 0;
        resetState(model);
      }));
      sub.add(events$.pipe(ofType('batch:start')).subscribe((e) => {
        if (e.batch > 0 && sequenceStarts.has(e.batch)) resetState(model);
      }));
      sub.add(events$.pipe(ofType('step:end')).subscribe((e) => {
        compactState(model);
        if (e.batch === batches - 1) {
          // Validation (if any) runs next and would overwrite the state: keep the training state to restore it.
          disposeState(saved);
          saved = snapshotState(model);
          if (validationState === 'reset') resetState(model);
        }
      }));
      sub.add(events$.pipe(ofType('validation:end')).subscribe(restoreSaved));
      sub.add(events$.pipe(ofType('epoch:end')).subscribe(restoreSaved));
      sub.add(events$.pipe(ofType('fit:end')).subscribe(restoreSaved));
      return sub;
    },
    snapshotState: () => snapshotState(model),
    restoreState: (s) => restoreState(model, s),
    resetState: () => resetState(model),
    evaluate: async (trainer, ...args) => {
      const snapshot = snapshotState(model);
      try {
        if (validationState === 'reset') resetState(model);
        return await trainer.evaluate(...args);
      } finally {
        restoreState(model, snapshot);
        disposeState(snapshot);
      }
    },
  };
  return plugin;
}
