import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Random } from '@fitstream/core';
import { describe, expect, it } from 'vitest';
import { shuffleSampler } from '../batch/basic.js';
import { goldenVectors } from '../../test-support/golden.js';

// Pinned output of the permutation algorithm and every seeded splitter built on it. A change here changes every
// user's splits: it needs a major version and a changeset that says so.
const GOLDEN = {
  corePermutation: [0, 6, 5, 2, 9, 7, 3, 4, 8, 1],
  shuffleEpoch0: [0, 9, 8, 4, 5, 1, 3, 2, 7, 6],
  shuffleEpoch3: [6, 0, 4, 7, 1, 8, 5, 3, 9, 2],
  trainerStreamEpoch0: [0, 4, 3, 9, 6, 5, 7, 8, 1, 2],
  kFoldTest0: [4, 0, 6, 5],
  stratifiedFold0: [1, 3, 4, 5, 9],
  split: { train: [5, 8, 3, 2, 0, 4, 6], test: [9, 7, 1] },
  bootstrapInBag: [1, 1, 3, 0, 5, 5, 1, 2, 0, 3],
  rank1Of3: [9, 5, 2, 0], // 0.2: the inner sampler's own order (it drew from a stream named after the wrapper before)
};

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
const support = (file: string) => fileURLToPath(new URL(`../../test-support/${file}`, import.meta.url));
const tsArgs = ['--conditions=@fitstream/source', '--import', 'tsx'];

describe('seeded reproducibility', () => {
  it('matches the golden vectors in this process', () => {
    expect(goldenVectors()).toEqual(GOLDEN);
  });

  it('matches the golden vectors byte for byte in a child process and in a worker thread', async () => {
    const [child, worker] = await Promise.all([
      promisify(execFile)(process.execPath, [...tsArgs, support('golden-cli.ts')], { cwd: packageRoot }).then((r) => r.stdout),
      new Promise<string>((resolve, reject) => {
        // Node 20 does not apply `--import tsx` from a worker's execArgv to the worker's modules, so the entry is a
        // one-line script that registers tsx's hooks in the worker and then imports the TypeScript file.
        const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
        const target = pathToFileURL(support('golden-worker.ts')).href;
        const entry = `import(${JSON.stringify(tsxApi)}).then((m) => m.register()).then(() => import(${JSON.stringify(target)}));`;
        const w = new Worker(entry, { eval: true, execArgv: ['--conditions=@fitstream/source'] });
        w.once('message', (m: string) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
      }),
    ]);
    const expected = JSON.stringify(goldenVectors());
    expect(child).toBe(expected);
    expect(worker).toBe(expected);
    expect(JSON.parse(child)).toEqual(GOLDEN);
  }, 60_000);

  it("plans epoch 3 the same whether or not epochs 0–2 were planned, and twice in a row", () => {
    const fresh = shuffleSampler({ seed: 7 }).preview({ size: 50, batchSize: 5, epoch: 3 });
    const warm = shuffleSampler({ seed: 7 });
    for (const epoch of [0, 1, 2]) warm.preview({ size: 50, batchSize: 5, epoch });
    expect(warm.preview({ size: 50, batchSize: 5, epoch: 3 })).toEqual(fresh);
    expect(warm.preview({ size: 50, batchSize: 5, epoch: 3 })).toEqual(fresh);
  });

  it('gives uncorrelated orders for consecutive epochs (mean rank correlation ≈ 0 over 1000 seeds)', () => {
    const n = 20;
    let sum = 0;
    for (let seed = 0; seed < 1000; seed++) {
      const a = Random.fromSeed(seed).derive('e', 0).permutation(n);
      const b = Random.fromSeed(seed).derive('e', 1).permutation(n);
      const mean = (n - 1) / 2;
      let cov = 0;
      let va = 0;
      for (let i = 0; i < n; i++) {
        cov += (a[i]! - mean) * (b[i]! - mean);
        va += (a[i]! - mean) ** 2;
      }
      sum += cov / va;
    }
    expect(Math.abs(sum / 1000)).toBeLessThan(0.02);
  });

  it('draws the first position uniformly (χ² over 10 cells, 5000 seeds)', () => {
    const n = 10;
    const counts = new Array<number>(n).fill(0);
    for (let seed = 0; seed < 5000; seed++) counts[shuffleSampler({ seed }).preview({ size: n, batchSize: n, epoch: 0 })[0]![0]!]! += 1;
    const chi2 = counts.reduce((s, c) => s + (c - 500) ** 2 / 500, 0);
    expect(chi2).toBeLessThan(27.88); // p = 0.001 for 9 degrees of freedom
  });
});
