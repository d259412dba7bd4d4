import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, float32Product, randomTensor, relativeError, runOnBoth, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';
import { narrowMatMulBytes } from './narrow-mat-mul.js';

const TOLERANCE = 1e-5;

type Case = readonly [string, number[], number[], boolean, boolean];

const CASES: Case[] = [
  ['Xᵀ·dY: the small CNN\'s last-layer weight gradient (3136 × 64 × 10)', [64, 3136], [64, 10], true, false],
  ['odd rows, 1 column', [2048, 33], [2048, 1], true, false],
  ['3 columns, B transposed', [4000, 17], [3, 4000], true, true],
  ['13 columns, both transposed, odd rows', [700, 31], [13, 700], true, true],
  ['16 columns, a 3-D product of one batch', [1, 2000, 40], [1, 2000, 16], true, false],
  ['5 columns', [512, 129], [512, 5], true, false],
];

describe('narrow products (N ≤ 16) on wasm', () => {
  beforeAll(setUpWasmWithKernels);

  it('is valid WebAssembly (shared and unshared memory)', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(narrowMatMulBytes(false))).toBe(true);
    expect(wasm.validate(narrowMatMulBytes(true))).toBe(true);
  });

  it.each(CASES)('sums in float32 in k order and matches the cpu kernel: %s', async (_, aShape, bShape, transposeA, transposeB) => {
    const a = randomTensor(aShape, 1);
    const b = randomTensor(bShape, 2);
    const { cpu, wasm } = await runOnBoth('BatchMatMul', { a, b }, { transposeA, transposeB });
    expect(wasm.shape).toEqual(cpu.shape);
    // Bit for bit the float32 k-order sums: the narrow loop ran (XNNPACK blocks k differently).
    expect(Array.from(wasm.values)).toEqual(Array.from(float32Product(a, b, transposeA, transposeB)));
    expect(relativeError(wasm.values, cpu.values)).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each([
    ['linear', 'linear'],
    ['relu', 'relu'],
  ] as const)('adds _FusedMatMul\'s bias and applies %s', async (_, activation) => {
    const a = randomTensor([3136, 64], 3);
    const b = randomTensor([3136, 10], 4);
    const bias = randomTensor([10], 5);
    const { cpu, wasm } = await runOnBoth('_FusedMatMul', { a, b, bias }, { transposeA: true, transposeB: false, activation });
    expect(relativeError(wasm.values, cpu.values)).toBeLessThanOrEqual(TOLERANCE);
    const expected = float32Product(a, b, true, false).map((v, i) => {
      const withBias = Math.fround(v + (bias.values[i % 10] ?? 0));
      return activation === 'relu' && withBias < 0 ? 0 : withBias;
    });
    expect(Array.from(wasm.values)).toEqual(Array.from(expected));
  });

  it.each([
    ['17 columns', [3136, 64], [3136, 17], true],
    ['a small product (64 × 64 × 10)', [64, 64], [64, 10], true],
    ['a batch of 2', [2, 2000, 40], [2, 2000, 10], true],
    ['A not transposed (X·W: the in-place GEMM)', [64, 3136], [3136, 10], false],
  ] as const)('leaves other products to the other routes, still correct: %s', async (_, aShape, bShape, transposeA) => {
    const { cpu, wasm } = await runOnBoth('BatchMatMul', { a: randomTensor([...aShape], 6), b: randomTensor([...bShape], 7) }, { transposeA, transposeB: false });
    expect(relativeError(wasm.values, cpu.values)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('frees its padded copies', () => {
    const a = tf.tensor(randomTensor([64, 3136], 8).values, [64, 3136]);
    const b = tf.tensor(randomTensor([3136, 10], 9).values, [3136, 10]);
    const dy = tf.ones([64, 10]);
    expectNoLeak(() => tf.matMul(a, dy, true, false).dispose(), 5);
    tf.dispose([a, b, dy]);
  });

  it('trains a dense 3136 → 10 layer: its gradients through tf.grad match the cpu backend', async () => {
    const x = randomTensor([32, 3136], 10);
    const w = randomTensor([3136, 10], 11);
    const grads = (): Float32Array[] =>
      tf.tidy(() => {
        const f = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b).square().sum());
        return f([tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)]).map((t) => t.dataSync() as Float32Array);
      });
    await tf.setBackend('cpu');
    const expected = grads();
    await tf.setBackend('wasm');
    const actual = grads();
    expect(relativeError(actual[0]!, expected[0]!)).toBeLessThanOrEqual(1e-4);
    expect(relativeError(actual[1]!, expected[1]!)).toBeLessThanOrEqual(1e-4);
  });
});
