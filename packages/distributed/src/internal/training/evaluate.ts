import { FitstreamInputError, type DataSource, type EvaluationLogs, type Trainer } from '@fitstream/core';
import type { DistributedContext } from '../init.js';

/**
 * `trainer.evaluate` over data split across replicas: each rank evaluates its own part (its `evaluationShard` of the
 * rows, or `undefined` for none) and every rank gets the group's sample-weighted means and total sample count — what
 * one process evaluating all the rows gives. Call it on every rank, in step (it is a collective). A rank whose own
 * evaluation fails still joins the collective, so every rank throws instead of the others waiting for a timeout.
 *
 * @example
 * ```ts
 * const rows = tf.tensor1d(evaluationShard(test.x.shape[0], ctx), 'int32');
 * const logs = await evaluateAcrossReplicas(ctx, trainer, { x: tf.gather(test.x, rows), y: tf.gather(test.y, rows) });
 * ```
 */
export async function evaluateAcrossReplicas<M extends string>(
  ctx: Pick<DistributedContext, 'comm' | 'rank'>,
  trainer: Trainer<M>,
  data: DataSource | undefined,
  options: { batchSize?: number; limitBatches?: number } = {},
): Promise<EvaluationLogs<M>> {
  const empty = () => new FitstreamInputError('data', 'is empty on every replica: give at least one rank rows to evaluate (e.g. its evaluationShard).');
  if (ctx.comm.size === 1) {
    if (data === undefined) throw empty();
    return trainer.evaluate(data, options);
  }
  const names = trainer.metricNames;
  let local: EvaluationLogs<M> | undefined;
  let failure: unknown;
  if (data !== undefined) {
    try {
      local = await trainer.evaluate(data, options);
    } catch (error) {
      failure = error;
    }
  }
  // [Σ value·samples per metric…, Σ samples, ranks that failed]
  const buf = new Float32Array(names.length + 2);
  const samples = local?.samples ?? 0;
  names.forEach((name, i) => (buf[i] = local ? local[name] * samples : 0));
  buf[names.length] = samples;
  buf[names.length + 1] = failure === undefined ? 0 : 1;
  ctx.comm.allreduce(buf, 'sum');
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(`evaluateAcrossReplicas: the evaluation failed: ${JSON.stringify(failure)}`);
  if (buf[names.length + 1]! > 0) throw new Error(`evaluateAcrossReplicas: the evaluation failed on ${buf[names.length + 1]} other replica(s); see their errors.`);
  const total = buf[names.length]!;
  if (total === 0) throw empty();
  const out: Record<string, number> = { samples: total };
  names.forEach((name, i) => (out[name] = buf[i]! / total));
  return out as EvaluationLogs<M>;
}
