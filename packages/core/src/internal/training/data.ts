import * as tf from '@tensorflow/tfjs';
import type { Batch, IndexSampler } from '../plugin/plugin-points.js';
import { FitstreamInputError, type Random } from '@fitstream/util';
import { sampleWeightList, targetList, type Heads } from './heads.js';
import type { SampleWeights, Targets } from '../model/targets.js';
import type { ModelAdapter } from '../model/model.js';

/** In-memory data: all samples as tensors, first axis = samples. */
export interface TensorData {
  readonly x: tf.Tensor | readonly tf.Tensor[];
  /** Targets: one tensor, or one per model output (an array in output order, or a map by output name). */
  readonly y: Targets;
  /** Optional per-sample weights, shape `[samples]`: for every output, or one per output. */
  readonly sampleWeight?: SampleWeights;
}

/** One element of a batch stream: `{ x, y }` or tf.data's `{ xs, ys }`. */
export type StreamBatch = Batch | { readonly xs: tf.Tensor | readonly tf.Tensor[]; readonly ys: Targets };

/** A stream of batches that can be iterated once per epoch. */
export type BatchStream = AsyncIterable<StreamBatch> | Iterable<StreamBatch> | tf.data.Dataset<tf.TensorContainer>;

/**
 * Training or validation data: tensors in memory, a re-iterable stream of batches (a `tf.data.Dataset`, an array,
 * any async iterable that can be iterated again), or a function returning a fresh stream for each epoch.
 */
export type DataSource = TensorData | BatchStream | (() => BatchStream);

/** What the loop needs from data. */
export interface BatchSource {
  readonly kind: 'tensors' | 'stream';
  /** Samples per epoch when known. */
  readonly samples: number | undefined;
  /** Batches per epoch when known in advance (before limits). */
  readonly batchesPerEpoch: number | undefined;
  /** Batches in one epoch when known (a sampler may plan a different number each epoch). */
  batchesIn(epoch: number): number | undefined;
  /** Samples in one epoch when known. */
  samplesIn(epoch: number): number | undefined;
  /**
   * The batches of one epoch, starting after `skip` batches. When `owned`, the loop disposes each batch after its
   * step: batches sliced from in-memory tensors, and batches of a tf.data.Dataset, a generator or a factory (fresh
   * tensors on every iteration, as `model.fitDataset` assumes). Batches in an array stay the caller's.
   */
  batches(epoch: number, skip: number): { readonly batches: AsyncIterable<Batch> | Iterable<Batch>; readonly owned: boolean };
}

export interface TensorSourceOptions {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly random: Random;
  /** Plans batches instead of the built-in sequential/shuffled order. */
  readonly sampler?: IndexSampler | undefined;
}

export function isTensorData(d: unknown): d is TensorData {
  return typeof d === 'object' && d !== null && 'x' in d && 'y' in d && isTargets((d as { y: unknown }).y);
}

/** A tensor, a non-empty array of tensors, or a plain object of tensors. */
function isTargets(y: unknown): y is Targets {
  if (y instanceof tf.Tensor) return true;
  const values = Array.isArray(y) ? (y as unknown[]) : typeof y === 'object' && y !== null && Object.getPrototypeOf(y) === Object.prototype ? Object.values(y) : [];
  return values.length > 0 && values.every((v) => v instanceof tf.Tensor);
}

/** Every tensor of targets (or weights) given as one tensor, an array or a map. */
export function tensorsIn(y: Targets | SampleWeights | undefined): tf.Tensor[] {
  if (y === undefined) return [];
  if (y instanceof tf.Tensor) return [y];
  return (Array.isArray(y) ? [...(y as readonly (tf.Tensor | null)[])] : Object.values(y as Record<string, tf.Tensor>)).filter((t): t is tf.Tensor => t instanceof tf.Tensor);
}

/** Applies `fn` to every tensor, keeping the structure (one tensor, an array, a map). */
function mapTensors<T extends Targets | SampleWeights>(y: T, fn: (t: tf.Tensor) => tf.Tensor): T {
  if (y instanceof tf.Tensor) return fn(y) as T;
  if (Array.isArray(y)) return (y as readonly (tf.Tensor | null)[]).map((t) => (t ? fn(t) : t)) as unknown as T;
  return Object.fromEntries(Object.entries(y).map(([k, t]) => [k, fn(t as tf.Tensor)])) as T;
}

