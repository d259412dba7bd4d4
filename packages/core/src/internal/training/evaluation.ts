import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchTransform, StepContext } from '../plugin/plugin-points.js';
import { disposeBatch, validateBatch, type BatchSource } from './data.js';
import { EpochAggregate } from './epoch-aggregate.js';
import { FitstreamInputError, nextMacrotask } from '@fitstream/util';
import { resolveLimit } from './fit-options.js';
import { batchSizeOf, predictionList, sampleWeightList, scoreBatch, targetList } from './heads.js';
import { runEvaluateStep } from './train-step.js';
import type { TrainerCore } from './trainer-core.js';

/** Sample-weighted means of `[loss, ...metrics]` over a pass, and the samples they cover. */
export interface EvaluationResult {
  readonly means: number[];
  readonly samples: number;
}

/** How a fit steers its validation: a stop asked for while it runs ends it at the next batch; it yields to the event loop. */
export interface EvaluationSteering {
  /** Whether the fit was asked to stop (abort signal, SIGINT/SIGTERM, a plugin). */
  stopped(): boolean;
  /** Return to the event loop at least this often (ms), so that signals, aborts and timers are seen. */
  readonly yieldEveryMs: number;
}

/**
 * Loss and metrics in inference mode (dropout off), aggregated on the device and read once. With `steering`, the pass
 * yields to the event loop every `yieldEveryMs` and ends at the next batch when a stop is asked for while it runs (a
 * stop asked for before it began lets it run: a fit stopped at its epoch's last step still validates that epoch); the
 * logs of a stopped pass are the means over the batches it saw.
 */
export async function runEvaluation<M extends string>(core: TrainerCore<M>, source: BatchSource, limit: number | undefined, argument: string, steering?: EvaluationSteering): Promise<EvaluationResult> {
  const aggregate = new EpochAggregate(core.metricNames.length);
  const cap = resolveLimit(limit, source.batchesPerEpoch, argument === 'data' ? 'limitBatches' : 'validationBatches');
  const stoppedBefore = steering?.stopped() ?? false;
  const interrupted = () => !stoppedBefore && steering !== undefined && steering.stopped();
  let lastYield = performance.now();
  let index = 0;
  const { batches, owned } = source.batches(0, 0);
  try {
    for await (const batch of batches) {
      try {
        if (source.kind === 'stream') validateBatch(batch, { model: core.model, heads: core.heads, customStep: core.trainStep !== undefined }, argument, index === 0);
        const values = core.trainStep
          ? runEvaluateStep(core.trainStep, batch, evaluationContext(core, index), core, core.metricNames)
          : tf.tidy(() => {
              const preds = predictionList(core.model.forward(batch.x, false), core.heads);
              const ys = targetList(core.heads, batch.y, `${argument}.y`);
              return scoreBatch(core.heads, ys, preds, sampleWeightList(core.heads, batch.sampleWeight, `${argument}.sampleWeight`));
            });
        aggregate.add(values, batchSizeOf(batch.y));
        values.dispose();
      } finally {
        if (owned) disposeBatch(batch);
      }
      if (++index >= cap) break;
      if (steering && performance.now() - lastYield >= steering.yieldEveryMs) {
        await nextMacrotask();
        lastYield = performance.now();
      }
      if (interrupted()) break;
    }
    if (aggregate.samples === 0) throw new FitstreamInputError(argument, 'yielded no batches; pass non-empty data.');
    return { means: await aggregate.means(), samples: aggregate.samples };
  } finally {
    aggregate.dispose();
  }
}

/** What a custom evaluation step is told: inference mode, a stream per batch. */
function evaluationContext<M extends string>(core: TrainerCore<M>, batch: number): StepContext {
  return { epoch: 0, batch, step: 0, learningRate: core.learningRate, training: false, random: core.random.derive('evaluation', batch) };
}

/** A fit's validation: evaluation with the batch transforms that apply to validation too (seeded per epoch). */
export function runValidation<M extends string>(
  core: TrainerCore<M>,
  source: BatchSource,
  limit: number | undefined,
  transforms: readonly BatchTransform[],
  epoch: number,
  steering?: EvaluationSteering,
): Promise<EvaluationResult> {
  if (transforms.length === 0) return runEvaluation(core, source, limit, 'options.validation', steering);
  const random = core.random.derive('validation', epoch);
  const transform = (b: Batch, i: number): Batch => {
    const ctx: StepContext = { epoch, batch: i, step: 0, learningRate: core.learningRate, training: false, random: random.derive('batch', i) };
    return tf.tidy(() => {
      let x = b;
      for (const t of transforms) x = t.transform(x, ctx);
      return x as unknown as tf.TensorContainer;
    }) as unknown as Batch;
  };
  const transformed: BatchSource = {
    ...source,
    batches: (e, skip) => {
      const inner = source.batches(e, skip);
      return {
        owned: true,
        batches: mapBatches(inner.batches, (b, i) => {
          const out = transform(b, i);
          if (inner.owned) disposeBatch(b, out);
          return out;
        }),
      };
    },
  };
  return runEvaluation(core, transformed, limit, 'options.validation', steering);
}

async function* mapBatches(batches: AsyncIterable<Batch> | Iterable<Batch>, fn: (b: Batch, i: number) => Batch): AsyncGenerator<Batch> {
  let i = 0;
  for await (const b of batches) yield fn(b, i++);
}

/** `overfitBatches`: validation on the same first training batches, unshuffled. */
export function overfitValidation(train: BatchSource, batches: number): BatchSource {
  return { ...train, batchesPerEpoch: batches, batchesIn: () => batches, samplesIn: () => undefined, batches: () => train.batches(0, 0) };
}
