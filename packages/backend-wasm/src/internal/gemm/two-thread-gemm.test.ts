import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FitstreamInputError, Random } from '@fitstream/util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relativeError, tf } from '../../test-support/wasm-kernel-harness.js';
import { gemmModuleBytes } from './gemm-module.js';
import { GEMM_WORKER_SOURCE } from './gemm-worker-source.js';
import { gateModule } from '../recurrent/gate-simd.js';
import { TANH } from '../recurrent/recurrent-heap.js';
import { createSharedGemm, createTwoThreadGemm, type GemmShape, type SharedGemm, type SharedTaskModule, type TwoThreadGemm } from './two-thread-gemm.js';

const TOLERANCE = 1e-4;
const SIZES = [1, 3, 17, 64, 65, 128, 784] as const;
const TRANSPOSES = [
  { transposeA: false, transposeB: false },
  { transposeA: false, transposeB: true },
  { transposeA: true, transposeB: false },
] as const;

/** Every size in every position at least once (a cyclic sweep), remainder shapes, then seeded random picks; ≤ 10 M multiply-adds each. */
function shapesFor(random: Random): Array<[number, number, number]> {
  const shapes: Array<[number, number, number]> = SIZES.map((s, i) => [s, SIZES[(i + 2) % SIZES.length]!, SIZES[(i + 5) % SIZES.length]!]);
  // …and every remainder of the 4-row tiles and the 8-column panels, and short inner dimensions.
  shapes.push([1, 1, 1], [784, 3, 17], [3, 784, 65], [65, 17, 784], [66, 2, 19], [33, 66, 130], [7, 5, 14], [2, 7, 12]);
  while (shapes.length < 28) {
    const pick = (): number => SIZES[random.int(SIZES.length)]!;
    const shape: [number, number, number] = [pick(), pick(), pick()];
    if (shape[0] * shape[1] * shape[2] <= 10_000_000) shapes.push(shape);
  }
  return shapes;
}

function randomValues(length: number, random: Random): Float32Array {
  return Float32Array.from({ length }, () => random.normal());
}

/** tf.matMul on the cpu backend: the reference. */
function cpuMatMul(a: Float32Array, b: Float32Array, { m, k, n, transposeA = false, transposeB = false }: GemmShape): Float32Array {
  return tf.tidy(() => {
    const at = tf.tensor2d(a, transposeA ? [k, m] : [m, k]);
    const bt = tf.tensor2d(b, transposeB ? [n, k] : [k, n]);
    return tf.matMul(at, bt, transposeA, transposeB).dataSync() as Float32Array;
  });
}

let gemm: TwoThreadGemm;

beforeAll(async () => {
  await tf.setBackend('cpu');
  gemm = await createTwoThreadGemm({ timeoutMs: 20_000 });
});

afterAll(async () => {
  await gemm.dispose();
});

describe('the GEMM module', () => {
  it('is valid WebAssembly (SIMD, shared memory, atomics) for this engine', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(gemmModuleBytes())).toBe(true);
  });
});

