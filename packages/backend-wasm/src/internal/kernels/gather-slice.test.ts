import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendDataIds, type HostTensor, onBackend, randomTensor, runKernelOnHost, runOnBoth, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';
import { installCpuKernels, uninstallCpuKernels } from '../install-cpu-kernels.js';

const ints = (values: number[], shape: number[]): HostTensor => ({ values: Int32Array.from(values), shape, dtype: 'int32' });

/** Gathers without batch dimensions: name, x's shape, the indices' shape, axis, seed. */
const GATHERS = [
  ['axis 0, rows of 784 (a batch)', [100, 784], [64], 0, 11],
  ['axis 0, short rows', [30, 3], [7], 0, 12],
  ['axis 0, rank-3 rows', [10, 4, 5], [6], 0, 13],
  ['axis 1', [4, 9, 5], [3], 1, 14],
  ['last axis', [3, 4, 50], [8], 2, 15],
  ['negative axis', [3, 40, 2], [5], -2, 16],
  ['2-D indices (embedding)', [20, 4], [3, 6], 0, 17],
  ['repeated indices', [5, 40], [8], 0, 18],
  ['empty indices', [5, 40], [0], 0, 19],
] as const;

/** Gathers with batch dimensions: name, x's shape, the indices' shape, axis, batchDims. */
const BATCHED_GATHERS = [
  ['batchDims 1, axis 1 (wrong rows on stock wasm 4.22)', [2, 5, 3], [2, 3], 1, 1],
  ['batchDims 1, axis 2', [2, 3, 6, 4], [2, 5], 2, 1],
  ['batchDims 2, axis 2, short rows', [2, 3, 6], [2, 3, 4], 2, 2],
] as const;

/** The inputs and attributes of one case of {@link GATHERS}. */
function gatherCase(xShape: readonly number[], idShape: readonly number[], axis: number, seed: number) {
  const dim = xShape[axis < 0 ? xShape.length + axis : axis]!;
  const count = idShape.reduce((a, b) => a * b, 1);
  return {
    inputs: { x: randomTensor([...xShape], seed), indices: ints(Array.from({ length: count }, (_, i) => (i * 7 + seed) % dim), [...idShape]) },
    attrs: { axis, batchDims: 0 },
  };
}

/** The inputs and attributes of one case of {@link BATCHED_GATHERS}. */
function batchedGatherCase(xShape: readonly number[], idShape: readonly number[], axis: number, batchDims: number) {
  const count = idShape.reduce((a, b) => a * b, 1);
  return {
    inputs: { x: randomTensor([...xShape], 21), indices: ints(Array.from({ length: count }, (_, i) => (i * 5 + 3) % xShape[axis]!), [...idShape]) },
    attrs: { axis, batchDims },
  };
}

describe('GatherV2 on wasm (heap row copies)', () => {
  beforeAll(setUpWasmWithKernels);

  it.each(GATHERS)('%s: equals the cpu backend exactly', async (_name, xShape, idShape, axis, seed) => {
    const { inputs, attrs } = gatherCase(xShape, idShape, axis, seed);
    const { cpu, wasm } = await runOnBoth('GatherV2', inputs, attrs);
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });

  it.each(['int32', 'bool'] as const)('gathers %s tensors', async (dtype) => {
    const values = Int32Array.from({ length: 24 }, (_, i) => (dtype === 'bool' ? i % 3 === 0 ? 1 : 0 : i * 3 - 20));
    const result = await onBackend('wasm', () =>
      tf.tidy(() => {
        const x = tf.tensor(values, [6, 4], dtype);
        return tf.gather(x, tf.tensor1d([5, 0, 2], 'int32')).dataSync();
      }),
    );
    expect(Array.from(result)).toEqual([...values.slice(20, 24), ...values.slice(0, 4), ...values.slice(8, 12)]);
  });

  it('rejects an out-of-range index with a clear error and leaks nothing', async () => {
    await onBackend('wasm', () => {
      const before = backendDataIds();
      const x = tf.zeros([10, 3]);
      const ids = tf.tensor1d([1, 10, 2], 'int32');
      expect(() => tf.gather(x, ids)).toThrow(/GatherV2: index 10 at position 1 of the indices is out of range \[0, 10\) for axis 0/);
      expect(() => tf.gather(x, tf.tensor1d([-1], 'int32'))).toThrow(/index -1 at position 0/);
      tf.dispose([x, ids]);
      expect(backendDataIds()).toBe(before + 1); // the second indices tensor, created inline above
    });
  });

  it.each(BATCHED_GATHERS)('%s: equals the cpu backend exactly', async (_name, xShape, idShape, axis, batchDims) => {
    const { inputs, attrs } = batchedGatherCase(xShape, idShape, axis, batchDims);
    const { cpu, wasm } = await runOnBoth('GatherV2', inputs, attrs);
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });

  it('allocates only its output: numDataIds is flat over 50 gathers', async () => {
    await onBackend('wasm', () => {
      const x = tf.randomNormal([256, 784]);
      const ids = tf.tensor1d(Array.from({ length: 64 }, (_, i) => (i * 37) % 256), 'int32');
      const before = backendDataIds();
      for (let i = 0; i < 50; i++) tf.gather(x, ids).dispose();
      expect(backendDataIds()).toBe(before);
      tf.dispose([x, ids]);
    });
  });
});

