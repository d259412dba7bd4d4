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

const TOLERANCE = 1e-4;
const worst = new WorstError();

type Pad = 'same' | 'valid' | Array<[number, number]>;

interface Case {
  readonly x: [number, number, number, number];
  /** `[KH, KW, C, multiplier]`. */
  readonly filter: [number, number, number, number];
  readonly strides: number | [number, number];
  readonly dilations: number | [number, number];
  readonly pad: Pad;
}

const SHAPES: Array<Pick<Case, 'x' | 'filter'>> = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 1] },
  { x: [3, 8, 9, 2], filter: [2, 4, 2, 3] },
  { x: [1, 10, 10, 4], filter: [5, 5, 4, 2] },
  { x: [2, 5, 6, 5], filter: [1, 1, 5, 1] },
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
];
// tfjs requires strides or dilations to be 1; the cpu kernels ignore dilations, so dilated cases use a direct loop.
const STRIDED: Array<number | [number, number]> = [1, 2, [2, 3]];
const DILATED: Array<number | [number, number]> = [2, [1, 2]];

const CPU_GRID: Case[] = SHAPES.flatMap((s) =>
  STRIDED.flatMap((strides) => PADS.map((pad) => ({ ...s, strides, pad, dilations: 1 }))),
);
const DILATED_GRID: Case[] = SHAPES.slice(0, 3).flatMap((s) =>
  DILATED.flatMap((dilations) => (['same', 'valid'] as const).map((pad) => ({ ...s, strides: 1, pad, dilations }))),
);

function label(c: Case): string {
  return `x=[${c.x.join(',')}] f=[${c.filter.join(',')}] s=${JSON.stringify(c.strides)} d=${JSON.stringify(c.dilations)} pad=${JSON.stringify(c.pad)}`;
}

function attrsOf(c: Case): tf.NamedAttrMap {
  return { strides: c.strides, dilations: c.dilations, pad: c.pad };
}

function dyShape(c: Case): number[] {
  const g = geometry(c.x, c.filter, attrsOf(c), true);
  return [g.batch, g.outHeight, g.outWidth, g.outChannels];
}

describe('depthwise conv gradients on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`DepthwiseConv2dNativeBackprop{Filter,Input} worst relative error: ${worst.toString()}`);
  });

  describe('DepthwiseConv2dNativeBackpropFilter', () => {
    it.each(CPU_GRID.map((c) => [label(c), c] as const))('matches the cpu kernel: %s', async (where, c) => {
      const x = randomTensor(c.x, 1);
      const dy = randomTensor(dyShape(c), 2);
      const attrs = { ...attrsOf(c), filterShape: c.filter };
      const { cpu, wasm } = await runOnBoth('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs);
      expect(wasm.shape).toEqual(c.filter);
      expect(worst.record(relativeError(wasm.values, cpu.values), `filter ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    });

    it.each(DILATED_GRID.map((c) => [label(c), c] as const))('matches a direct loop: %s', (where, c) => {
      const x = randomTensor(c.x, 3);
      const dy = randomTensor(dyShape(c), 4);
      const attrs = { ...attrsOf(c), filterShape: c.filter };
      const expected = referenceConvGradients(geometry(c.x, c.filter, attrs, true), true).filter(
        x.values as Float32Array,
        dy.values as Float32Array,
      );
      const actual = runKernelOnHost('DepthwiseConv2dNativeBackpropFilter', { x, dy }, attrs);
      expect(worst.record(relativeError(actual.values, expected), `filter ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  describe('DepthwiseConv2dNativeBackpropInput', () => {
    it.each(CPU_GRID.map((c) => [label(c), c] as const))('matches the cpu kernel: %s', async (where, c) => {
      const dy = randomTensor(dyShape(c), 5);
      const filter = randomTensor(c.filter, 6);
      const attrs = { ...attrsOf(c), inputShape: c.x };
      const { cpu, wasm } = await runOnBoth('DepthwiseConv2dNativeBackpropInput', { dy, filter }, attrs);
      expect(wasm.shape).toEqual(c.x);
      expect(worst.record(relativeError(wasm.values, cpu.values), `input ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    });

    it.each(DILATED_GRID.map((c) => [label(c), c] as const))('matches a direct loop: %s', (where, c) => {
      const dy = randomTensor(dyShape(c), 7);
      const filter = randomTensor(c.filter, 8);
      const attrs = { ...attrsOf(c), inputShape: c.x };
      const expected = referenceConvGradients(geometry(c.x, c.filter, attrs, true), true).input(
        dy.values as Float32Array,
        filter.values as Float32Array,
      );
      const actual = runKernelOnHost('DepthwiseConv2dNativeBackpropInput', { dy, filter }, attrs);
      expect(worst.record(relativeError(actual.values, expected), `input ${where}`)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('gives the same depthwiseConv2d and separableConv2d gradients through tf.grad as the cpu backend', async () => {
    const x = randomTensor([2, 8, 8, 3], 9);
    const depthwise = randomTensor([3, 3, 3, 2], 10);
    const pointwise = randomTensor([1, 1, 6, 4], 11);
    const grads = () =>
      tf.tidy(() => {
        const xT = tf.tensor(x.values, x.shape);
        const dT = tf.tensor(depthwise.values, depthwise.shape);
        const pT = tf.tensor(pointwise.values, pointwise.shape);
        const gDepthwise = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same').square().sum(),
        )([xT, dT]);
        const gSeparable = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.separableConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, 1, 'valid').square().sum(),
        )([xT, dT, pT]);
        return [...gDepthwise, ...gSeparable].map((t) => t.dataSync() as Float32Array);
      });
    const cpu = await onBackend('cpu', grads);
    const wasm = await onBackend('wasm', grads);
    ['depthwise dx', 'depthwise dw', 'separable dx', 'separable d-depthwise', 'separable d-pointwise'].forEach((name, i) => {
      const error = relativeError(wasm[i] ?? new Float32Array(), cpu[i] ?? new Float32Array());
      expect(worst.record(error, `tf.grad ${name}`), name).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it('frees every intermediate', () => {
    const x = tf.tensor(randomTensor([2, 7, 6, 3], 12).values, [2, 7, 6, 3]);
    const dy = tf.tensor(randomTensor([2, 4, 3, 6], 13).values, [2, 4, 3, 6]);
    const filter = tf.tensor(randomTensor([3, 3, 3, 2], 14).values, [3, 3, 3, 2]);
    const common = { strides: 2, dilations: 1, pad: 'same' };
    const run = () => {
      tf.dispose([
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape: [3, 3, 3, 2] }),
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...common, inputShape: [2, 7, 6, 3] }),
      ] as tf.Tensor[]);
    };
    expectNoLeak(run, 5);
    tf.dispose([x, dy, filter]);
  });
});
