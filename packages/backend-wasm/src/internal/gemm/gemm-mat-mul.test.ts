import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { expectNoLeak, float32Product, onBackend, randomTensor, relativeError, setUpWasmWithKernels, tf, type HostTensor } from '../../test-support/wasm-kernel-harness.js';
import { installWasmKernels, uninstallWasmKernels, wasmMatMulThreads } from '../install-wasm-kernels.js';
import { MIN_MULTIPLY_ADDS, splitOf } from './gemm-mat-mul.js';
import { heapGemmProducts } from './heap-gemm.js';

const TOLERANCE = 1e-5;

/**
 * [m, k, n] above the split's threshold: an MLP layer (split by columns), its weight gradient's shape (by rows when A
 * is transposed), and remainders of the 4×8 tiles.
 */
const SHAPES: Array<[number, number, number]> = [
  [64, 784, 256],
  [784, 64, 256],
  [64, 256, 256],
  [258, 257, 131],
  [257, 256, 129],
];
const TRANSPOSES: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

function operand(rows: number, cols: number, transposed: boolean, seed: number, leading: number[] = []): HostTensor {
  return randomTensor([...leading, ...(transposed ? [cols, rows] : [rows, cols])], seed);
}

const toTensor = (host: HostTensor): tf.Tensor => tf.tensor(host.values, host.shape);

async function onBoth<T extends tf.Tensor | tf.Tensor[]>(fn: () => T): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const out: tf.Tensor | tf.Tensor[] = fn();
      const tensors: tf.Tensor[] = Array.isArray(out) ? out : [out];
      return tensors.map((t) => t.dataSync() as Float32Array);
    });
  return { cpu: await onBackend('cpu', run), wasm: await onBackend('wasm', run) };
}

async function productsRun(fn: () => Promise<void>): Promise<number> {
  const before = (await wasmMatMulThreads()).products;
  await fn();
  return (await wasmMatMulThreads()).products - before;
}