function inputsOf(x: TensorData['x']): readonly tf.Tensor[] {
  return x instanceof tf.Tensor ? [x] : x;
}

/** Samples in in-memory data; refuses empty data and inputs, targets or weights of different lengths. */
function sampleCount(data: TensorData, inputs: readonly tf.Tensor[], argument: string): number {
  if (!isTargets(data.y)) throw new FitstreamInputError(`${argument}.y`, 'must be a tensor, or one tensor per model output (an array or a map by output name).');
  const n = tensorsIn(data.y)[0]!.shape[0] ?? 0;
  if (n === 0) throw new FitstreamInputError(`${argument}.y`, 'the dataset is empty (0 samples); pass at least one sample.');
  for (const t of tensorsIn(data.y)) {
    if (t.shape[0] !== n) throw new FitstreamInputError(`${argument}.y`, `targets of different outputs have ${t.shape[0]} and ${n} samples; every target needs one row per sample.`);
  }
  inputs.forEach((t, i) => {
    if (t.shape[0] !== n) {
      throw new FitstreamInputError(
        `${argument}.x${inputs.length > 1 ? `[${i}]` : ''}`,
        `has ${t.shape[0]} samples but ${argument}.y has ${n}; x and y must have the same first dimension.`,
      );
    }
  });
  for (const w of tensorsIn(data.sampleWeight)) {
    if (w.shape[0] !== n) throw new FitstreamInputError(`${argument}.sampleWeight`, `has ${w.shape[0]} entries but there are ${n} samples.`);
  }
  return n;
}

/** Creates the batch source over in-memory tensors. Epoch orders are pure functions of `(seed, 'shuffle', epoch)`. */
export function tensorSource(data: TensorData, options: TensorSourceOptions, argument: string): BatchSource {
  const inputs = inputsOf(data.x);
  const n = sampleCount(data, inputs, argument);
  const { batchSize, shuffle, dropLast, random, sampler } = options;
  const full = Math.floor(n / batchSize);
  const builtinBatches = dropLast ? full : Math.ceil(n / batchSize);
  if (!sampler && builtinBatches === 0) {
    throw new FitstreamInputError('options.batchSize', `${batchSize} is larger than the ${n} samples with dropLast: true; lower batchSize or set dropLast: false.`);
  }
  const take = (indices: Int32Array | undefined, start: number, size: number): Batch =>
    tf.tidy(() => {
      const pick = (t: tf.Tensor): tf.Tensor => {
        if (!indices) return t.slice(start, size);
        return tf.gather(t, tf.tensor1d(indices.subarray(start, start + size), 'int32'));
      };
      const x = data.x instanceof tf.Tensor ? pick(data.x) : inputs.map(pick);
      const batch: Batch = { x, y: mapTensors(data.y, pick), ...(data.sampleWeight ? { sampleWeight: mapTensors(data.sampleWeight, pick) } : {}) };
      return batch as unknown as tf.TensorContainer;
    }) as unknown as Batch;

  let labels: Int32Array | undefined;
  const plans = new Map<number, readonly Int32Array[]>();
  const planOf = (epoch: number): readonly Int32Array[] => {
    let plan = plans.get(epoch);
    if (!plan) {
      plan = sampler!.plan({
        size: n,
        batchSize,
        epoch,
        random: random.derive(`sampler:${sampler!.stream ?? sampler!.name}`, epoch),
        labels: () => (labels ??= labelsOf(data.y, sampler!.name)),
      });
      plan.forEach((b, i) => {
        if (b.length === 0) throw new Error(`Sampler "${sampler!.name}" planned an empty batch ${i} in epoch ${epoch}; plan only non-empty batches.`);
        for (const index of b) {
          if (!(index >= 0 && index < n)) throw new Error(`Sampler "${sampler!.name}" planned row ${index} in batch ${i} of epoch ${epoch}, outside [0, ${n}).`);
        }
      });
      plans.clear(); // one epoch at a time: plans can be large
      plans.set(epoch, plan);
    }
    return plan;
  };
  const samplesIn = (plan: readonly Int32Array[]) => plan.reduce((s, b) => s + b.length, 0);
  return {
    kind: 'tensors',
    // Getters: a sampler plans an epoch only when asked, so a resumed fit never plans epochs it will not run.
    get samples() {
      return sampler ? samplesIn(planOf(0)) : dropLast ? full * batchSize : n;
    },
    get batchesPerEpoch() {
      return sampler ? planOf(0).length : builtinBatches;
    },
    batchesIn: (epoch) => (sampler ? planOf(epoch).length : builtinBatches),
    samplesIn: (epoch) => (sampler ? samplesIn(planOf(epoch)) : dropLast ? full * batchSize : n),
    batches(epoch: number, skip: number) {
      function* generate() {
        if (sampler) {
          const plan = planOf(epoch);
          for (let b = skip; b < plan.length; b++) yield take(plan[b], 0, plan[b]!.length);
          return;
        }
        const order = shuffle ? random.derive('shuffle', epoch).permutation(n) : undefined;
        for (let b = skip; b < builtinBatches; b++) {
          const start = b * batchSize;
          yield take(order, start, Math.min(batchSize, n - start));
        }
      }
      return { batches: generate(), owned: true };
    },
  };
}

