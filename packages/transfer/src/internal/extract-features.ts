import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, createSha256, nextMacrotask } from '@fitstream/util';
import { featureCache } from '#platform/feature-cache';
import { truncateModel } from './pretrained.js';

/** Options of {@link extractFeatures}. */
export interface ExtractFeaturesOptions {
  /** Take the output of this layer (a name or an index among `model.layers`) instead of the model's output. */
  readonly upTo?: string | number;
  /** Batch size of the inference pass (default 256). */
  readonly batchSize?: number;
  /**
   * Cache the features in this directory: a later call with the same model weights, layer and inputs reads them
   * from disk instead of running the model. Leave out to compute every time. Node only: a web page has no file
   * system, and the browser build refuses it.
   */
  readonly cacheDir?: string;
}

/** What {@link extractFeatures} returns; the caller owns (and disposes) `features`. */
export interface ExtractedFeatures {
  /** `[n, ...featureShape]` float32. */
  readonly features: tf.Tensor;
  /** `'hit'`: read from the cache; `'miss'`: computed and written to it; `'off'`: computed, no cache. */
  readonly cache: 'hit' | 'miss' | 'off';
  /** The cache file (with `cacheDir`). */
  readonly path: string | undefined;
  /**
   * SHA-256 of what the features depend on: the extractor's topology and weights, and the inputs. It names the cache
   * file, so a retrained backbone or other data never reads stale features.
   */
  readonly key: string;
}

function inputsOf(x: tf.Tensor | readonly tf.Tensor[]): tf.Tensor[] {
  const inputs = x instanceof tf.Tensor ? [x] : [...x];
  if (inputs.length === 0) throw new FitstreamInputError('x', 'is an empty array; pass the input tensor(s).');
  const n = inputs[0]!.shape[0] ?? 0;
  if (n === 0) throw new FitstreamInputError('x', 'has no samples; pass at least one.');
  inputs.forEach((t, i) => {
    if (t.shape[0] !== n) throw new FitstreamInputError(`x[${i}]`, `has ${t.shape[0]} samples but x[0] has ${n}; every input needs one row per sample.`);
  });
  return inputs;
}

function bytesOf(data: tf.TypedArray | string[] | Uint8Array[]): Uint8Array {
  if (!ArrayBuffer.isView(data)) throw new FitstreamInputError('x', 'holds strings; features are computed from numeric tensors.');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function cacheKey(extractor: tf.LayersModel, inputs: readonly tf.Tensor[]): string {
  // Cache keys must not change between releases or platforms (existing caches still hit): keep this update sequence.
  const hash = createSha256();
  hash.update(JSON.stringify(extractor.toJSON(null, false)));
  for (const w of extractor.weights) {
    const value = w.read();
    hash.update(`${w.originalName}:${value.shape.join('x')}:${value.dtype};`);
    hash.update(bytesOf(value.dataSync()));
  }
  for (const t of inputs) {
    hash.update(`${t.shape.join('x')}:${t.dtype};`);
    hash.update(bytesOf(t.dataSync()));
  }
  return hash.digest();
}

/**
 * Runs a frozen model — or its first layers, up to `upTo` — over `x` once, in inference mode and in batches, and
 * returns the outputs as features for a small head (transfer learning by feature extraction: the backbone's forward
 * pass is paid once instead of every epoch). With `cacheDir` the features are written to disk (atomically) under a
 * key made of the extractor's weights and the inputs, and read back by later calls.
 *
 * @example
 * ```ts
 * const { features } = await extractFeatures(backbone, xTrain, { upTo: 'flatten', cacheDir: '.cache/features' });
 * const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: features.shape.slice(1) as number[], units: 10, activation: 'softmax' })] });
 * await createTrainer({ model: head, optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' }).fit({ x: features, y: yTrain }, { epochs: 20 });
 * ```
 */
export async function extractFeatures(model: tf.LayersModel, x: tf.Tensor | readonly tf.Tensor[], options: ExtractFeaturesOptions = {}): Promise<ExtractedFeatures> {
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new FitstreamInputError('options.batchSize', `must be a positive integer; got ${batchSize}.`);
  const inputs = inputsOf(x);
  // Made first: in a browser, `cacheDir` is refused before any work.
  const cache = options.cacheDir === undefined ? undefined : featureCache(options.cacheDir);
  const extractor = options.upTo === undefined ? model : truncateModel(model, options.upTo);
  const key = cacheKey(extractor, inputs);
  const path = cache?.path(key);
  const cached = await cache?.read(key);
  if (cached) return { features: tf.tensor(cached.values, cached.shape, 'float32'), cache: 'hit', path, key };
  const n = inputs[0]!.shape[0]!;
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      parts.push(
        tf.tidy(() => {
          const slices = inputs.map((t) => t.slice(start, size));
          const out = extractor.apply(slices.length === 1 ? slices[0]! : slices, { training: false });
          return (Array.isArray(out) ? out[0]! : out) as tf.Tensor;
        }),
      );
      // Let timers and I/O run between batches of a long extraction.
      await nextMacrotask();
    }
  } catch (error) {
    tf.dispose(parts);
    throw error;
  }
  const features = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  if (parts.length > 1) tf.dispose(parts);
  if (cache === undefined) return { features, cache: 'off', path, key };
  try {
    await cache.write(key, bytesOf(await features.data<'float32'>()), features.shape, extractor.name);
  } catch (error) {
    features.dispose();
    throw error;
  }
  return { features, cache: 'miss', path, key };
}
