import { beforeAll, describe, expect, it } from 'vitest';
import { randomValues, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';
import type { WasmBackendLike } from './wasm-kernel-types.js';
import { channelSums } from './channel-sums-simd.js';

/** The JavaScript loops of batch-norm-training.ts the SIMD sums replace: the reference, bit for bit. */
function momentsInJs(xs: Float32Array, shift: Float64Array, channels: number): Float64Array[] {
  const [sum, squares] = [new Float64Array(channels), new Float64Array(channels)];
  for (let base = 0; base < xs.length; base += channels) {
    for (let c = 0; c < channels; c++) {
      const d = xs[base + c]! - shift[c]!;
      sum[c]! += d;
      squares[c]! += d * d;
    }
  }
  return [sum, squares];
}

function gradSumsInJs(dys: Float32Array, xs: Float32Array, mean: Float32Array, invStd: Float64Array, channels: number): Float64Array[] {
  const [sumDy, sumDyXhat] = [new Float64Array(channels), new Float64Array(channels)];
  for (let base = 0; base < xs.length; base += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dys[base + c]!;
      sumDy[c]! += g;
      sumDyXhat[c]! += g * (xs[base + c]! - mean[c]!) * invStd[c]!;
    }
  }
  return [sumDy, sumDyXhat];
}

/**
 * Runs one SIMD function on heap copies of `inputs` with a zeroed float64 block of `arrays` × C whose first values
 * are `prefix`; returns the block.
 */
function onHeap(inputs: Float32Array[], prefix: Float64Array, arrays: number, channels: number, run: (offsets: number[], block: number) => void): Float64Array {
  const backend = tf.backend() as unknown as WasmBackendLike;
  const tensors = inputs.map((values) => tf.tensor(values));
  const scratch = backend.makeOutput([2 * arrays * channels + 3], 'float32');
  try {
    const raw = backend.typedArrayFromHeap(scratch) as Float32Array;
    const block = Math.ceil(raw.byteOffset / 16) * 16;
    const values = new Float64Array(raw.buffer, block, arrays * channels).fill(0);
    values.set(prefix);
    run(tensors.map((t) => backend.typedArrayFromHeap(t).byteOffset), block);
    return new Float64Array(raw.buffer, block, arrays * channels).slice();
  } finally {
    backend.disposeData(scratch.dataId);
    tf.dispose(tensors);
  }
}

const SHAPES: Array<readonly [number, number]> = [
  [1, 4],
  [3, 8],
  [64 * 14 * 14, 16],
  [37, 32],
  [5, 36],
];

describe('per-channel float64 sums on the wasm heap (SIMD)', () => {
  beforeAll(setUpWasmWithKernels);

  it('validates on this engine, shared and not', () => {
    // The project's TypeScript lib has no WebAssembly types (wasm-assembly/heap-module.ts).
    const { validate } = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(validate(channelSums.bytes(false))).toBe(true);
    expect(validate(channelSums.bytes(true))).toBe(true);
    expect(channelSums.of(tf.backend())).toBeDefined();
  });

  it.each(SHAPES)('channelMoments over %i rows × %i channels: bit for bit the JavaScript loop', (rows, channels) => {
    const xs = Float32Array.from(randomValues(rows * channels, rows + channels), (v) => v * 40 + 7);
    const shift = Float64Array.from(xs.subarray(0, channels));
    const sums = channelSums.of(tf.backend())!;
    const block = onHeap([xs], shift, 3, channels, ([x], at) => sums.channelMoments(x!, at, at + 8 * channels, rows, channels * 4));
    const [sum, squares] = momentsInJs(xs, shift, channels);
    expect(Array.from(block.subarray(channels, 2 * channels))).toEqual(Array.from(sum!));
    expect(Array.from(block.subarray(2 * channels))).toEqual(Array.from(squares!));
  });

  it.each(SHAPES)('channelGradSums over %i rows × %i channels: bit for bit the JavaScript loop', (rows, channels) => {
    const dys = randomValues(rows * channels, 2 * rows + channels);
    const xs = Float32Array.from(randomValues(rows * channels, 3 * rows + channels), (v) => v * 5 - 1);
    const mean = Float32Array.from(randomValues(channels, 11));
    const invStd = Float64Array.from(randomValues(channels, 12), (v) => 1 / Math.sqrt(v * v + 1e-3));
    const sums = channelSums.of(tf.backend())!;
    const prefix = new Float64Array(2 * channels);
    prefix.set(mean);
    prefix.set(invStd, channels);
    const block = onHeap([dys, xs], prefix, 4, channels, ([dy, x], at) => sums.channelGradSums(dy!, x!, at, at + 16 * channels, rows, channels * 4));
    const [sumDy, sumDyXhat] = gradSumsInJs(dys, xs, mean, invStd, channels);
    expect(Array.from(block.subarray(2 * channels, 3 * channels))).toEqual(Array.from(sumDy!));
    expect(Array.from(block.subarray(3 * channels))).toEqual(Array.from(sumDyXhat!));
  });
});