describe('large matMuls on the own GEMM (ownGemm)', () => {
  beforeAll(async () => {
    await setUpWasmWithKernels();
  });
  afterAll(() => {
    uninstallWasmKernels(tf);
  });

  it(`runs on ${availableParallelism() >= 2 ? 'two threads' : 'one thread'} here once the worker is up (Node main thread)`, async () => {
    const report = await wasmMatMulThreads();
    expect(report.threads).toBe(availableParallelism() >= 2 ? 2 : 1);
  });

  it('splits by rows or columns, whichever copies less for the worker, gives the worker its share and leaves this thread at least one of either', () => {
    // An MLP layer X·W: all of X and 18 of W's 32 panels (WORKER_SHARE 0.56; rows would copy all of W).
    expect(splitOf({ m: 64, k: 784, n: 256, transposeA: false, transposeB: false }, 32)).toMatchObject({ byRows: false, first: 14 });
    // Its weight gradient Xᵀ·dY: 110 of X's 196 four-column tiles and all of dY's panels (columns would copy all of X and 784 rows of C).
    expect(splitOf({ m: 784, k: 64, n: 256, transposeA: true, transposeB: false }, 32)).toMatchObject({ byRows: true, first: 344 });
    // Rows start at a tile (4 rows); one panel leaves only rows, one row tile only columns, neither nothing.
    expect(splitOf({ m: 258, k: 300, n: 8, transposeA: false, transposeB: false }, 1)).toMatchObject({ byRows: true, first: 116 });
    expect(splitOf({ m: 3, k: 3000, n: 4000, transposeA: false, transposeB: true }, 500)).toMatchObject({ byRows: false, first: 220 });
    expect(splitOf({ m: 4, k: 3000, n: 8, transposeA: false, transposeB: false }, 1)).toBeUndefined();
  });

  for (const [m, k, n] of SHAPES) {
    for (const [transposeA, transposeB] of TRANSPOSES) {
      it(`BatchMatMul [${m},${k}]·[${k},${n}] transposeA=${transposeA} transposeB=${transposeB} equals the cpu kernel (2-D and [1, m, k])`, async () => {
        expect(m * k * n).toBeGreaterThanOrEqual(MIN_MULTIPLY_ADDS);
        for (const leading of [[], [1]]) {
          const a = operand(m, k, transposeA, m + k, leading);
          const b = operand(k, n, transposeB, k + n, leading);
          let results!: { cpu: Float32Array[]; wasm: Float32Array[] };
          const before = await wasmMatMulThreads();
          const ran = await productsRun(async () => {
            results = await onBoth(() => tf.matMul(toTensor(a), toTensor(b), transposeA, transposeB));
          });
          expect(ran).toBe(1);
          // Split between both threads where there are two (bit-identical to one thread: the order of each sum is the same).
          expect((await wasmMatMulThreads()).splitProducts - before.splitProducts).toBe(before.threads === 2 ? 1 : 0);
          expect(Array.from(results.wasm[0]!)).toEqual(Array.from(float32Product(a, b, transposeA, transposeB)));
          expect(relativeError(results.wasm[0]!, results.cpu[0]!)).toBeLessThan(TOLERANCE);
        }
      });
    }
  }

  for (const activation of ['relu', 'linear'] as const) {
    for (const withBias of [true, false]) {
      it(`_FusedMatMul with ${withBias ? 'a bias' : 'no bias'} and ${activation}, and its gradients, equal the cpu backend`, async () => {
        const x = randomTensor([64, 784], 1);
        const w = randomTensor([784, 256], 2);
        const bias = randomTensor([256], 3);
        const dy = randomTensor([64, 256], 4);
        let results!: { cpu: Float32Array[]; wasm: Float32Array[] };
        const ran = await productsRun(async () => {
          results = await onBoth(() => {
            const forward = (xs: tf.Tensor2D, ws: tf.Tensor2D, bs: tf.Tensor1D): tf.Tensor =>
              tf.fused.matMul({ a: xs, b: ws, activation, ...(withBias ? { bias: bs } : {}) });
            const bs = toTensor(bias) as tf.Tensor1D;
            const gradients = withBias
              ? tf.grads((xs: tf.Tensor, ws: tf.Tensor, b: tf.Tensor) => forward(xs as tf.Tensor2D, ws as tf.Tensor2D, b as tf.Tensor1D))([toTensor(x), toTensor(w), bs], toTensor(dy))
              : tf.grads((xs: tf.Tensor, ws: tf.Tensor) => forward(xs as tf.Tensor2D, ws as tf.Tensor2D, bs))([toTensor(x), toTensor(w)], toTensor(dy));
            return [forward(toTensor(x) as tf.Tensor2D, toTensor(w) as tf.Tensor2D, bs), ...gradients];
          });
        });
        // The forward product twice (once under the gradient tape), dx = dy·wᵀ and dw = xᵀ·dy.
        expect(ran).toBe(4);
        results.cpu.forEach((expected, i) => expect(relativeError(results.wasm[i]!, expected), `output ${i}`).toBeLessThan(TOLERANCE));
      });
    }
  }

  it('leaves other fused activations, PReLU, batched, small, short- and long-inner-dimension products to the other routes, still correct', async () => {
    const cases: Array<() => tf.Tensor> = [
      () => tf.fused.matMul({ a: toTensor(randomTensor([64, 784], 5)) as tf.Tensor2D, b: toTensor(randomTensor([784, 256], 6)) as tf.Tensor2D, activation: 'elu' }),
      () =>
        tf.fused.matMul({
          a: toTensor(randomTensor([64, 784], 7)) as tf.Tensor2D,
          b: toTensor(randomTensor([784, 256], 8)) as tf.Tensor2D,
          activation: 'prelu',
          preluActivationWeights: toTensor(randomTensor([256], 9)),
        }),
      () => tf.matMul(toTensor(randomTensor([2, 64, 784], 10)), toTensor(randomTensor([2, 784, 256], 11))),
      () => tf.matMul(toTensor(randomTensor([8, 64], 12)), toTensor(randomTensor([64, 16], 13))),
      // Large but a short inner dimension (an LSTM's input projection): the copies would be the cost.
      () => tf.matMul(toTensor(randomTensor([2048, 4], 21)), toTensor(randomTensor([4, 256], 22))),
      // A long inner dimension (an LSTM's hᵀ·dZ): one thread in place (heap-gemm.ts), which streams k from the cache.
      () => tf.matMul(toTensor(randomTensor([64, 2048], 23)), toTensor(randomTensor([2048, 256], 24))),
    ];
    for (const [i, make] of cases.entries()) {
      let results!: { cpu: Float32Array[]; wasm: Float32Array[] };
      const ran = await productsRun(async () => {
        results = await onBoth(make);
      });
      expect(ran, `case ${i}`).toBe(0);
      expect(relativeError(results.wasm[0]!, results.cpu[0]!), `case ${i}`).toBeLessThan(TOLERANCE);
    }
  });

  it('gives the same bits on every call (one thread or two: each element is summed in one order)', async () => {
    const a = randomTensor([64, 784], 14);
    const b = randomTensor([784, 256], 15);
    const first = await onBackend('wasm', () => tf.tidy(() => tf.matMul(toTensor(a), toTensor(b)).dataSync()));
    for (let i = 0; i < 20; i++) {
      const again = await onBackend('wasm', () => tf.tidy(() => tf.matMul(toTensor(a), toTensor(b)).dataSync()));
      expect(again).toEqual(first);
    }
  });

  it('does not leak tensors or heap buffers', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(randomTensor([64, 784], 16).values, [64, 784]) as tf.Tensor2D;
    const w = tf.tensor(randomTensor([784, 256], 17).values, [784, 256]) as tf.Tensor2D;
    const bias = tf.tensor(randomTensor([256], 18).values, [256]) as tf.Tensor1D;
    expectNoLeak(() => tf.fused.matMul({ a: x, b: w, bias, activation: 'relu' }).dispose(), 5);
    expectNoLeak(() => tf.matMul(x, x, true, false).dispose(), 5);
    expectNoLeak(() => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b).sum())([x, w])), 5);
    tf.dispose([x, w, bias]);
  });

  it('is off with ownGemm: false (XNNPACK serves every product) and back after a reinstall', async () => {
    uninstallWasmKernels(tf);
    installWasmKernels(tf, { ownGemm: false });
    expect((await wasmMatMulThreads()).threads).toBe(0);
    const a = randomTensor([64, 784], 19);
    const b = randomTensor([784, 256], 20);
    const inPlace = heapGemmProducts();
    const { cpu, wasm } = await onBoth(() => tf.matMul(toTensor(a), toTensor(b)));
    expect(relativeError(wasm[0]!, cpu[0]!)).toBeLessThan(TOLERANCE);
    // Not on the own GEMM's micro-kernel in place either.
    expect(heapGemmProducts()).toBe(inPlace);
    uninstallWasmKernels(tf);
    installWasmKernels(tf);
    expect((await wasmMatMulThreads()).threads).toBeGreaterThan(0);
  });
});
