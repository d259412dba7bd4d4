import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoLeak,
  geometry,
  randomTensor,
  relativeError,
  runKernelOnHost,
  runOnBoth,
  setUpWasmWithKernels,
  tf,
  WorstError,
  type HostTensor,
} from '../../test-support/wasm-kernel-harness.js';
import { convSingleChannelBytes } from './conv-single-channel-simd.js';

const TOLERANCE = 1e-5;
const worst = new WorstError();

type Pad = 'same' | 'valid' | number | Array<[number, number]>;

interface Case {
  readonly x: [number, number, number, number];
  readonly filter: [number, number, number, number];
  readonly pad: Pad;
}

/**
 * The SIMD loops' sums exactly: for every output, Σ over the taps in row-major order of x·w from 0, each product and
 * each sum rounded to float32 (out-of-image taps read 0).
 */
function float32Conv(c: Case, x: HostTensor, w: HostTensor): Float32Array {
  const g = geometry(c.x, c.filter, { strides: 1, pad: c.pad, dilations: 1 }, false);
  const [, inHeight, inWidth] = c.x;
  const [kh, kw, , co] = c.filter;
  const out = new Float32Array(g.batch * g.outHeight * g.outWidth * co);
  for (let b = 0; b < g.batch; b++) {
    for (let r = 0; r < g.outHeight; r++) {
      for (let q = 0; q < g.outWidth; q++) {
        for (let o = 0; o < co; o++) {
          let sum = 0;
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const row = r + i - g.padTop;
              const column = q + j - g.padLeft;
              const value = row >= 0 && row < inHeight && column >= 0 && column < inWidth ? (x.values[(b * inHeight + row) * inWidth + column] ?? 0) : 0;
              sum = Math.fround(sum + Math.fround(value * (w.values[(i * kw + j) * co + o] ?? 0)));
            }
          }
          out[((b * g.outHeight + r) * g.outWidth + q) * co + o] = sum;
        }
      }
    }
  }
  return out;
}

function label(c: Case): string {
  return `x=[${c.x.join(',')}] f=[${c.filter.join(',')}] pad=${JSON.stringify(c.pad)}`;
}

describe('Conv2D with one input channel on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`Conv2D worst relative error: ${worst.toString()}`);
  });

  it('is valid WebAssembly (shared and unshared memory)', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(convSingleChannelBytes(false))).toBe(true);
    expect(wasm.validate(convSingleChannelBytes(true))).toBe(true);
  });

  const simdCases: Case[] = [
    // An odd output width: pairs of columns and a last single column.
    { x: [2, 7, 9, 1], filter: [3, 3, 1, 8], pad: 'same' },
    // 20 channels: a block of 16 and one of 4; a 2×4 filter, 'valid'.
    { x: [3, 9, 8, 1], filter: [2, 4, 1, 20], pad: 'valid' },
    // 5×5 with explicit, uneven pads; 12 channels (one block of 3 groups).
    { x: [1, 10, 11, 1], filter: [5, 5, 1, 12], pad: [[0, 0], [1, 3], [2, 0], [0, 0]] },
    // 'valid' with a remainder-free 1-wide output column and a numeric pad.
    { x: [2, 6, 5, 1], filter: [3, 5, 1, 4], pad: 'valid' },
    { x: [2, 6, 5, 1], filter: [3, 3, 1, 4], pad: 2 },
    // Images 3 wide: padded element by element (the SIMD row copy takes rows of 4 floats or more).
    { x: [2, 5, 3, 1], filter: [3, 3, 1, 8], pad: 'same' },
    // The bench's small CNN's first layer, at batch 8.
    { x: [8, 28, 28, 1], filter: [3, 3, 1, 16], pad: 'same' },
  ];
  it.each(simdCases.map((c) => [label(c), c] as const))('sums in float32 in tap order, and matches the cpu kernel: %s', async (where, c) => {
    const x = randomTensor(c.x, 1);
    const filter = randomTensor(c.filter, 2);
    const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
    const { cpu, wasm } = await runOnBoth('Conv2D', { x, filter }, attrs);
    expect(wasm.shape).toEqual(cpu.shape);
    // Bit for bit the float32 tap-order sums: the SIMD loops ran (XNNPACK sums in another order).
    expect(Array.from(wasm.values)).toEqual(Array.from(float32Conv(c, x, filter)));
    expect(worst.record(relativeError(wasm.values, cpu.values), where)).toBeLessThanOrEqual(TOLERANCE);
  });

  // Strides, dilations, several input channels or channels not a multiple of 4: the stock kernel, still correct.
  const stockCases: Array<[string, HostTensor['shape'], HostTensor['shape'], tf.NamedAttrMap]> = [
    ['stride 2', [2, 8, 8, 1], [3, 3, 1, 8], { strides: 2, pad: 'same', dilations: 1 }],
    ['dilation 2', [2, 9, 9, 1], [3, 3, 1, 4], { strides: 1, pad: 'valid', dilations: 2 }],
    ['3 input channels', [2, 7, 6, 3], [3, 3, 3, 8], { strides: 1, pad: 'same', dilations: 1 }],
    ['6 output channels', [2, 7, 6, 1], [3, 3, 1, 6], { strides: 1, pad: 'same', dilations: 1 }],
  ];
  it.each(stockCases)('leaves other convolutions to the stock kernel: %s', async (where, xShape, filterShape, attrs) => {
    const { cpu, wasm } = await runOnBoth('Conv2D', { x: randomTensor(xShape, 3), filter: randomTensor(filterShape, 4) }, { ...attrs, dataFormat: 'NHWC' });
    expect(worst.record(relativeError(wasm.values, cpu.values), where)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('trains: the gradients of a one-channel conv through tf.grad match the cpu backend', async () => {
    const x = randomTensor([3, 9, 7, 1], 5);
    const w = randomTensor([3, 3, 1, 8], 6);
    const grads = (): Float32Array[] =>
      tf.tidy(() => {
        const f = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').relu().square().sum());
        return f([tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)]).map((t) => t.dataSync() as Float32Array);
      });
    await tf.setBackend('cpu');
    const expected = grads();
    await tf.setBackend('wasm');
    const actual = grads();
    ['dx', 'dw'].forEach((name, i) => {
      expect(worst.record(relativeError(actual[i]!, expected[i]!), `tf.grad ${name}`), name).toBeLessThanOrEqual(1e-4);
    });
  });

  it('frees its padded copy', () => {
    const x = tf.tensor(randomTensor([2, 7, 9, 1], 7).values, [2, 7, 9, 1]);
    const filter = tf.tensor(randomTensor([3, 3, 1, 8], 8).values, [3, 3, 1, 8]);
    expectNoLeak(() => tf.engine().runKernel<tf.Tensor>('Conv2D', { x, filter }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 }).dispose(), 5);
    tf.dispose([x, filter]);
  });

  it('gives the same result through runKernelOnHost twice (no state between calls)', () => {
    const c = simdCases[0]!;
    const x = randomTensor(c.x, 9);
    const filter = randomTensor(c.filter, 10);
    const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
    expect(runKernelOnHost('Conv2D', { x, filter }, attrs).values).toEqual(runKernelOnHost('Conv2D', { x, filter }, attrs).values);
  });
});