describe('GatherV2 on cpu (row copies, installCpuKernels)', () => {
  let stockGather: tf.KernelConfig | undefined;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    stockGather = tf.getKernel('GatherV2', 'cpu');
  });
  afterAll(() => {
    uninstallCpuKernels(tf);
  });

  /** The stock cpu kernel's output, then ours, for the same inputs. */
  function stockAndOurs(inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap) {
    uninstallCpuKernels(tf);
    const stock = runKernelOnHost('GatherV2', inputs, attrs);
    installCpuKernels(tf, { optimizerUpdates: false });
    expect(tf.getKernel('GatherV2', 'cpu')?.kernelFunc).not.toBe(stockGather?.kernelFunc);
    return { stock, ours: runKernelOnHost('GatherV2', inputs, attrs) };
  }

  it.each(GATHERS)('%s: equals the stock cpu kernel exactly', (_name, xShape, idShape, axis, seed) => {
    const { inputs, attrs } = gatherCase(xShape, idShape, axis, seed);
    const { stock, ours } = stockAndOurs(inputs, attrs);
    expect(ours.shape).toEqual(stock.shape);
    expect(Array.from(ours.values)).toEqual(Array.from(stock.values));
  });

  it.each(BATCHED_GATHERS)('%s: equals the stock cpu kernel exactly', (_name, xShape, idShape, axis, batchDims) => {
    const { inputs, attrs } = batchedGatherCase(xShape, idShape, axis, batchDims);
    const { stock, ours } = stockAndOurs(inputs, attrs);
    expect(ours.shape).toEqual(stock.shape);
    expect(Array.from(ours.values)).toEqual(Array.from(stock.values));
  });

  it('gathers int32 and bool tensors, and leaves strings to the stock kernel', () => {
    installCpuKernels(tf, { optimizerUpdates: false });
    const out = tf.tidy(() => {
      const ids = tf.tensor1d([2, 0], 'int32');
      return {
        ints: Array.from(tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), ids).dataSync()),
        bools: Array.from(tf.gather(tf.tensor1d([1, 0, 0], 'bool'), ids).dataSync()),
        // tf.gather refuses strings; the kernel (which tfjs' own ops reach with them) hands them to the stock one.
        strings: tf.engine().runKernel<tf.Tensor>('GatherV2', { x: tf.tensor1d(['a', 'b', 'c']), indices: ids }, { axis: 0, batchDims: 0 }).dataSync() as unknown as string[],
      };
    });
    expect(out).toEqual({ ints: [5, 6, 1, 2], bools: [0, 1], strings: ['c', 'a'] });
  });

  it('rejects an out-of-range index with a clear error, and allocates only its output', () => {
    installCpuKernels(tf, { optimizerUpdates: false });
    const x = tf.randomNormal([256, 784]);
    const ids = tf.tensor1d(Array.from({ length: 64 }, (_, i) => (i * 37) % 256), 'int32');
    const bad = tf.tensor1d([1, 256], 'int32');
    const before = backendDataIds();
    expect(() => tf.gather(x, bad)).toThrow(/GatherV2: index 256 at position 1 of the indices is out of range \[0, 256\) for axis 0/);
    for (let i = 0; i < 50; i++) tf.gather(x, ids).dispose();
    expect(backendDataIds()).toBe(before);
    tf.dispose([x, ids, bad]);
  });
});

describe('Slice on wasm (heap views, no whole-tensor copy)', () => {
  beforeAll(setUpWasmWithKernels);

  it.each([
    ['leading-axis batch (contiguous)', [100, 784], [64, 0], [36, 784]],
    ['size -1 to the end', [10, 6], [3, 0], [-1, -1]],
    ['rank 1', [50], [7], [20]],
    ['inner axis (strided)', [8, 10], [1, 2], [5, 6]],
    ['rank 3, middle axis', [4, 6, 5], [1, 2, 0], [2, 3, 5]],
    ['rank 4, every axis', [3, 5, 4, 6], [1, 1, 2, 3], [2, 3, 2, 2]],
    ['rank 5', [2, 3, 2, 3, 4], [1, 0, 1, 1, 1], [1, 3, 1, 2, 3]],
    ['empty', [4, 5], [2, 0], [0, 5]],
  ] as const)('%s: equals the cpu backend exactly', async (_name, shape, begin, size) => {
    const x = randomTensor([...shape], 31);
    const { cpu, wasm } = await runOnBoth('Slice', { x }, { begin: [...begin], size: [...size] });
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });

  it('slices int32 and bool, and leaves string tensors to the stock kernel', async () => {
    const out = await onBackend('wasm', () =>
      tf.tidy(() => ({
        ints: Array.from(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32').slice([1, 0], [2, 1]).dataSync()),
        bools: Array.from(tf.tensor1d([1, 0, 1, 1], 'bool').slice(1, 2).dataSync()),
        strings: tf.tensor1d(['a', 'b', 'c']).slice(1, 2).dataSync() as unknown as string[],
      })),
    );
    expect(out).toEqual({ ints: [3, 5], bools: [0, 1], strings: ['b', 'c'] });
  });

  it('rejects a slice beyond the tensor and frees everything', async () => {
    await onBackend('wasm', () => {
      const before = backendDataIds();
      const x = tf.zeros([4, 3]);
      expect(() => tf.engine().runKernel('Slice', { x }, { begin: [3, 0], size: [2, 3] })).toThrow(/exceeds x of shape \[4,3\]/);
      x.dispose();
      expect(backendDataIds()).toBe(before);
    });
  });

  it('a kernel call leaves only its output behind', () => {
    const before = backendDataIds();
    const out = runKernelOnHost('Slice', { x: randomTensor([20, 30], 3) }, { begin: [2, 3], size: [5, 7] });
    expect(out.shape).toEqual([5, 7]);
    expect(backendDataIds()).toBe(before);
  });
});
