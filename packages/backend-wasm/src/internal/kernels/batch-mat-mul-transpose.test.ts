import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoLeak,
  randomTensor,
  relativeError,
  runOnBoth,
  setUpWasmWithKernels,
  tf,
  WorstError,
} from '../../test-support/wasm-kernel-harness.js';

const TOLERANCE = 1e-4;
const worst = new WorstError();

/** [batchA, batchB, m, k, n]: batch dims broadcast (1 vs 3), and 1-wide operands take the reshape shortcut. */
const SHAPES: Array<[number[], number[], number, number, number]> = [
  [[], [], 7, 5, 9],
  [[3], [3], 4, 6, 5],
  [[1], [3], 4, 6, 5],
  [[2, 3], [2, 3], 3, 4, 2],
  [[], [], 1, 8, 6],
  [[], [], 6, 8, 1],
  [[], [], 33, 65, 17],
  // NT with fewer rows than columns goes through (b·aᵀ)ᵀ: 2-D, and tfjs' own [1, M, K] form of a 2-D matMul.
  [[1], [1], 5, 7, 12],
  [[], [], 2, 3, 64],
];
const TRANSPOSES: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

function operandShape(batch: number[], rows: number, cols: number, transposed: boolean): number[] {
  return [...batch, ...(transposed ? [cols, rows] : [rows, cols])];
}

const GRID = SHAPES.flatMap(([batchA, batchB, m, k, n]) =>
  TRANSPOSES.map(([transposeA, transposeB]) => ({
    a: operandShape(batchA, m, k, transposeA),
    b: operandShape(batchB, k, n, transposeB),
    transposeA,
    transposeB,
  })),
);

describe('transposed matMul on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`BatchMatMul/_FusedMatMul worst relative error: ${worst.toString()}`);
  });

  it.each(GRID.map((c) => [`a=[${c.a.join(',')}] b=[${c.b.join(',')}] tA=${c.transposeA} tB=${c.transposeB}`, c] as const))(
    'BatchMatMul matches the cpu kernel: %s',
    async (where, c) => {
      const a = randomTensor(c.a, 1);
      const b = randomTensor(c.b, 2);
      const attrs = { transposeA: c.transposeA, transposeB: c.transposeB };
      const { cpu, wasm } = await runOnBoth('BatchMatMul', { a, b }, attrs);
      expect(wasm.shape).toEqual(cpu.shape);
      expect(worst.record(relativeError(wasm.values, cpu.values), `BatchMatMul ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  const FUSED = (['linear', 'relu', 'prelu', 'leakyrelu', 'sigmoid'] as const).flatMap((activation) =>
    TRANSPOSES.flatMap(([transposeA, transposeB]) =>
      [1, 2].map((batchB) => ({ activation, transposeA, transposeB, batchB })),
    ),
  );
  it.each(FUSED.map((c) => [`${c.activation} tA=${c.transposeA} tB=${c.transposeB} bBatch=${c.batchB}`, c] as const))(
    '_FusedMatMul with bias and activation matches the cpu kernel: %s',
    async (where, c) => {
      const [m, k, n] = [6, 5, 7];
      // Batch 2 with a bias also covers the workaround for the original kernel's batched-bias bug.
      const a = randomTensor(operandShape([2], m, k, c.transposeA), 3);
      const b = randomTensor(operandShape([c.batchB], k, n, c.transposeB), 4);
      const bias = randomTensor([n], 5);
      const inputs = c.activation === 'prelu' ? { a, b, bias, preluActivationWeights: randomTensor([n], 6) } : { a, b, bias };
      const attrs = { transposeA: c.transposeA, transposeB: c.transposeB, activation: c.activation, leakyreluAlpha: 0.3 };
      const { cpu, wasm } = await runOnBoth('_FusedMatMul', inputs, attrs);
      expect(wasm.shape).toEqual(cpu.shape);
      expect(worst.record(relativeError(wasm.values, cpu.values), `_FusedMatMul ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  it('frees the materialised transposes', () => {
    const a = tf.tensor(randomTensor([2, 9, 4], 7).values, [2, 9, 4]);
    const b = tf.tensor(randomTensor([2, 5, 9], 8).values, [2, 5, 9]);
    const bias = tf.zeros([4]);
    const run = () =>
      tf.dispose([
        tf.engine().runKernel('BatchMatMul', { a, b }, { transposeA: true, transposeB: true }),
        tf.engine().runKernel('_FusedMatMul', { a, b, bias }, { transposeA: true, transposeB: true, activation: 'relu' }),
        tf.tidy(() => tf.matMul(tf.slice(a, [0, 0, 0], [1, 3, 4]).reshape([3, 4]), tf.slice(a, [1, 0, 0], [1, 9, 4]).reshape([9, 4]), false, true)),
      ] as tf.Tensor[]);
    expectNoLeak(run, 5);
    tf.dispose([a, b, bias]);
  });
});