/** Class labels of targets: argmax of one-hot rows, or the sparse labels themselves. */
function labelsOf(targets: Targets, sampler: string): Int32Array {
  const all = tensorsIn(targets);
  if (all.length !== 1) {
    throw new FitstreamInputError('data.y', `sampler "${sampler}" reads class labels, but the data has ${all.length} targets (a multi-output model); give that sampler the labels to stratify on through a single-target split, or use a sampler that reads no labels (shuffleSampler).`);
  }
  const y = all[0]!;
  return tf.tidy(() => {
    const labels = y.rank >= 2 && y.shape[y.rank - 1]! > 1 ? tf.argMax(y, -1) : y.reshape([y.shape[0]!]);
    return labels.toInt().dataSync() as Int32Array;
  });
}

function normaliseStreamBatch(element: unknown, argument: string, index: number): Batch {
  const e = element as Record<string, unknown>;
  const x = (e?.['x'] ?? e?.['xs']) as Batch['x'] | undefined;
  const y = (e?.['y'] ?? e?.['ys']) as Targets | undefined;
  if (!x || !isTargets(y)) {
    throw new FitstreamInputError(argument, `batch ${index} is not { x, y } (or tf.data's { xs, ys }) of tensors.`);
  }
  const w = e['sampleWeight'] as SampleWeights | undefined;
  return { x, y, ...(w !== undefined && tensorsIn(w).length > 0 ? { sampleWeight: w } : {}) };
}

function isDataset(d: unknown): d is tf.data.Dataset<tf.TensorContainer> {
  return d instanceof tf.data.Dataset;
}

async function* iterateStream(stream: BatchStream, argument: string, skip: number, owned: boolean): AsyncGenerator<Batch> {
  let index = 0;
  const emit = (element: unknown): Batch | undefined => {
    const batch = normaliseStreamBatch(element, argument, index);
    if (index++ < skip) {
      if (owned) disposeBatch(batch);
      return undefined;
    }
    return batch;
  };
  if (isDataset(stream)) {
    const it = await stream.iterator();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const b = emit(r.value);
      if (b) yield b;
    }
    return;
  }
  if (Symbol.asyncIterator in (stream as object)) {
    for await (const element of stream as AsyncIterable<StreamBatch>) {
      const b = emit(element);
      if (b) yield b;
    }
    return;
  }
  for (const element of stream as Iterable<StreamBatch>) {
    const b = emit(element);
    if (b) yield b;
  }
}

function isBatchStream(d: unknown): d is BatchStream {
  return isDataset(d) || (typeof d === 'object' && d !== null && (Symbol.asyncIterator in d || Symbol.iterator in d));
}

