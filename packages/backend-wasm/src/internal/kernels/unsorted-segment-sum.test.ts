import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoLeak,
  onBackend,
  randomTensor,
  randomValues,
  relativeError,
  runKernelOnHost,
  runOnBoth,
  setUpWasmWithKernels,
  tf,
  type HostTensor,
  WorstError,
} from '../../test-support/wasm-kernel-harness.js';

const TOLERANCE = 1e-4;
const worst = new WorstError();

/** Segment ids in [-2, numSegments + 2): includes ids the kernel must drop. */
function segmentIds(shape: number[], numSegments: number, seed: number): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = Int32Array.from(randomValues(size, seed), (u) => Math.floor(((u + 1) / 2) * (numSegments + 4)) - 2);
  return { values, shape, dtype: 'int32' };
}

const CASES: Array<{ x: number[]; ids: number[]; numSegments: number }> = [
  { x: [20, 8], ids: [20], numSegments: 6 },
  { x: [64, 1], ids: [64], numSegments: 100 },
  { x: [5, 3, 4], ids: [5], numSegments: 3 },
  { x: [4, 6, 5], ids: [4, 6], numSegments: 7 },
  { x: [300, 16], ids: [300], numSegments: 1 },
  { x: [0, 4], ids: [0], numSegments: 5 },
];

describe('UnsortedSegmentSum on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`UnsortedSegmentSum worst relative error: ${worst.toString()}`);
  });

  it.each(CASES.map((c) => [`x=[${c.x.join(',')}] ids=[${c.ids.join(',')}] n=${c.numSegments}`, c] as const))(
    'matches the cpu kernel: %s',
    async (where, c) => {
      const x = randomTensor(c.x, 1);
      const ids = segmentIds(c.ids, c.numSegments, 2);
      const attrs = { numSegments: c.numSegments };
      const wasm = await onBackend('wasm', () => runKernelOnHost('UnsortedSegmentSum', { x, segmentIds: ids }, attrs));
      // tfjs' cpu kernel mis-broadcasts multi-dimensional ids, so the reference flattens the id dims, which is
      // equivalent by definition.
      const rows = ids.values.length;
      const flatX = { values: x.values, shape: [rows, ...c.x.slice(c.ids.length)] };
      const flatIds = { ...ids, shape: [rows] };
      const cpu = await onBackend('cpu', () => runKernelOnHost('UnsortedSegmentSum', { x: flatX, segmentIds: flatIds }, attrs));
      expect(wasm.shape).toEqual([c.numSegments, ...c.x.slice(c.ids.length)]);
      expect(worst.record(relativeError(wasm.values, cpu.values), where)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  it('sums int32 data exactly', async () => {
    const x: HostTensor = { values: Int32Array.from({ length: 24 }, (_, i) => i - 7), shape: [12, 2], dtype: 'int32' };
    const ids = segmentIds([12], 4, 3);
    const { cpu, wasm } = await runOnBoth('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 4 });
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });

  it('gives the same embedding (gather) gradient through tf.grad as the cpu backend', async () => {
    const table = randomTensor([50, 8], 4);
    const indices = Int32Array.from(randomValues(64, 5), (u) => Math.floor(((u + 1) / 2) * 50));
    const grad = () =>
      tf.tidy(() =>
        tf
          .grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d(indices, 'int32')).square().sum())(
            tf.tensor(table.values, table.shape),
          )
          .dataSync(),
      );
    const cpu = await onBackend('cpu', grad);
    const wasm = await onBackend('wasm', grad);
    expect(worst.record(relativeError(wasm, cpu), 'tf.grad gather')).toBeLessThanOrEqual(TOLERANCE);
  });

  it('rejects invalid attributes with a clear error', () => {
    const x = tf.ones([4, 2]);
    const ids = tf.tensor1d([0, 1, 0, 1], 'int32');
    expect(() => tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 1.5 })).toThrow(
      /numSegments must be a non-negative integer/,
    );
    expect(() =>
      tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: tf.tensor1d([0, 1], 'int32') }, { numSegments: 2 }),
    ).toThrow(/must be a prefix/);
    tf.disposeVariables();
    tf.dispose([x, ids]);
  });

  it('allocates only its output', () => {
    const x = tf.ones([40, 3]);
    const ids = tf.tensor1d(Int32Array.from({ length: 40 }, (_, i) => i % 7), 'int32');
    const run = () => tf.engine().runKernel<tf.Tensor>('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 7 }).dispose();
    expectNoLeak(run, 5);
    tf.dispose([x, ids]);
  });
});