describe('createTwoThreadGemm: C = op(A)·op(B)', () => {
  const random = Random.fromSeed('two-thread-gemm');
  for (const transpose of TRANSPOSES) {
    const label = `${transpose.transposeA ? 'Aᵀ' : 'A'}·${transpose.transposeB ? 'Bᵀ' : 'B'}`;
    const shapes = shapesFor(random.derive(label));
    it(`${label} equals tf.matMul on the cpu backend within ${TOLERANCE} for ${shapes.length} shapes, on one and two threads`, () => {
      const data = random.derive('data', transpose.transposeA ? 1 : 0, transpose.transposeB ? 1 : 0);
      let worst = 0;
      for (const [m, k, n] of shapes) {
        const shape = { m, k, n, ...transpose };
        const a = randomValues(m * k, data);
        const b = randomValues(k * n, data);
        const expected = cpuMatMul(a, b, shape);
        for (const threads of [1, 2] as const) {
          const error = relativeError(gemm.matMul(a, b, shape, threads), expected);
          worst = Math.max(worst, error);
          expect(error, `${label} m=${m} k=${k} n=${n} on ${threads} thread(s)`).toBeLessThan(TOLERANCE);
        }
      }
      expect(worst).toBeGreaterThan(0); // float32 sums in another order: equal within the bound, not bit for bit
    });
  }

  it('Aᵀ·Bᵀ too (both flags are independent)', () => {
    const data = Random.fromSeed('both-transposed');
    const shape = { m: 65, k: 17, n: 33, transposeA: true, transposeB: true };
    const a = randomValues(65 * 17, data);
    const b = randomValues(17 * 33, data);
    expect(relativeError(gemm.matMul(a, b, shape), cpuMatMul(a, b, shape))).toBeLessThan(TOLERANCE);
  });

  it('writes into `out` when given one, and grows its memory for a larger product after a smaller one', () => {
    const data = Random.fromSeed('grow');
    const small = { m: 3, k: 3, n: 3 };
    gemm.matMul(randomValues(9, data), randomValues(9, data), small);
    const shape = { m: 784, k: 784, n: 65 };
    const a = randomValues(784 * 784, data);
    const b = randomValues(784 * 65, data);
    const out = new Float32Array(784 * 65);
    expect(gemm.matMul(a, b, shape, 2, out)).toBe(out);
    expect(relativeError(out, cpuMatMul(a, b, shape))).toBeLessThan(TOLERANCE);
  });

  it('shares the job out in chunks that the two threads take between them (all of them, once)', () => {
    const a = new Float32Array(64 * 784).fill(1);
    const b = new Float32Array(784 * 256).fill(1);
    // One thread takes every chunk (of columns too: each packed just before its products).
    gemm.matMul(a, b, { m: 64, k: 784, n: 256 }, 1);
    expect(gemm.lastChunks()).toEqual({ main: 16, worker: 0 });
    const c = gemm.matMul(a, b, { m: 64, k: 784, n: 256 }, 2);
    const { main, worker } = gemm.lastChunks();
    expect(main + worker).toBe(16); // 32 panels of 8 columns, two per chunk
    expect(c.every((v) => v === 784)).toBe(true);
    gemm.matMul(new Float32Array(784 * 64).fill(1), new Float32Array(64 * 16).fill(1), { m: 784, k: 64, n: 16 }, 2);
    const rows = gemm.lastChunks();
    expect(rows.main + rows.worker).toBe(16); // 196 tiles of 4 rows: chunks of 52 rows
  });

  it('really runs on the worker too (it takes chunks of back-to-back products within a few calls)', () => {
    const a = new Float32Array(64 * 784).fill(1);
    const b = new Float32Array(784 * 256).fill(1);
    let workerChunks = 0;
    const start = performance.now();
    while (workerChunks === 0 && performance.now() - start < 5_000) {
      gemm.matMul(a, b, { m: 64, k: 784, n: 256 }, 2);
      workerChunks = gemm.lastChunks().worker;
    }
    expect(workerChunks).toBeGreaterThan(0);
  });

  it('multiplies a B packed by the caller alongside the caller\'s own work, and rethrows that work\'s failure after the job', () => {
    const shared = gemm as SharedGemm;
    const random = Random.fromSeed('prepacked');
    for (const shape of [{ m: 37, k: 29, n: 45, transposeA: false }, { m: 66, k: 17, n: 19, transposeA: true }] as const) {
      const a = randomValues(shape.m * shape.k, random);
      const b = randomValues(shape.k * shape.n, random);
      // pack's layout: panel p at p·k·8 floats, element (k, c) at k·8 + c; columns past n are never stored.
      const panels = Math.ceil(shape.n / 8);
      const packed = new Float32Array(panels * shape.k * 8);
      for (let p = 0; p < panels; p++) for (let kk = 0; kk < shape.k; kk++) for (let c = 0; c < 8 && 8 * p + c < shape.n; c++) packed[(p * shape.k + kk) * 8 + c] = b[kk * shape.n + 8 * p + c]!;
      let mainRan = 0;
      shared.loadPacked(shape, (floats, at) => floats.set(a, at), packed);
      shared.computeAlongside(() => {
        mainRan++;
      });
      expect(mainRan).toBe(1);
      expect(relativeError(shared.result(), cpuMatMul(a, b, shape))).toBeLessThan(TOLERANCE);
      shared.loadPacked(shape, (floats, at) => floats.set(a, at), packed);
      expect(() =>
        shared.computeAlongside(() => {
          throw new Error('main part failed');
        }),
      ).toThrow('main part failed');
      // The job still ran to the end, and the instance stays usable.
      expect(relativeError(shared.result(), cpuMatMul(a, b, shape))).toBeLessThan(TOLERANCE);
    }
    expect(() => shared.loadPacked({ m: 4, k: 4, n: 9 }, () => undefined, new Float32Array(8))).toThrow(FitstreamInputError);
  });

  it('copies a job loaded with packedB as a function only once computeAlongside has posted it, and survives a wrong length there', () => {
    const shared = gemm as SharedGemm;
    const random = Random.fromSeed('posted-first');
    const shape = { m: 64, k: 96, n: 40, transposeA: false } as const;
    const a = randomValues(shape.m * shape.k, random);
    const b = randomValues(shape.k * shape.n, random);
    const packed = new Float32Array(5 * shape.k * 8);
    for (let p = 0; p < 5; p++) for (let kk = 0; kk < shape.k; kk++) for (let c = 0; c < 8; c++) packed[(p * shape.k + kk) * 8 + c] = b[kk * shape.n + 8 * p + c]!;
    const order: string[] = [];
    for (let round = 0; round < 20; round++) {
      order.length = 0;
      shared.loadPacked(shape, (floats, at) => (order.push('a'), floats.set(a, at)), () => (order.push('panels'), packed));
      expect(order).toEqual([]);
      shared.computeAlongside(() => order.push('main part'));
      // The copies run first (the chunks open after them), before this thread's own part.
      expect(order).toEqual(['a', 'panels', 'main part']);
      expect(relativeError(shared.result(), cpuMatMul(a, b, shape))).toBeLessThan(TOLERANCE);
    }
    // A wrong length found at the copy fails that product; no chunk runs, the worker lets go, the next product is right.
    shared.loadPacked(shape, (floats, at) => floats.set(a, at), () => packed.subarray(8));
    let mainRan = false;
    expect(() => shared.computeAlongside(() => (mainRan = true))).toThrow(/^packedB: must hold/);
    expect(mainRan).toBe(false);
    shared.loadPacked(shape, (floats, at) => floats.set(a, at), () => packed);
    shared.computeAlongside(() => undefined);
    expect(relativeError(shared.result(), cpuMatMul(a, b, shape))).toBeLessThan(TOLERANCE);
    // Still on both threads: a failed copy is the caller's error, not the worker's.
    expect(shared.twoThreads()).toBe(true);
  });

  it('names the argument when the operands do not match the shape', () => {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    expect(() => gemm.matMul(a, b, { m: 2, k: 3, n: 3 })).toThrow(FitstreamInputError);
    expect(() => gemm.matMul(a, b, { m: 2, k: 3, n: 3 })).toThrow(/^b: must hold k·n = 9 floats/);
    expect(() => gemm.matMul(a, b, { m: 0, k: 3, n: 2 })).toThrow(/shape\.m/);
    expect(() => gemm.read(new Float32Array(5))).toThrow(/^out: must hold m·n/);
  });
});