/** Creates the batch source over a stream (or a stream factory). Resuming skips (and disposes) the first batches. */
export function streamSource(data: BatchStream | (() => BatchStream), argument: string): BatchSource {
  return {
    kind: 'stream',
    samples: undefined,
    batchesPerEpoch: undefined,
    batchesIn: () => undefined,
    samplesIn: () => undefined,
    batches(_epoch: number, skip: number) {
      const stream = typeof data === 'function' ? data() : data;
      if (!isBatchStream(stream)) throw new FitstreamInputError(argument, 'the factory must return a tf.data.Dataset or an (async) iterable of { x, y } batches.');
      const owned = !Array.isArray(stream);
      return { batches: iterateStream(stream, argument, skip, owned), owned };
    },
  };
}

/** In-memory `{ x, y }` whose fields are not tensors (plain arrays, numbers): an error naming the field and `tf.tensor`. */
function assertTensorFields(data: unknown, argument: string): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !('x' in data) || !('y' in data) || isBatchStream(data)) return;
  const record = data as Record<string, unknown>;
  for (const field of ['x', 'y'] as const) {
    const value = record[field];
    if (value instanceof tf.Tensor) continue;
    const parts = Array.isArray(value) ? (value as unknown[]) : field === 'y' && typeof value === 'object' && value !== null ? Object.values(value) : [value];
    if (parts.length > 0 && parts.every((p) => p instanceof tf.Tensor)) continue;
    const what = Array.isArray(value) ? 'a plain JavaScript array' : value === null || value === undefined ? String(value) : `a ${typeof value}`;
    throw new FitstreamInputError(
      `${argument}.${field}`,
      `is ${what}, not a tensor; convert it first, e.g. ${field}: tf.tensor2d(rows) (or an array of tensors, one per model ${field === 'x' ? 'input' : 'output'}).`,
    );
  }
}

/** Picks the source for `data`. */
export function createSource(data: DataSource, options: TensorSourceOptions, argument: string): BatchSource {
  if (data == null) throw new FitstreamInputError(argument, 'is required: pass { x, y } tensors, a tf.data.Dataset, or an iterable of { x, y } batches.');
  assertTensorFields(data, argument);
  if (isTensorData(data)) return tensorSource(data, options, argument);
  if (typeof data === 'function' || isBatchStream(data)) return streamSource(data as BatchStream | (() => BatchStream), argument);
  throw new FitstreamInputError(argument, 'must be { x: Tensor | Tensor[], y: Tensor | Tensor[] | { [output]: Tensor } }, a tf.data.Dataset, an (async) iterable of { x, y } batches, or a function returning one.');
}

function tensorsOf(batch: Batch): tf.Tensor[] {
  return [...inputsOf(batch.x), ...tensorsIn(batch.y), ...tensorsIn(batch.sampleWeight)];
}

export function disposeBatch(batch: Batch, keep?: Batch): void {
  const kept = new Set(keep ? tensorsOf(keep) : []);
  tf.dispose(tensorsOf(batch).filter((t) => !kept.has(t)));
}

function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : d)).join(', ')}]`;
}

/** What the data must agree with. */
export interface DataExpectations {
  readonly model: ModelAdapter;
  readonly heads: Heads;
  /** A custom train step reads the batch itself: inputs are not checked against the main model's shapes. */
  readonly customStep?: boolean;
}

/**
 * Checks shapes (no device sync) and, when `checkValues`, that inputs and targets are finite and that sparse labels are
 * integers in range (one read-back). Names the argument, both shapes and the fix.
 */
export function validateBatch(batch: Batch, expect: DataExpectations, argument: string, checkValues: boolean): void {
  const inputs = inputsOf(batch.x);
  const { model, heads } = expect;
  if (model.inputShapes && !expect.customStep) {
    if (model.inputShapes.length !== inputs.length) {
      throw new FitstreamInputError(`${argument}.x`, `the model takes ${model.inputShapes.length} input(s) but the data has ${inputs.length}; pass x as ${model.inputShapes.length === 1 ? 'one tensor' : `an array of ${model.inputShapes.length} tensors`}.`);
    }
    model.inputShapes.forEach((expected, i) => {
      const actual = inputs[i]!.shape.slice(1);
      const ok = expected.length === actual.length && expected.every((d, k) => d === null || d === actual[k]);
      if (!ok) {
        throw new FitstreamInputError(
          `${argument}.x${inputs.length > 1 ? `[${i}]` : ''}`,
          `samples have shape ${shapeText(actual)} but ${model.label} expects ${shapeText(expected)} (full shapes: data ${shapeText(inputs[i]!.shape)}, model ${shapeText([null, ...expected])}); reshape the data or change the model's inputShape.`,
        );
      }
    });
  }
  const ys = targetList(heads, batch.y, `${argument}.y`);
  const weights = sampleWeightList(heads, batch.sampleWeight, `${argument}.sampleWeight`);
  heads.heads.forEach((head, i) => {
    const where = heads.multi ? `.${head.name}` : '';
    validateTarget(ys[i]!, weights[i], { kind: head.loss.kind, out: model.outputShapes?.[i], label: model.label }, { y: `${argument}.y${where}`, w: `${argument}.sampleWeight${where}` }, checkValues);
  });
  if (checkValues) inputs.forEach((t, i) => assertFinite(t, `${argument}.x${inputs.length > 1 ? `[${i}]` : ''}`));
}

