import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoLeak,
  geometry,
  onBackend,
  randomTensor,
  referenceConvGradients,
  relativeError,
  runKernelOnHost,
  runOnBoth,
  setUpWasmWithKernels,
  tf,
  WorstError,
} from '../../test-support/wasm-kernel-harness.js';
import { createConv2DBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { resolveKernelTable } from './wasm-kernel-scope.js';

const TOLERANCE = 1e-4;
const worst = new WorstError();

type Pad = 'same' | 'valid' | Array<[number, number]>;

interface Case {
  readonly x: [number, number, number, number];
  readonly filter: [number, number, number, number];
  readonly strides: number | [number, number];
  readonly pad: Pad;
  readonly dilations?: number | [number, number];
}

// As installed, stride 1 with one input channel (and output channels a multiple of 4) takes the direct accumulation,
// everything else the swapped-roles convolution; the im2col + GEMM path is tested below with the option set.
const SHAPES: Array<Pick<Case, 'x' | 'filter'>> = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 4] },
  { x: [2, 6, 7, 6], filter: [3, 2, 6, 3] },
  // One input channel, output channels a multiple of 4: the direct SIMD accumulation at stride 1.
  { x: [2, 7, 9, 1], filter: [3, 3, 1, 8] },
  // …on images 3 wide, padded element by element.
  { x: [2, 5, 3, 1], filter: [3, 3, 1, 4] },
  // Output width < 4: the im2col rows come from slices instead of the SIMD row copy.
  { x: [2, 6, 3, 2], filter: [3, 2, 2, 3] },
  { x: [3, 9, 8, 1], filter: [2, 4, 1, 5] },
  { x: [1, 10, 11, 2], filter: [5, 5, 2, 3] },
  { x: [2, 5, 5, 4], filter: [1, 1, 4, 2] },
];
const STRIDES: Array<number | [number, number]> = [1, 2, [2, 3]];
const PADS: Pad[] = [
  'same',
  'valid',
  [
    [0, 0],
    [1, 2],
    [0, 1],
    [0, 0],
  ],
];

const GRID: Case[] = SHAPES.flatMap((shape) => STRIDES.flatMap((strides) => PADS.map((pad) => ({ ...shape, strides, pad }))));

function label(c: Case): string {
  return `x=[${c.x.join(',')}] f=[${c.filter.join(',')}] s=${JSON.stringify(c.strides)} d=${JSON.stringify(c.dilations ?? 1)} pad=${JSON.stringify(c.pad)}`;
}

function outputShape(c: Case): number[] {
  const g = geometry(c.x, c.filter, { strides: c.strides, pad: c.pad, dilations: c.dilations ?? 1 }, false);
  return [g.batch, g.outHeight, g.outWidth, g.outChannels];
}

describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`Conv2DBackpropFilter worst relative error: ${worst.toString()}`);
  });

  it.each(GRID.map((c) => [label(c), c] as const))('matches the cpu kernel: %s', async (where, c) => {
    const x = randomTensor(c.x, 1);
    const dy = randomTensor(outputShape(c), 2);
    const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
    const { cpu, wasm } = await runOnBoth('Conv2DBackpropFilter', { x, dy }, attrs);
    expect(wasm.shape).toEqual(c.filter);
    expect(worst.record(relativeError(wasm.values, cpu.values), where)).toBeLessThanOrEqual(TOLERANCE);
  });

  const dilated: Case[] = [
    { x: [2, 9, 9, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'same', dilations: 2 },
    { x: [2, 9, 10, 3], filter: [2, 3, 3, 2], strides: 1, pad: 'valid', dilations: [1, 2] },
    { x: [1, 12, 12, 2], filter: [3, 2, 2, 2], strides: 2, pad: 'valid', dilations: [2, 3] },
  ];
  it.each(dilated.map((c) => [label(c), c] as const))('matches a direct loop with dilations: %s', (where, c) => {
    const attrs = { strides: c.strides, pad: c.pad, dilations: c.dilations ?? 1, dataFormat: 'NHWC', filterShape: c.filter };
    const x = randomTensor(c.x, 3);
    const dy = randomTensor(outputShape(c), 4);
    const expected = referenceConvGradients(geometry(c.x, c.filter, attrs, false), false).filter(
      x.values as Float32Array,
      dy.values as Float32Array,
    );
    const actual = runKernelOnHost('Conv2DBackpropFilter', { x, dy }, attrs);
    expect(worst.record(relativeError(actual.values, expected), where)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('accumulates a first-layer gradient (one input channel) over a realistic batch', async () => {
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 1, 16] };
    const x = randomTensor([16, 28, 28, 1], 17);
    const dy = randomTensor([16, 28, 28, 16], 18);
    const { cpu, wasm } = await runOnBoth('Conv2DBackpropFilter', { x, dy }, attrs);
    expect(worst.record(relativeError(wasm.values, cpu.values), 'one input channel, batch 16')).toBeLessThanOrEqual(TOLERANCE);
  });

  it.each([
    ['kw 5 (tap blocks 2, 2, 1), 20 channels (groups 4 + 1), same', [3, 7, 9, 1], [3, 5, 1, 20], 'same'],
    ['2×4, 8 channels, valid', [2, 9, 8, 1], [2, 4, 1, 8], 'valid'],
  ] as const)('sums a one-input-channel gradient in float32, image by image in position order: %s', (where, xShape, filterShape, pad) => {
    const attrs = { strides: 1, pad, dataFormat: 'NHWC', filterShape: [...filterShape] };
    const g = geometry([...xShape], [...filterShape], attrs, false);
    const x = randomTensor([...xShape], 31);
    const dy = randomTensor([g.batch, g.outHeight, g.outWidth, g.outChannels], 32);
    const [, inHeight, inWidth] = xShape;
    const [kh, kw, , co] = filterShape;
    const expected = new Float32Array(kh * kw * co);
    for (let b = 0; b < g.batch; b++) {
      const partial = new Float32Array(kh * kw * co);
      for (let r = 0; r < g.outHeight; r++) {
        for (let q = 0; q < g.outWidth; q++) {
          for (let t = 0; t < kh * kw; t++) {
            const row = r + Math.floor(t / kw) - g.padTop;
            const column = q + (t % kw) - g.padLeft;
            const value = row >= 0 && row < inHeight && column >= 0 && column < inWidth ? (x.values[(b * inHeight + row) * inWidth + column] ?? 0) : 0;
            for (let o = 0; o < co; o++) {
              const d = dy.values[((b * g.outHeight + r) * g.outWidth + q) * co + o] ?? 0;
              partial[t * co + o] = Math.fround((partial[t * co + o] ?? 0) + Math.fround(value * d));
            }
          }
        }
      }
      partial.forEach((v, i) => (expected[i] = Math.fround((expected[i] ?? 0) + v)));
    }
    const actual = runKernelOnHost('Conv2DBackpropFilter', { x, dy }, attrs);
    expect(Array.from(actual.values), where).toEqual(Array.from(expected));
  });

  /** Runs a kernel made with `maxColsElements` on wasm and the cpu kernel; returns the relative error. */
  async function withGemm(maxColsElements: number, xShape: number[], filterShape: number[], pad: Pad, seed: number): Promise<number> {
    const kernel = createConv2DBackpropFilterKernel(tf, resolveKernelTable(tf), { matMul: tf.getKernel('BatchMatMul', 'wasm').kernelFunc, maxColsElements });
    const attrs = { strides: 1, pad, dataFormat: 'NHWC', filterShape };
    const x = randomTensor(xShape, seed);
    const dy = randomTensor(outputShape({ x: xShape as Case['x'], filter: filterShape as Case['filter'], strides: 1, pad }), seed + 1);
    const expected = await onBackend('cpu', () => runKernelOnHost('Conv2DBackpropFilter', { x, dy }, attrs));
    const actual = tf.tidy(() => {
      const inputs = { x: tf.tensor(x.values, x.shape), dy: tf.tensor(dy.values, dy.shape) };
      const out = kernel({ inputs, backend: tf.backend(), attrs }) as tf.TensorInfo;
      return tf.engine().makeTensorFromTensorInfo(out).dataSync() as Float32Array;
    });
    return relativeError(actual, expected.values);
  }

  it.each([
    ['3 channels, same', [2, 7, 6, 3], [3, 3, 3, 4], 'same'],
    ['2 channels, valid, output width < 4 (slices)', [2, 6, 3, 2], [3, 2, 2, 3], 'valid'],
    ['6 channels, explicit pads', [2, 6, 7, 6], [3, 2, 6, 3], [[0, 0], [1, 2], [0, 1], [0, 0]]],
    ['one channel, 5 outputs (no direct path)', [3, 9, 8, 1], [2, 4, 1, 5], 'same'],
  ] as const)('the im2col + GEMM path matches the cpu kernel: %s', async (where, xShape, filterShape, pad) => {
    const error = await withGemm(2 ** 24, [...xShape], [...filterShape], pad as Pad, 21);
    expect(worst.record(error, `GEMM ${where}`)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('chunks a long GEMM contraction with many im2col rows by images (261 rows, one image per chunk)', async () => {
    const error = await withGemm(2 ** 24, [2, 48, 48, 29], [3, 3, 29, 4], 'same', 15);
    expect(worst.record(error, 'chunked')).toBeLessThanOrEqual(TOLERANCE);
  });

  it('runs the convolution at stride 1 when the im2col matrix is over the cap', async () => {
    expect(worst.record(await withGemm(10, [2, 7, 6, 3], [3, 3, 3, 4], 'same', 13), 'stride 1 over the cap')).toBeLessThanOrEqual(TOLERANCE);
  });

  // Like the one-channel and conv2d-backprop-input cases in shape only: each is its own scenario (attrs, shapes, seeds);
  // the comparison itself is the harness' runOnBoth / relativeError / WorstError.
  it('supports NCHW data', async () => {
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] };
    const x = randomTensor([2, 3, 8, 7], 5);
    const dy = randomTensor([2, 4, 4, 4], 6);
    const { cpu, wasm } = await runOnBoth('Conv2DBackpropFilter', { x, dy }, attrs);
    expect(worst.record(relativeError(wasm.values, cpu.values), 'NCHW')).toBeLessThanOrEqual(TOLERANCE);
  });

  it('gives the same conv2d and conv1d gradients through tf.grad as the cpu backend', async () => {
    const x = randomTensor([2, 8, 8, 3], 7);
    const w = randomTensor([3, 3, 3, 4], 8);
    const x1 = randomTensor([2, 10, 3], 9);
    const w1 = randomTensor([3, 3, 5], 10);
    const grads = () =>
      tf.tidy(() => {
        const g2 = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, [2, 1], 'same').square().sum(),
        )([tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)]);
        const g1 = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.conv1d(a as tf.Tensor3D, b as tf.Tensor3D, 1, 'valid').square().sum(),
        )([tf.tensor(x1.values, x1.shape), tf.tensor(w1.values, w1.shape)]);
        return [...g2, ...g1].map((t) => t.dataSync() as Float32Array);
      });
    const cpu = await onBackend('cpu', grads);
    const wasm = await onBackend('wasm', grads);
    ['conv2d dx', 'conv2d dw', 'conv1d dx', 'conv1d dw'].forEach((name, i) => {
      const error = relativeError(wasm[i] ?? new Float32Array(), cpu[i] ?? new Float32Array());
      expect(worst.record(error, `tf.grad ${name}`), name).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it.each([
    ['strided convolution path', [2, 7, 6, 3], [2, 4, 2, 4], [2, 3]],
    ['stride-1 convolution path', [2, 7, 6, 3], [2, 7, 6, 4], [1, 1]],
    ['one-input-channel direct path', [2, 7, 6, 1], [2, 7, 6, 4], [1, 1]],
  ] as const)('frees every intermediate (%s)', (_, xShape, dyShape, strides) => {
    const x = tf.tensor(randomTensor([...xShape], 11).values, [...xShape]);
    const dy = tf.tensor(randomTensor([...dyShape], 12).values, [...dyShape]);
    const attrs = { strides: [...strides], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, xShape[3], 4] };
    const run = () => tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x, dy }, attrs).dispose();
    expectNoLeak(run, 5);
    tf.dispose([x, dy]);
  });
});
