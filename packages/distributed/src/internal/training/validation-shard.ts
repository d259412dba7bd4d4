import * as tf from '@tensorflow/tfjs';
import { BatchTransform, provide, type Batch, type PluginRegistry } from '@fitstream/core';
import type { Communicator } from '../comm/communicator.js';
import { DistributedConfigError } from '../errors.js';

/**
 * The rows `[start, end)` of a validation batch of `rows` rows that `rank` of `worldSize` evaluates: contiguous, in
 * rank order, sizes differing by at most one, so that the replicas together evaluate every row exactly once. A batch
 * with fewer rows than replicas (only ever the last one of a pass) cannot give every replica a row, and core cannot
 * score an empty batch: replica `r ≥ rows` then re-evaluates row 0, so at most `worldSize − 1` rows per pass count twice.
 *
 * @example
 * ```ts
 * shardRows(64, 1, 2); // [32, 64]
 * ```
 */
export function shardRows(rows: number, rank: number, worldSize: number): [number, number] {
  if (rows < worldSize) return rank < rows ? [rank, rank + 1] : [0, 1];
  return [Math.floor((rows * rank) / worldSize), Math.floor((rows * (rank + 1)) / worldSize)];
}

const rowsOf = (batch: Batch): number => {
  const y = batch.y;
  const first = y instanceof tf.Tensor ? y : Array.isArray(y) ? (y as readonly tf.Tensor[])[0] : Object.values(y as Record<string, tf.Tensor>)[0];
  return first?.shape[0] ?? 0;
};

/** Every tensor of a batch part (a tensor, an array of tensors or nulls, a record of tensors) cut to rows `[start, end)`. */
function sliceRows<T>(part: T, start: number, end: number): T {
  if (part instanceof tf.Tensor) return part.slice(start, end - start) as T;
  if (Array.isArray(part)) return part.map((p: unknown) => (p === null ? null : sliceRows(p, start, end))) as T;
  if (part !== null && typeof part === 'object') return Object.fromEntries(Object.entries(part).map(([k, v]) => [k, sliceRows(v, start, end)])) as T;
  return part;
}

/**
 * Splits a fit's validation across the replicas of synchronous data parallelism, where every replica holds the same
 * weights: each replica scores its share of every validation batch ({@link shardRows}), and the group's sample-weighted
 * mean — the metric averaging of the replica support — equals one replica scoring every row. k replicas validate in 1/k
 * of the time instead of each scoring all rows.
 *
 * It is a batch transform that applies to validation only (it returns training batches as they are), so it works for
 * any data source and for custom train steps. Because it assumes every replica passes the same validation data, it
 * checks that at the end of each validated epoch (rows seen and a fingerprint of the first row, one allgather) and fails
 * the fit with a clear error when replicas pass different data (their own `evaluationShard`, or validation on some
 * ranks only): those runs set `shardValidation: false`.
 */
export class ValidationShard {
  /** Rows this replica saw in the current validation pass, before sharding. */
  private seen = 0;
  /** A fingerprint of the pass's first row (the sum of its first input's values). */
  private fingerprint = 0;
  private lastPass = -1;

  constructor(
    private readonly comm: Communicator,
    private readonly owner: string,
  ) {}

  register(container: PluginRegistry): void {
    provide(container, BatchTransform, {
      name: `${this.owner} (validation shard)`,
      applyTo: 'train-and-validation',
      transform: (batch, ctx) => {
        if (ctx.training || this.comm.size === 1) return batch;
        const rows = rowsOf(batch);
        if (ctx.batch === 0) {
          this.seen = 0;
          this.lastPass = ctx.epoch;
          const x = batch.x instanceof tf.Tensor ? batch.x : batch.x[0];
          // One read of one row per pass, to tell same-data replicas from ones that pass their own shards.
          this.fingerprint = x && rows > 0 ? tf.tidy(() => tf.sum(tf.cast(x.slice(0, 1), 'float32')).dataSync()[0]!) : 0;
        }
        this.seen += rows;
        const [start, end] = shardRows(rows, this.comm.rank, this.comm.size);
        return { x: sliceRows(batch.x, start, end), y: sliceRows(batch.y, start, end), ...(batch.sampleWeight === undefined ? {} : { sampleWeight: sliceRows(batch.sampleWeight, start, end) }) };
      },
    });
  }

  /**
   * At the end of every epoch, on every replica (a collective): when any replica validated in `epoch`, every replica must
   * have validated the same rows. Throws a {@link DistributedConfigError} otherwise, on every replica alike.
   */
  check(epoch: number, validated: boolean): void {
    if (this.comm.size === 1) return;
    const mine = validated && this.lastPass === epoch;
    const all = this.comm.allgather(Float32Array.of(mine ? 1 : 0, mine ? this.seen : 0, mine ? this.fingerprint : 0));
    const ranks = Array.from({ length: this.comm.size }, (_, r) => ({ validated: all[3 * r]! > 0, rows: all[3 * r + 1]!, fingerprint: all[3 * r + 2]! }));
    if (!ranks.some((r) => r.validated)) return;
    const first = ranks[0]!;
    const same = ranks.every((r) => r.validated && r.rows === first.rows && (Object.is(r.fingerprint, first.fingerprint) || (Number.isNaN(r.fingerprint) && Number.isNaN(first.fingerprint))));
    if (same) return;
    const seen = ranks.map((r, i) => `rank ${i}: ${r.validated ? `${r.rows} rows` : 'none'}`).join(', ');
    throw new DistributedConfigError(
      `${this.owner}: the replicas passed different validation data (${seen}${ranks.every((r) => r.validated && r.rows === first.rows) ? ', other rows' : ''}). ` +
        'dataParallel splits the validation data across replicas itself (shardValidation, default true): pass the same validation data on every replica, ' +
        'or set shardValidation: false when each replica passes its own part (evaluationShard) or only some replicas validate.',
    );
  }
}