/** One output's targets (and weights) against its loss kind and output shape. */
function validateTarget(y: tf.Tensor, weight: tf.Tensor1D | undefined, head: { kind: string; out: readonly (number | null)[] | undefined; label: string }, argument: { y: string; w: string }, checkValues: boolean): void {
  const { kind, out } = head;
  if (out) {
    const ySample = y.shape.slice(1);
    if (kind === 'sparse') {
      if (!(ySample.length === 0 || (ySample.length === 1 && ySample[0] === 1))) {
        throw new FitstreamInputError(argument.y, `sparse labels must have shape [batch] or [batch, 1], got ${shapeText(y.shape)}; use 'categoricalCrossentropy' for one-hot targets.`);
      }
    } else {
      const ok = ySample.length === out.length && out.every((d, k) => d === null || d === ySample[k]);
      if (!ok) {
        const hint = kind === 'categorical' && ySample.length === 0 ? " — these look like integer labels: use loss 'sparseCategoricalCrossentropy'" : '';
        throw new FitstreamInputError(argument.y, `targets have sample shape ${shapeText(ySample)} but ${head.label} outputs ${shapeText(out)}${hint}.`);
      }
    }
  }
  if (weight && weight.shape[0] !== y.shape[0]) {
    throw new FitstreamInputError(argument.w, `has ${weight.shape[0]} entries for ${y.shape[0]} samples.`);
  }
  if (!checkValues) return;
  assertFinite(y, argument.y);
  if (kind === 'sparse' && out) {
    const classes = out[out.length - 1];
    if (typeof classes === 'number') assertLabels(y, classes, argument.y);
  }
}

function assertFinite(t: tf.Tensor, argument: string): void {
  if (t.dtype !== 'float32') return;
  const badRow = tf.tidy(() => {
    const bad = tf.logicalNot(tf.isFinite(t));
    const perRow = t.rank > 1 ? bad.reshape([t.shape[0], -1]).any(1) : bad;
    return perRow.any().dataSync()[0] ? (perRow.toInt().argMax().dataSync()[0] ?? 0) : -1;
  });
  if (badRow >= 0) {
    throw new FitstreamInputError(argument, `contains NaN or Infinity (first at sample ${badRow}); clean or impute the data before training.`);
  }
}

function assertLabels(y: tf.Tensor, classes: number, argument: string): void {
  const [min, max, fractional] = tf.tidy(() => {
    const f = y.toFloat();
    return [f.min().dataSync()[0]!, f.max().dataSync()[0]!, tf.notEqual(f, tf.floor(f)).any().dataSync()[0]!];
  });
  if (fractional) throw new FitstreamInputError(argument, 'sparse labels must be integers (class indices); round them or use a one-hot loss.');
  if (min < 0 || max >= classes) {
    throw new FitstreamInputError(argument, `sparse labels range over [${min}, ${max}] but the model outputs ${classes} classes; labels must be in [0, ${classes - 1}].`);
  }
}
