// Golden vectors: the plans a seed produces, computed the same way in-process, in a child process and in a worker.
import { Random } from '@fitstream/core';
import { bootstrap } from '../internal/bootstrap/bootstrap.js';
import { shuffleSampler } from '../internal/batch/basic.js';
import { kFold, stratifiedKFold } from '../internal/cv/k-fold.js';
import { trainTestSplit } from '../internal/holdout/train-test-split.js';
import { distributed } from '../internal/distributed/distributed.js';

export interface GoldenVectors {
  readonly corePermutation: number[];
  readonly shuffleEpoch0: number[];
  readonly shuffleEpoch3: number[];
  readonly trainerStreamEpoch0: number[];
  readonly kFoldTest0: number[];
  readonly stratifiedFold0: number[];
  readonly split: { train: number[]; test: number[] };
  readonly bootstrapInBag: number[];
  readonly rank1Of3: number[];
}

export function goldenVectors(): GoldenVectors {
  const flat = (batches: readonly Int32Array[]) => batches.flatMap((b) => Array.from(b));
  const labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
  const split = trainTestSplit(10, { testSize: 0.3, stratify: labels, seed: 42 });
  return {
    corePermutation: Array.from(Random.fromSeed(42).derive('shuffle', 0).permutation(10)),
    shuffleEpoch0: flat(shuffleSampler({ seed: 42, dropLast: false }).preview({ size: 10, batchSize: 4, epoch: 0 })),
    shuffleEpoch3: flat(shuffleSampler({ seed: 42, dropLast: false }).preview({ size: 10, batchSize: 4, epoch: 3 })),
    trainerStreamEpoch0: flat(shuffleSampler({ dropLast: false }).preview({ size: 10, batchSize: 4, epoch: 0, trainerSeed: 42 })),
    kFoldTest0: Array.from([...kFold({ nSplits: 3, shuffle: true, seed: 42 }).split(10)][0]!.test),
    stratifiedFold0: Array.from([...stratifiedKFold({ nSplits: 2, shuffle: true, seed: 42 }).split({ y: labels })][0]!.test),
    split: { train: Array.from(split.train), test: Array.from(split.test) },
    bootstrapInBag: Array.from(bootstrap(10, { seed: 42 }).inBag),
    rank1Of3: flat(distributed(shuffleSampler({ seed: 42, dropLast: false }), { rank: 1, worldSize: 3 }).preview({ size: 10, batchSize: 4, epoch: 0 })),
  };
}
