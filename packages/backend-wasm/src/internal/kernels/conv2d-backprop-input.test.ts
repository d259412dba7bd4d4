import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConv2DBackpropInputKernel } from './conv2d-backprop-input.js';
import { resolveKernelTable } from './wasm-kernel-scope.js';
import {
  expectNoLeak,
  geometry,
  onBackend,
  randomTensor,
  relativeError,
  runKernelOnHost,
  runOnBoth,
  setUpWasmWithKernels,
  tf,
  WorstError,
} from '../../test-support/wasm-kernel-harness.js';

const TOLERANCE = 1e-4;
const worst = new WorstError();

type Pad = 'same' | 'valid' | Array<[number, number]>;

interface Case {
  readonly x: [number, number, number, number];
  readonly filter: [number, number, number, number];
  readonly strides: number | [number, number];
  readonly pad: Pad;
}

const SHAPES: Array<Pick<Case, 'x' | 'filter'>> = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 4] },
  { x: [3, 9, 8, 1], filter: [2, 4, 1, 5] },
  { x: [1, 10, 11, 2], filter: [5, 5, 2, 3] },
  { x: [2, 5, 5, 4], filter: [1, 1, 4, 2] },
];
const PADS: Pad[] = [
  'same',
  'valid',
  [
    [0, 0],
    [1, 2],
    [0, 1],
    [0, 0],
  ],
  // Padding wider than the filter: the fast path must crop dy instead of padding it.
  [
    [0, 0],
    [4, 0],
    [0, 5],
    [0, 0],
  ],
];
const STRIDES: Array<number | [number, number]> = [1, 2, [2, 3]];
const GRID: Case[] = SHAPES.flatMap((s) => STRIDES.flatMap((strides) => PADS.map((pad) => ({ ...s, strides, pad }))));

function label(c: Case): string {
  return `x=[${c.x.join(',')}] f=[${c.filter.join(',')}] s=${JSON.stringify(c.strides)} pad=${JSON.stringify(c.pad)}`;
}

function dyShape(c: Case): number[] {
  const g = geometry(c.x, c.filter, { strides: c.strides, pad: c.pad }, false);
  return [g.batch, g.outHeight, g.outWidth, g.outChannels];
}

describe('Conv2DBackpropInput on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`Conv2DBackpropInput worst relative error: ${worst.toString()}`);
  });

  it.each(GRID.map((c) => [label(c), c] as const))('matches the cpu kernel: %s', async (where, c) => {
    const dy = randomTensor(dyShape(c), 1);
    const filter = randomTensor(c.filter, 2);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
    const { cpu, wasm } = await runOnBoth('Conv2DBackpropInput', { dy, filter }, attrs);
    expect(wasm.shape).toEqual(c.x);
    expect(worst.record(relativeError(wasm.values, cpu.values), where)).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each(GRID.filter((c) => c.strides !== 1).map((c) => [label(c), c] as const))(
    'the zero-upsampling path (forced for every channel count) matches the cpu kernel: %s',
    async (where, c) => {
      const dy = randomTensor(dyShape(c), 3);
      const filter = randomTensor(c.filter, 4);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
      const cpu = await onBackend('cpu', () => runKernelOnHost('Conv2DBackpropInput', { dy, filter }, attrs));
      const native = tf.getKernel('Conv2DBackpropInput', 'wasm').kernelFunc;
      const upsampling = createConv2DBackpropInputKernel(tf, resolveKernelTable(tf), native, { minInChannelsForStrided: 1 });
      const backend = tf.findBackend('wasm');
      const actual = tf.tidy(() => {
        const dyT = tf.tensor(dy.values, dy.shape);
        const filterT = tf.tensor(filter.values, filter.shape);
        const info = upsampling({ inputs: { dy: dyT, filter: filterT }, backend, attrs });
        if (Array.isArray(info)) throw new Error('expected one output');
        return tf.engine().makeTensorFromTensorInfo(info).dataSync();
      });
      expect(worst.record(relativeError(actual, cpu.values), `upsampled ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  it('supports NCHW data (native fallback)', async () => {
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', inputShape: [2, 3, 6, 5] };
    const dy = randomTensor([2, 4, 6, 5], 5);
    const filter = randomTensor([3, 3, 3, 4], 6);
    const { cpu, wasm } = await runOnBoth('Conv2DBackpropInput', { dy, filter }, attrs);
    expect(worst.record(relativeError(wasm.values, cpu.values), 'NCHW')).toBeLessThanOrEqual(TOLERANCE);
  });

  it('gives the same conv2dTranspose gradients through tf.grad as the cpu backend', async () => {
    const x = randomTensor([2, 5, 5, 4], 7);
    const w = randomTensor([3, 3, 6, 4], 8);
    const grads = () =>
      tf.tidy(() =>
        tf
          .grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 5, 5, 6], 1, 'same').square().sum(),
          )([tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)])
          .map((t) => t.dataSync() as Float32Array),
      );
    const cpu = await onBackend('cpu', grads);
    const wasm = await onBackend('wasm', grads);
    ['conv2dTranspose dx', 'conv2dTranspose dw'].forEach((name, i) => {
      const error = relativeError(wasm[i] ?? new Float32Array(), cpu[i] ?? new Float32Array());
      expect(worst.record(error, `tf.grad ${name}`), name).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('frees every intermediate', () => {
    const dy = tf.tensor(randomTensor([2, 7, 6, 4], 9).values, [2, 7, 6, 4]);
    const filter = tf.tensor(randomTensor([3, 3, 3, 4], 10).values, [3, 3, 3, 4]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 7, 6, 3] };
    const run = () => tf.engine().runKernel<tf.Tensor>('Conv2DBackpropInput', { dy, filter }, attrs).dispose();
    expectNoLeak(run, 5);
    tf.dispose([dy, filter]);
  });
});