const CLAIM_LINE_OF_WORKER = '  if (Atomics.compareExchange(control, CLAIM, (job - 1) | 0, job) !== ((job - 1) | 0)) continue;\n';
const READY_LINE_OF_WORKER = 'port.postMessage({ ready: true });';

describe('the worker', () => {
  // Fault injection: worker sources edited so that the worker has claimed job 1 before it is posted (deterministic: no
  // race with a main thread that could finish the whole job first), then misbehaves.
  const CLAIM_LINE = CLAIM_LINE_OF_WORKER;
  const READY_LINE = READY_LINE_OF_WORKER;
  const preclaimed = (edit: (source: string) => string): string => {
    expect(GEMM_WORKER_SOURCE).toContain(CLAIM_LINE);
    expect(GEMM_WORKER_SOURCE).toContain(READY_LINE);
    const source = GEMM_WORKER_SOURCE.replace(CLAIM_LINE, '').replace(READY_LINE, `Atomics.store(control, CLAIM, 1); ${READY_LINE}`);
    const edited = edit(source);
    expect(edited).not.toBe(source);
    return edited;
  };

  it('that claims a job and does not finish it makes compute throw a clear error within the bound; dispose still ends it', async () => {
    const stalled = preclaimed((source) => source.replace('gemm.run(descriptor, 1);', 'for (;;) Atomics.wait(control, 15, 0);'));
    const stuck = await createTwoThreadGemm({ timeoutMs: 300, workerSource: stalled });
    const a = new Float32Array(256 * 256).fill(1);
    const start = performance.now();
    expect(() => stuck.matMul(a, a, { m: 256, k: 256, n: 256 }, 2)).toThrow(/the worker did not finish job 1 within 300 ms/);
    const elapsed = performance.now() - start;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
    expect(() => stuck.matMul(a, a, { m: 256, k: 256, n: 256 }, 1)).toThrow(/unusable/);
    expect(stuck.workerRunning()).toBe(true);
    await stuck.dispose();
    expect(stuck.workerRunning()).toBe(false);
  });

  it('that never claims a job leaves the main thread doing all of it, then fails once that has lasted the bound', async () => {
    // Says it is ready, then never looks at the job counter again.
    const deaf = GEMM_WORKER_SOURCE.replace('port.postMessage({ ready: true });', 'port.postMessage({ ready: true }); for (;;) Atomics.wait(control, 15, 0);');
    expect(deaf).not.toBe(GEMM_WORKER_SOURCE);
    const alone = await createTwoThreadGemm({ timeoutMs: 300, workerSource: deaf });
    const a = new Float32Array(64 * 64).fill(1);
    const c = alone.matMul(a, a, { m: 64, k: 64, n: 64 }, 2);
    expect(c.every((v) => v === 64)).toBe(true);
    expect(alone.lastChunks()).toEqual({ main: 16, worker: 0 }); // 16 tiles of 4 rows, one per chunk
    const start = performance.now();
    let error: unknown;
    while (error === undefined && performance.now() - start < 2_000) {
      try {
        alone.matMul(a, a, { m: 64, k: 64, n: 64 }, 2);
      } catch (thrown) {
        error = thrown;
      }
    }
    expect(String(error)).toMatch(/the worker claimed no job for 300 ms/);
    expect(performance.now() - start).toBeLessThan(1_000);
    await alone.dispose();
  });

  it('that fails its part makes compute throw with the worker error', async () => {
    const failing = preclaimed((source) => source.replace('gemm.run(descriptor, 1);', "throw new Error('part 1 exploded');"));
    const broken = await createTwoThreadGemm({ timeoutMs: 5_000, workerSource: failing });
    const a = new Float32Array(64 * 64).fill(1);
    expect(() => broken.matMul(a, a, { m: 64, k: 64, n: 64 }, 2)).toThrow(/the worker's part failed: Error: part 1 exploded/);
    await broken.dispose();
  });

  it('that exits is reported at once, not at the timeout', async () => {
    const exiting = preclaimed((source) => source.replace('gemm.run(descriptor, 1);', 'process.exit(3);'));
    const gone = await createTwoThreadGemm({ timeoutMs: 10_000, workerSource: exiting });
    const a = new Float32Array(16 * 16).fill(1);
    const start = performance.now();
    expect(() => gone.matMul(a, a, { m: 16, k: 16, n: 16 }, 2)).toThrow(/two-thread GEMM: unusable \(the worker exited/);
    expect(performance.now() - start).toBeLessThan(2_000);
    await gone.dispose();
  });

  // A post notifies the worker only when its `sleeping` slot is raised (gemm-worker-source.ts): a lost wake-up would leave
  // it asleep for good, and the main thread doing every product alone.
  it.each([
    ['asleep (no spin, no doze: each post must wake it)', { spinMicros: 0, dozeMicros: 0 }],
    ['dozing (each post is found without a wake-up)', { spinMicros: 0, dozeMicros: 60_000_000 }],
  ])('takes part in products posted while it is %s, pause after pause', async (_, options) => {
    const own = await createTwoThreadGemm({ timeoutMs: 20_000, ...options });
    try {
      const a = new Float32Array(64 * 784).fill(1);
      const b = new Float32Array(784 * 256).fill(1);
      let joined = 0;
      for (let i = 0; i < 40; i++) {
        // Pauses of 0–4 ms, on this thread: the worker goes back to sleep (or keeps dozing) between products.
        const until = performance.now() + (i % 5);
        while (performance.now() < until);
        const c = own.matMul(a, b, { m: 64, k: 784, n: 256 }, 2);
        expect(c.every((v) => v === 784)).toBe(true);
        if (own.lastChunks().worker > 0) joined++;
      }
      // A product takes ≈ 0.5 ms on one thread, a wake-up or a doze's look ≈ 0.1 ms: it joins most; a lost wake-up, none after it.
      expect(joined).toBeGreaterThanOrEqual(10);
    } finally {
      await own.dispose();
    }
  });

  it('refuses a negative or infinite doze, naming the option', () => {
    for (const dozeMicros of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createSharedGemm({ dozeMicros })).toThrow(FitstreamInputError);
      expect(() => createSharedGemm({ dozeMicros })).toThrow(/options\.dozeMicros/);
    }
  });

  it('that cannot start rejects creation within the bound', async () => {
    await expect(createTwoThreadGemm({ timeoutMs: 5_000, workerSource: "throw new Error('no start');" })).rejects.toThrow(/the worker failed to start: no start/);
    await expect(createTwoThreadGemm({ timeoutMs: 200, workerSource: 'setInterval(() => {}, 1000);' })).rejects.toThrow(/not ready within 200 ms/);
  });

  it('ends its thread on dispose and refuses work after it; dispose twice is harmless', async () => {
    const own = await createTwoThreadGemm();
    const a = new Float32Array(4).fill(1);
    expect(Array.from(own.matMul(a, a, { m: 2, k: 2, n: 2 }))).toEqual([2, 2, 2, 2]);
    expect(own.workerRunning()).toBe(true);
    await own.dispose();
    expect(own.workerRunning()).toBe(false);
    await own.dispose();
    expect(() => own.matMul(a, a, { m: 2, k: 2, n: 2 })).toThrow(/unusable \(disposed\)/);
  });
});

describe('tasks (runTask): a function both threads run chunk by chunk on the shared memory', () => {
  /** A module to hand to tasks: the gate passes' (any module that imports the shared memory would do). */
  const moduleFor = (gemm: SharedGemm, calls?: object): SharedTaskModule<object> => {
    const gates = gateModule(TANH, TANH);
    return { id: 7, compiled: gates.compiled(true)!, calls: calls ?? gates.for(gemm.memory as never)! };
  };
  /** Adds 1 to the chunk's counter (atomically: both threads write the same array). */
  function countChunk(_gemm: unknown, _calls: object, ints: Int32Array, params: number, chunk: number): void {
    Atomics.add(ints, (params >> 2) + chunk, 1);
  }

  it('runs every chunk exactly once across the two threads, run after run; prepare runs before any chunk', async () => {
    const gemm = await createTwoThreadGemm();
    const shared = gemm as SharedGemm;
    const chunks = 97;
    const params = shared.workspace(4 * chunks);
    shared.ints().fill(0, params / 4, params / 4 + chunks);
    const module = moduleFor(shared);
    try {
      for (let run = 1; run <= 25; run++) {
        let prepared = false;
        shared.runTask({ id: 1, run: countChunk }, params, chunks, module, () => {
          // Nothing has run yet: every counter still holds the previous runs' count.
          expect(shared.ints().subarray(params / 4, params / 4 + chunks).every((count) => count === run - 1)).toBe(true);
          prepared = true;
        });
        expect(prepared).toBe(true);
        expect(new Set(shared.ints().subarray(params / 4, params / 4 + chunks))).toEqual(new Set([run]));
      }
    } finally {
      await gemm.dispose();
    }
  });

  it('rethrows a failing prepare after the worker let go of the job, runs no chunk, and stays usable', async () => {
    const gemm = (await createTwoThreadGemm({ timeoutMs: 2_000 })) as SharedGemm;
    const params = gemm.workspace(64);
    gemm.ints().fill(0, params / 4, params / 4 + 8);
    const module = moduleFor(gemm);
    try {
      const failing = (): void => {
        throw new Error('copy failed');
      };
      expect(() => gemm.runTask({ id: 1, run: countChunk }, params, 8, module, failing)).toThrow('copy failed');
      expect(Array.from(gemm.ints().subarray(params / 4, params / 4 + 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      gemm.runTask({ id: 1, run: countChunk }, params, 8, module);
      expect(Array.from(gemm.ints().subarray(params / 4, params / 4 + 8))).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    } finally {
      await gemm.dispose();
    }
  });

  it("a task that throws in the worker makes runTask throw the worker's error", async () => {
    // The worker sees the gate module's exports, this thread a marked object: only the worker's chunks throw. This
    // thread's chunks last 2 ms each, so the worker (which claimed the job before it was posted) takes some.
    function throwsInWorker(_gemm: unknown, calls: object, ints: Int32Array): void {
      if ((calls as { marker?: number }).marker !== 1) throw new Error('worker part exploded');
      const until = performance.now() + 2;
      while (performance.now() < until) Atomics.load(ints, 0);
    }
    const source = GEMM_WORKER_SOURCE.replace(CLAIM_LINE_OF_WORKER, '').replace(READY_LINE_OF_WORKER, `Atomics.store(control, CLAIM, 1); ${READY_LINE_OF_WORKER}`);
    const gemm = (await createTwoThreadGemm({ timeoutMs: 5_000, workerSource: source })) as SharedGemm;
    try {
      const params = gemm.workspace(64);
      expect(() => gemm.runTask({ id: 3, run: throwsInWorker }, params, 20, moduleFor(gemm, { marker: 1 }))).toThrow(/the worker's part failed: Error: worker part exploded/);
    } finally {
      await gemm.dispose();
    }
  });

  it('says whether a workspace fits in the shared memory (1 GiB at most) before anything grows', () => {
    const gemm = createSharedGemm();
    const before = gemm.floats().length;
    expect(gemm.fits(64 << 20)).toBe(true);
    expect(gemm.fits(1 << 30)).toBe(false);
    expect(gemm.floats().length).toBe(before);
    return gemm.dispose();
  });

  it('runs deferred copies once, before the next call that may overwrite the memory, unless a workspace keeps them', async () => {
    const gemm = createSharedGemm();
    const runs: string[] = [];
    gemm.workspace(64);
    const generation = gemm.generation;
    gemm.defer(() => runs.push('a'));
    gemm.defer(() => runs.push('b'));
    // A task reading them where they lie keeps them pending; the generation still tells that something may have changed.
    gemm.workspace(128, true);
    expect(runs).toEqual([]);
    expect(gemm.generation).toBeGreaterThan(generation);
    gemm.load(new Float32Array(4), new Float32Array(4), { m: 2, k: 2, n: 2 });
    expect(runs).toEqual(['a', 'b']);
    gemm.defer(() => runs.push('c'));
    gemm.loadPacked({ m: 2, k: 2, n: 2 }, () => undefined, new Float32Array(16));
    gemm.defer(() => runs.push('d'));
    gemm.workspace(64);
    gemm.defer(() => runs.push('e'));
    gemm.flushDeferred();
    gemm.flushDeferred();
    gemm.defer(() => runs.push('f'));
    // dispose runs them at once, before it awaits the worker (a caller that does not await it still gets them).
    const disposed = gemm.dispose();
    expect(runs).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    await disposed;
  });

  it('runs on the calling thread alone before the worker starts', () => {
    const gemm = createSharedGemm();
    const params = gemm.workspace(16);
    gemm.ints().fill(0, params / 4, params / 4 + 4);
    gemm.runTask({ id: 1, run: countChunk }, params, 4, moduleFor(gemm));
    expect(Array.from(gemm.ints().subarray(params / 4, params / 4 + 4))).toEqual([1, 1, 1, 1]);
    return gemm.dispose();
  });
});

describe('process lifetime', () => {
  const moduleUrl = pathToFileURL(fileURLToPath(new URL('./two-thread-gemm.ts', import.meta.url))).href;
  let dir: string;
  let scripts = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fitstream-gemm-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a script in a fresh Node (through tsx, on source) and returns its exit status and output. */
  function runScript(body: string): { status: number | null; output: string } {
    const file = join(dir, `script-${++scripts}.mts`);
    writeFileSync(file, `import { createTwoThreadGemm } from ${JSON.stringify(moduleUrl)};\n${body}\n`);
    const result = spawnSync(process.execPath, ['--conditions=@fitstream/source', '--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it('exits by itself with a live, un-disposed GEMM (the worker is unref\'d)', () => {
    const { status, output } = runScript(`
const gemm = await createTwoThreadGemm();
const c = gemm.matMul(new Float32Array(64 * 64).fill(1), new Float32Array(64 * 64).fill(2), { m: 64, k: 64, n: 64 });
console.log('c0', c[0]);`);
    expect(output).toContain('c0 128');
    expect(status).toBe(0);
  });

  it('leaves no handle and no thread after dispose', () => {
    const { status, output } = runScript(`
const gemm = await createTwoThreadGemm();
gemm.matMul(new Float32Array(9).fill(1), new Float32Array(9).fill(1), { m: 3, k: 3, n: 3 });
const running = gemm.workerRunning();
await gemm.dispose();
const handles = process.getActiveResourcesInfo().filter((r) => /Worker|Message/.test(r));
console.log('running', running, gemm.workerRunning(), 'handles', JSON.stringify(handles));`);
    expect(output).toContain('running true false handles []');
    expect(status).toBe(0);
  });
});
