import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, float32Product, randomTensor, relativeError, runOnBoth, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';
import { heapGemmBytes, heapGemmProducts, MIN_INNER_AS_STORED } from './heap-gemm.js';

const TOLERANCE = 1e-5;

/** [label, a's shape, b's shape, transposeA, transposeB] */
type Case = readonly [string, number[], number[], boolean, boolean];

const IN_PLACE: Case[] = [
  ['dX = dY·Wᵀ of a classifier\'s last layer (64 × 10 × 256)', [64, 10], [256, 10], false, true],
  ['the small CNN\'s dense input gradient (64 × 10 × 3136)', [1, 64, 10], [1, 3136, 10], false, true],
  ['the small CNN\'s dense layer X·W (64 × 3136 × 10)', [64, 3136], [3136, 10], false, false],
  ['Aᵀ·B with a wide result (odd rows, 37 columns)', [50, 33], [50, 37], true, false],
  ['both transposed, rows and columns off the tile (5 × 7 × 9)', [7, 5], [9, 7], true, true],
  ['one row, one column, one k', [1, 1], [1, 1], false, true],
  ['a plain product at the inner-dimension bound', [13, MIN_INNER_AS_STORED], [MIN_INNER_AS_STORED, 19], false, false],
];

describe('products on the own GEMM in place on the tfjs heap', () => {
  beforeAll(setUpWasmWithKernels);

  it('is valid WebAssembly (shared and unshared memory)', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(heapGemmBytes(false))).toBe(true);
    expect(wasm.validate(heapGemmBytes(true))).toBe(true);
  });

  it.each(IN_PLACE)('runs here, sums in float32 in k order and matches the cpu kernel: %s', async (_, aShape, bShape, transposeA, transposeB) => {
    const a = randomTensor(aShape, 1);
    const b = randomTensor(bShape, 2);
    const before = heapGemmProducts();
    const { cpu, wasm } = await runOnBoth('BatchMatMul', { a, b }, { transposeA, transposeB });
    expect(heapGemmProducts()).toBe(before + 1);
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(float32Product(a, b, transposeA, transposeB)));
    expect(relativeError(wasm.values, cpu.values)).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each([
    ['linear, 19 columns (the loop)', 'linear', false, 19],
    ['relu, 19 columns', 'relu', false, 19],
    ['relu, B transposed', 'relu', true, 19],
    ['linear, 20 columns (the SIMD pass)', 'linear', false, 20],
    ['relu, 20 columns (the SIMD pass)', 'relu', false, 20],
  ] as const)('adds _FusedMatMul\'s bias and applies the activation: %s', async (_, activation, transposeB, n) => {
    const a = randomTensor([21, 300], 3);
    const b = randomTensor(transposeB ? [n, 300] : [300, n], 4);
    const bias = randomTensor([n], 5);
    const before = heapGemmProducts();
    const { cpu, wasm } = await runOnBoth('_FusedMatMul', { a, b, bias }, { transposeA: false, transposeB, activation });
    expect(heapGemmProducts()).toBe(before + 1);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThanOrEqual(TOLERANCE);
    const expected = float32Product(a, b, false, transposeB).map((v, i) => {
      const withBias = Math.fround(v + (bias.values[i % n] ?? 0));
      return activation === 'relu' && withBias < 0 ? 0 : withBias;
    });
    expect(Array.from(wasm.values)).toEqual(Array.from(expected));
  });

  it.each([
    ['a plain product with a short inner dimension (XNNPACK)', 'BatchMatMul', [2048, 4], [4, 256], {}],
    ['a batch of 2', 'BatchMatMul', [2, 30, 40], [2, 50, 40], { transposeB: true }],
    ['a PReLU activation', '_FusedMatMul', [1, 30, 40], [1, 50, 40], { transposeB: true, activation: 'prelu' }],
  ] as const)('leaves other products to the other routes, still correct: %s', async (_, kernel, aShape, bShape, attrs) => {
    const inputs: Record<string, ReturnType<typeof randomTensor>> = { a: randomTensor([...aShape], 6), b: randomTensor([...bShape], 7) };
    if (kernel === '_FusedMatMul') {
      inputs['bias'] = randomTensor([50], 8);
      inputs['preluActivationWeights'] = randomTensor([50], 9);
    }
    const before = heapGemmProducts();
    const { cpu, wasm } = await runOnBoth(kernel, inputs, { transposeA: false, transposeB: false, ...attrs });
    expect(heapGemmProducts()).toBe(before);
    expect(relativeError(wasm.values, cpu.values)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('matches the cpu backend through tf.matMul\'s gradients and holds no tensor across calls', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d(randomTensor([16, 40], 9).values, [16, 40]);
    const w = tf.tensor2d(randomTensor([40, 12], 10).values, [40, 12]);
    const grads = (): tf.Tensor[] => tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D).square().sum())([x, w]);
    const before = heapGemmProducts();
    const wasmGrads = grads();
    // dX = dY·Wᵀ and dW = Xᵀ·dY: both transposed products run here (the forward X·W too: k = 40).
    expect(heapGemmProducts() - before).toBe(3);
    const wasmValues = await Promise.all(wasmGrads.map((g) => g.data()));
    tf.dispose(wasmGrads);
    expectNoLeak(() => tf.dispose(grads()), 3);
    await tf.setBackend('cpu');
    const cx = tf.tensor2d(await x.data(), [16, 40]);
    const cw = tf.tensor2d(await w.data(), [40, 12]);
    const cpuGrads = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D).square().sum())([cx, cw]);
    const cpuValues = await Promise.all(cpuGrads.map((g) => g.data()));
    tf.dispose([...cpuGrads, cx, cw]);
    await tf.setBackend('wasm');
    tf.dispose([x, w]);
    wasmValues.forEach((values, i) => expect(relativeError(values, cpuValues[i]!)).toBeLessThanOrEqual(TOLERANCE));
  });
});
