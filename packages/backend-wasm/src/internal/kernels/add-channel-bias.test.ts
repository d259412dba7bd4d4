import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, randomTensor, runOnBoth, setUpWasmWithKernels, tf, type HostTensor } from '../../test-support/wasm-kernel-harness.js';
import { createAddKernel } from './add-channel-bias.js';

/** [a shape, b shape, whether the SIMD row add takes it]. */
const CASES: Array<readonly [string, number[], number[], boolean]> = [
  ['conv bias [B,H,W,C] + [C]', [4, 7, 5, 16], [16], true],
  ['bias first: [C] + [B,H,W,C]', [8], [3, 6, 6, 8], true],
  ['bias with leading 1s [1,1,C]', [5, 3, 4], [1, 1, 4], true],
  ['dense bias [B,C] + [C]', [64, 12], [12], true],
  ['channels not a multiple of 4 (stock)', [6, 5, 10], [10], false],
  ['equal shapes (stock)', [6, 8], [6, 8], false],
  ['other broadcast [B,1] (stock)', [6, 8], [6, 1], false],
  ['bias of higher rank than x (stock)', [2, 8], [1, 1, 1, 8], false],
  ['one row (stock)', [1, 8], [8], false],
];

/** Adds `a` and `b` through a kernel made with a counting stock kernel; returns the values and whether the stock one ran. */
function runDirect(a: HostTensor, b: HostTensor): { values: Float32Array; stock: boolean } {
  let stock = false;
  // The registered Add (ours, which declines the same inputs and hands them to the stock kernel).
  const original = tf.getKernel('Add', 'wasm')!.kernelFunc;
  const counting: KernelFunc = (args) => ((stock = true), original(args));
  const kernel = createAddKernel(counting);
  return tf.tidy(() => {
    const [ta, tb] = [tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape)];
    const info = kernel({ inputs: { a: ta, b: tb }, backend: tf.backend(), attrs: {} }) as TensorInfo;
    const out = tf.engine().makeTensorFromTensorInfo(info);
    return { values: out.dataSync() as Float32Array, stock };
  });
}

describe('Add of a channel bias on wasm', () => {
  beforeAll(setUpWasmWithKernels);

  it.each(CASES)('%s: bit for bit the cpu backend, on the expected path', async (_where, aShape, bShape, simd) => {
    const a = randomTensor(aShape, 3);
    const b = randomTensor(bShape, 4);
    const { cpu, wasm } = await runOnBoth('Add', { a, b }, {});
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
    expect(runDirect(a, b).stock).toBe(!simd);
  });

  it('keeps IEEE special values: ±∞, NaN, −0 and the largest finite floats overflowing to ∞', async () => {
    const x: HostTensor = { values: new Float32Array([Infinity, -Infinity, NaN, -0, 1, 3.4e38, 1, 2]), shape: [2, 4] };
    const bias: HostTensor = { values: new Float32Array([-Infinity, 3.4e38, 0, -0]), shape: [4] };
    const { cpu, wasm } = await runOnBoth('Add', { a: x, b: bias }, {});
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
    const direct = runDirect(x, bias);
    expect(direct.stock).toBe(false);
    // One float32 addition per element (a sum of two floats rounds the same from double): ∞ + −∞ = NaN, −0 + −0 = −0,
    // 3.4e38 + 3.4e38 overflows to ∞.
    const expected = Float32Array.from(x.values, (v, i) => v + bias.values[i % 4]!);
    expect(Array.from(direct.values)).toEqual(Array.from(expected));
    expect(Object.is(direct.values[3], -0)).toBe(true);
    expect(Number.isNaN(direct.values[0])).toBe(true);
    expect(direct.values[5]).toBe(Infinity);
  });

  it('adds int32 tensors with the stock kernel', () => {
    const values = tf.tidy(() => Array.from(tf.add(tf.tensor([[1, 2, 3, 4], [5, 6, 7, 8]], [2, 4], 'int32'), tf.tensor([1, 1, 1, 1], [4], 'int32')).dataSync()));
    expect(values).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('frees nothing it should keep and keeps nothing it should free', () => {
    const x = tf.randomNormal([8, 3, 3, 16]);
    const bias = tf.randomNormal([16]);
    expectNoLeak(() => tf.tidy(() => tf.add(x, bias).dataSync()), 3);
    tf.dispose([x, bias]);
  });

  it('leaves the stock kernel in place when the group is off (installed through broadcastKernels)', async () => {
    const { installWasmKernels, uninstallWasmKernels } = await import('../../index.js');
    const ours = tf.getKernel('Add', 'wasm')!.kernelFunc;
    uninstallWasmKernels(tf);
    installWasmKernels(tf, { broadcastKernels: false });
    expect(tf.getKernel('Add', 'wasm')!.kernelFunc).not.toBe(ours);
    uninstallWasmKernels(tf);
    installWasmKernels(tf);
  });
});
