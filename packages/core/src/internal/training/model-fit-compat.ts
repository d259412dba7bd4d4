import * as tf from '@tensorflow/tfjs';
import type { Subscription } from 'rxjs';
import { readMetricsAsync } from '../events/lazy-metrics.js';
import type { Plugin } from '../plugin/plugin.js';
import { isTensorData, tensorsIn, type DataSource, type TensorData } from './data.js';
import { assertKnownOptions, FitstreamInputError, nextMacrotask } from '@fitstream/util';
import { FIT_OPTION_NAMES, type FitOptions } from './fit-options.js';
import type { SampleWeights, Targets } from '../model/targets.js';
import type { ModelAdapter } from '../model/model.js';

/** Keras-shaped logs handed to tfjs callbacks: `loss`, the metrics as named, `val_…`; batch logs add `batch` and `size`. */
export type TfjsLogs = Record<string, number>;

/**
 * A tfjs callback: the `CustomCallbackArgs` object tfjs' `model.fit` takes (`{ onEpochEnd(epoch, logs) … }`), or a
 * `tf.Callback` subclass instance. Returned promises hold the loop until they settle; `model.stopTraining = true` stops.
 */
export interface TfjsCallback {
  onTrainBegin?(logs?: TfjsLogs): unknown;
  onTrainEnd?(logs?: TfjsLogs): unknown;
  onEpochBegin?(epoch: number, logs?: TfjsLogs): unknown;
  onEpochEnd?(epoch: number, logs?: TfjsLogs): unknown;
  onBatchBegin?(batch: number, logs?: TfjsLogs): unknown;
  onBatchEnd?(batch: number, logs?: TfjsLogs): unknown;
  onYield?(epoch: number, batch: number, logs: TfjsLogs): unknown;
}

/** `validationData` as tfjs takes it: `[xVal, yVal]` or `[xVal, yVal, sampleWeights]`. */
export type ValidationTuple = readonly [x: tf.Tensor | readonly tf.Tensor[], y: Targets] | readonly [x: tf.Tensor | readonly tf.Tensor[], y: Targets, sampleWeight: SampleWeights];

/**
 * tfjs' `model.fit` / `model.fitDataset` options, accepted by `trainer.fit` and mapped onto fitstream's (see
 * docs/guides/from-model-fit.md). Each has a fitstream name; giving both is an error.
 */
export interface ModelFitArgs {
  /** tfjs' name for `validation`: a `[xVal, yVal(, sampleWeights)]` tuple, a `tf.data.Dataset`, or any validation data. */
  readonly validationData?: ValidationTuple | DataSource;
  /** Validate on the last fraction (0 < f < 1) of the in-memory rows, taken before shuffling, exactly as tfjs does. */
  readonly validationSplit?: number;
  /** tfjs callbacks (`CustomCallbackArgs` objects, `tf.Callback` instances), adapted onto the event stream. */
  readonly callbacks?: TfjsCallback | readonly TfjsCallback[];
  /** tfjs' `fitDataset` name for `stepsPerEpoch`. */
  readonly batchesPerEpoch?: number;
  /** tfjs' `fit` name for `validationBatches`. */
  readonly validationSteps?: number;
  /** tfjs' `yieldEvery`: `'auto'` (default), `'batch'`, `'epoch'`, `'never'` or milliseconds (fitstream: `yieldEveryMs`). */
  readonly yieldEvery?: 'auto' | 'batch' | 'epoch' | 'never' | number;
  /** `0`: silent (fitstream's default). `1`/`2`: one line per epoch through the trainer's `log` (for a bar: `progressBar()`). */
  readonly verbose?: 0 | 1 | 2;
  /** Per-sample weights of in-memory data (fitstream: `data.sampleWeight`). */
  readonly sampleWeight?: SampleWeights;
  /** @deprecated Not a core option: use `classWeights` from `@fitstream/regularisers`, `trainer.use(classWeights({ 0: 1, 1: 5 }))`. */
  readonly classWeight?: unknown;
}

/** Options of {@link Trainer.fit}: fitstream's, and tfjs' names for them. */
export type FitArgs = FitOptions & ModelFitArgs;
/** Options of `trainer.fit(x, y, options)`, the tfjs call shape: `epochs` defaults to 1 there, as in tfjs. */
export type TfjsFitArgs = Omit<FitArgs, 'epochs'> & { readonly epochs?: number };

/** Inputs as tfjs' `model.fit` takes them: one tensor, one per input, or a map by input name. */
export type FitInputs = tf.Tensor | readonly tf.Tensor[] | { readonly [input: string]: tf.Tensor };

const COMPAT_NAMES = ['validationData', 'validationSplit', 'callbacks', 'batchesPerEpoch', 'validationSteps', 'yieldEvery', 'verbose', 'sampleWeight', 'classWeight'] as const satisfies readonly (keyof ModelFitArgs)[];

/** Option names that belong elsewhere, with where. */
const FIT_HINTS: Readonly<Record<string, string>> = {
  validationFreq: 'fitstream names it validationEvery (validate every n epochs).',
  steps: 'use stepsPerEpoch (batches per epoch).',
  optimizer: 'is a createTrainer option (or the one given to model.compile).',
  loss: 'is a createTrainer option (or the one given to model.compile).',
  metrics: 'is a createTrainer option (or those given to model.compile).',
  seed: 'is a createTrainer option: createTrainer({ …, seed }).',
  learningRate: "belongs to the optimizer: createTrainer({ optimizer: { name: 'adam', learningRate } }), or a schedule plugin.",
};

/** A fit call normalised: fitstream data and options, the fit's own plugins, and what to free after it. */
export interface FitCall {
  readonly data: DataSource;
  readonly options: FitOptions;
  readonly plugins: readonly Plugin[];
  /** Frees tensors the call made (a validationSplit's slices). */
  dispose(): void;
}

function isTensorList(v: unknown): v is readonly tf.Tensor[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => t instanceof tf.Tensor);
}

function isTensorMap(v: unknown): v is { readonly [name: string]: tf.Tensor } {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  const values = Object.values(v);
  return values.length > 0 && values.every((t) => t instanceof tf.Tensor);
}

const isTargetsLike = (v: unknown): v is Targets => v instanceof tf.Tensor || isTensorList(v) || isTensorMap(v);

/**
 * Normalises `fit(data, options)` and `fit(x, y, options)` (tfjs' call shape) into fitstream data and options: tfjs'
 * option names are mapped, tfjs callbacks become a plugin for this fit, unknown names fail with a did-you-mean.
 */
export function normaliseFitCall(model: ModelAdapter, log: (line: string) => void, first: unknown, second: unknown, third: unknown): FitCall {
  const xy = isTargetsLike(second);
  const given = (xy ? (third ?? {}) : second) as TfjsFitArgs | undefined;
  if (given == null || typeof given !== 'object') return { data: first as DataSource, options: given as unknown as FitOptions, plugins: [], dispose: () => undefined };
  assertKnownOptions(given, [...FIT_OPTION_NAMES, ...COMPAT_NAMES], 'options', FIT_HINTS);
  const {
    validationData,
    validationSplit,
    callbacks,
    batchesPerEpoch,
    validationSteps,
    yieldEvery,
    verbose,
    sampleWeight,
    classWeight,
    ...rest
  } = given;
  if (classWeight !== undefined) refuseClassWeight(classWeight);
  let data: DataSource = xy ? { x: inputsOf(model, first), y: second } : (first as DataSource);
  if (sampleWeight !== undefined) data = withSampleWeight(data, sampleWeight);
  let options: FitOptions = { ...rest, epochs: rest.epochs ?? (xy ? 1 : (undefined as unknown as number)) };
  options = renamed(options, 'stepsPerEpoch', 'batchesPerEpoch', batchesPerEpoch);
  options = renamed(options, 'validationBatches', 'validationSteps', validationSteps);
  const yielding = yieldEveryMs(yieldEvery, options.yieldEveryMs, callbacks);
  if (yielding.ms !== undefined) options = { ...options, yieldEveryMs: yielding.ms };
  const plugins: Plugin[] = [];
  if (yielding.everyEpoch) plugins.push(yieldEachEpoch());
  const verbosity = verbosePlugin(verbose, log);
  if (verbosity) plugins.push(verbosity);
  const list = callbacks === undefined ? [] : Array.isArray(callbacks) ? (callbacks as readonly TfjsCallback[]) : [callbacks as TfjsCallback];
  list.forEach(refuseModelFitOnlyCallback);
  if (list.length) plugins.push(tfjsCallbacks(list, options.yieldEveryMs ?? 50));

  // Validation: one of validation, validationData, validationSplit.
  const sources = (['validation', 'validationData', 'validationSplit'] as const).filter((k) => given[k] !== undefined);
  if (sources.length > 1) throw new FitstreamInputError(`options.${sources[1]}`, `gives validation data, and so does options.${sources[0]}; give one of them (validationData is tfjs' name for validation).`);
  if (validationData !== undefined) options = { ...options, validation: validationOf(validationData) };
  let made: tf.Tensor[] = [];
  if (validationSplit !== undefined) {
    const split = splitValidation(data, validationSplit);
    data = split.train;
    options = { ...options, validation: split.validation };
    made = split.tensors;
  }
  return { data, options, plugins, dispose: () => tf.dispose(made) };
}

/** `x` as core takes it: one tensor or a list in input order (a map by input name is ordered by the model's inputs). */
function inputsOf(model: ModelAdapter, x: unknown): tf.Tensor | readonly tf.Tensor[] {
  if (x instanceof tf.Tensor || isTensorList(x)) return x;
  if (isTensorMap(x)) {
    const layers = model.layersModel;
    const names = layers && (layers.inputNames.length === layers.inputs.length ? layers.inputNames : layers.inputLayers.map((l) => l.name));
    if (!names) throw new FitstreamInputError('x', 'is a map by input name, but the model is a FunctionModel without input names; pass a tensor or an array of tensors.');
    const unknown = Object.keys(x).filter((k) => !names.includes(k));
    const missing = names.filter((n) => !(n in x));
    if (unknown.length || missing.length) throw new FitstreamInputError('x', `names ${Object.keys(x).join(', ')} but the model's inputs are ${names.join(', ')}; give one tensor per input, by its name.`);
    const list = names.map((n) => x[n]!);
    return list.length === 1 ? list[0]! : list;
  }
  throw new FitstreamInputError('x', 'must be a tensor, an array of tensors (one per input), or a map by input name (tfjs model.fit(x, y, options)).');
}

function withSampleWeight(data: DataSource, sampleWeight: SampleWeights): DataSource {
  if (!isTensorData(data)) throw new FitstreamInputError('options.sampleWeight', 'weights in-memory rows; a stream carries its weights in each batch ({ x, y, sampleWeight }).');
  if (data.sampleWeight !== undefined) throw new FitstreamInputError('options.sampleWeight', 'and data.sampleWeight both give sample weights; give one.');
  return { ...data, sampleWeight };
}

function renamed<K extends 'stepsPerEpoch' | 'validationBatches'>(options: FitOptions, name: K, tfjsName: string, value: number | undefined): FitOptions {
  if (value === undefined) return options;
  if (options[name] !== undefined && options[name] !== value) throw new FitstreamInputError(`options.${tfjsName}`, `is tfjs' name for ${name}, and both are given (${value} and ${options[name]}); give ${name} only.`);
  return { ...options, [name]: value };
}

function refuseClassWeight(classWeight: unknown): never {
  const map = typeof classWeight === 'object' && classWeight !== null && !Array.isArray(classWeight) ? JSON.stringify(classWeight).replace(/"(\d+)":/g, '$1: ').replace(/,/g, ', ') : '{ 0: 1, 1: 5 }';
  throw new FitstreamInputError('options.classWeight', `core does not weight classes. Use classWeights from '@fitstream/regularisers': trainer.use(classWeights(${map})) — or classWeights('balanced', { labels: yTrain }).`);
}

/** tfjs' `yieldEvery` as `yieldEveryMs`, and whether to yield at each epoch end instead. */
function yieldEveryMs(yieldEvery: ModelFitArgs['yieldEvery'], ms: number | undefined, callbacks: unknown): { ms: number | undefined; everyEpoch: boolean } {
  if (yieldEvery === undefined) return { ms: undefined, everyEpoch: false };
  if (ms !== undefined) throw new FitstreamInputError('options.yieldEvery', 'is tfjs\' name for yieldEveryMs, and both are given; give yieldEveryMs only.');
  if (typeof yieldEvery === 'number') {
    if (!(yieldEvery >= 0)) throw new FitstreamInputError('options.yieldEvery', `must be 'auto', 'batch', 'epoch', 'never' or milliseconds ≥ 0, got ${yieldEvery}.`);
    return { ms: yieldEvery, everyEpoch: false };
  }
  switch (yieldEvery) {
    case 'auto':
      return { ms: undefined, everyEpoch: false };
    case 'batch':
      return { ms: 0, everyEpoch: false };
    case 'epoch':
      return { ms: Number.POSITIVE_INFINITY, everyEpoch: true };
    case 'never': {
      const list = Array.isArray(callbacks) ? callbacks : [callbacks];
      if (list.some((c) => typeof (c as TfjsCallback | undefined)?.onYield === 'function')) {
        throw new FitstreamInputError('options.yieldEvery', "is 'never' but a callback has onYield; change yieldEvery or remove onYield (as tfjs).");
      }
      return { ms: Number.POSITIVE_INFINITY, everyEpoch: false };
    }
    default:
      throw new FitstreamInputError('options.yieldEvery', `must be 'auto', 'batch', 'epoch', 'never' or milliseconds ≥ 0, got ${String(yieldEvery)}.`);
  }
}


function yieldEachEpoch(): Plugin {
  return {
    name: 'fit-option:yieldEvery',
    attach: (events$, control) => events$.subscribe((e) => e.type === 'epoch:end' && control.await(nextMacrotask())),
  };
}

/** `verbose: 1 | 2`: one line per epoch through the trainer's log (Keras' verbose=2); 1 also names the progress bar. */
function verbosePlugin(verbose: ModelFitArgs['verbose'], log: (line: string) => void): Plugin | undefined {
  if (verbose === undefined || verbose === 0) return undefined;
  if (verbose !== 1 && verbose !== 2) throw new FitstreamInputError('options.verbose', `must be 0, 1 or 2, got ${String(verbose)}.`);
  return {
    name: 'fit-option:verbose',
    attach: (events$) => {
      let epochs = 0;
      return events$.subscribe((e) => {
        if (e.type === 'fit:start') {
          epochs = e.epochs;
          if (verbose === 1) log("fitstream: verbose: 1 prints one line per epoch; for tfjs-node's progress bar use progressBar() from '@fitstream/callbacks': trainer.use(progressBar()).");
        }
        if (e.type === 'epoch:end') {
          const metrics = Object.entries(e.metrics).map(([k, v]) => `${k}: ${Number(v).toPrecision(4)}`);
          log(`Epoch ${e.epoch + 1}/${epochs} - ${Math.round(e.durationMs)}ms - ${metrics.join(' - ')}`);
        }
      });
    },
  };
}

/** tfjs callbacks that only `model.fit` can run: refused with the fitstream plugin that does the same. */
function refuseModelFitOnlyCallback(callback: unknown, index: number): void {
  if (callback == null || typeof callback !== 'object') throw new FitstreamInputError(`options.callbacks[${index}]`, 'must be a tfjs callback ({ onEpochEnd(epoch, logs) … }) or a tf.Callback instance.');
  const name = (callback as { constructor?: { name?: string } }).constructor?.name;
  if (callback instanceof tf.EarlyStopping || name === 'EarlyStopping') {
    const es = callback as unknown as { monitor: string; minDelta: number; patience: number; mode: string; baseline?: number };
    const opts = [`monitor: '${es.monitor}'`, `patience: ${es.patience}`, ...(es.minDelta ? [`minDelta: ${Math.abs(es.minDelta)}`] : []), ...(es.mode !== 'auto' ? [`mode: '${es.mode}'`] : []), ...(es.baseline !== undefined ? [`baseline: ${es.baseline}`] : [])];
    throw new FitstreamInputError(
      `options.callbacks[${index}]`,
      `tf.callbacks.earlyStopping works inside tfjs' model.fit only. Use earlyStopping from '@fitstream/callbacks': trainer.use(earlyStopping({ ${opts.join(', ')} })) — it can also restoreBestWeights.`,
    );
  }
  if (name === 'TensorBoardCallback') throw new FitstreamInputError(`options.callbacks[${index}]`, "tfjs-node's tensorBoard callback works inside model.fit only. Use tensorBoard from '@fitstream/callbacks': trainer.use(tensorBoard({ logDir })).");
  if (name === 'ProgressBarLogger') throw new FitstreamInputError(`options.callbacks[${index}]`, "tfjs-node's progress bar works inside model.fit only. Use progressBar() from '@fitstream/callbacks': trainer.use(progressBar()).");
}

/** Validation data from tfjs' `validationData`: a tuple becomes `{ x, y, sampleWeight? }`; anything else passes. */
function validationOf(v: ValidationTuple | DataSource): DataSource {
  if (!Array.isArray(v)) return v as DataSource;
  const looksLikeBatch = (e: unknown) => typeof e === 'object' && e !== null && ('x' in e || 'xs' in e) && ('y' in e || 'ys' in e);
  const isTuple = v.length >= 2 && v.length <= 3 && !looksLikeBatch(v[0]) && (v[0] instanceof tf.Tensor || isTensorList(v[0]) || isTensorMap(v[0])) && isTargetsLike(v[1]);
  if (!isTuple) return v as DataSource;
  const [x, y, sampleWeight] = v as unknown as [TensorData['x'], Targets, SampleWeights | undefined];
  return { x, y, ...(sampleWeight === undefined ? {} : { sampleWeight }) };
}

/** Rows `[start, end)` of every tensor, keeping the structure (one tensor, a list, a map). */
function sliceRows<T extends tf.Tensor | readonly (tf.Tensor | null)[] | { readonly [k: string]: tf.Tensor }>(v: T, start: number, end: number): T {
  const slice = (t: tf.Tensor) => t.slice(start, end - start);
  if (v instanceof tf.Tensor) return slice(v) as T;
  if (Array.isArray(v)) return (v as readonly (tf.Tensor | null)[]).map((t) => (t ? slice(t) : t)) as unknown as T;
  return Object.fromEntries(Object.entries(v).map(([k, t]) => [k, slice(t as tf.Tensor)])) as T;
}

/**
 * tfjs' `validationSplit`: the last fraction of the rows, before any shuffling, split where tfjs splits
 * (`Math.floor(rows · (1 − split))`, tfjs-layers' `fit`), so the same rows validate.
 */
function splitValidation(data: DataSource, split: number): { train: TensorData; validation: TensorData; tensors: tf.Tensor[] } {
  if (typeof split !== 'number' || !(split > 0 && split < 1)) throw new FitstreamInputError('options.validationSplit', `must be a fraction in (0, 1), got ${String(split)}.`);
  if (!isTensorData(data)) throw new FitstreamInputError('options.validationSplit', 'splits in-memory tensors only (as tfjs); for a dataset or stream pass validation data: options.validation (or validationData).');
  const inputs = data.x instanceof tf.Tensor ? [data.x] : data.x;
  const rows = inputs[0]?.shape[0] ?? tensorsIn(data.y)[0]!.shape[0]!;
  const splitAt = Math.floor(rows * (1 - split));
  if (splitAt < 1 || splitAt >= rows) throw new FitstreamInputError('options.validationSplit', `${split} of ${rows} rows leaves ${splitAt} to train on and ${rows - splitAt} to validate; both need at least one.`);
  const part = (start: number, end: number): TensorData => ({
    x: sliceRows(data.x, start, end),
    y: sliceRows(data.y, start, end),
    ...(data.sampleWeight === undefined ? {} : { sampleWeight: sliceRows(data.sampleWeight, start, end) }),
  });
  const train = part(0, splitAt);
  const validation = part(splitAt, rows);
  const all = (d: TensorData) => [...(d.x instanceof tf.Tensor ? [d.x] : d.x), ...tensorsIn(d.y), ...tensorsIn(d.sampleWeight)];
  return { train, validation, tensors: [...all(train), ...all(validation)] };
}

interface TfjsCallbackInstance {
  setModel?(model: tf.LayersModel): void;
  setParams?(params: Record<string, unknown>): void;
}

/**
 * tfjs callbacks as a plugin of one fit: each hook runs at the matching event with Keras-shaped logs, its promise
 * holds the loop (`control.await`), and `model.stopTraining = true` set by a hook stops the fit, as in tfjs.
 */
export function tfjsCallbacks(callbacks: readonly TfjsCallback[], yieldEveryMs: number): Plugin {
  const readsBatches = callbacks.some((c) => typeof c.onBatchEnd === 'function' || typeof c.onYield === 'function');
  return {
    name: 'fit-option:callbacks',
    attach: (events$, control): Subscription => {
      const layers = control.model instanceof tf.LayersModel ? control.model : undefined;
      // tfjs' flag (a Sequential has it once compiled); reset at fit start as tfjs does.
      const stopFlag = (value?: boolean): boolean => {
        try {
          if (layers && value !== undefined) layers.stopTraining = value;
          return layers?.stopTraining ?? false;
        } catch {
          return false;
        }
      };
      stopFlag(false);
      for (const c of callbacks) if (layers) (c as TfjsCallbackInstance).setModel?.(layers);
      let epoch = 0;
      let lastEpochLogs: TfjsLogs | undefined;
      let lastYield = performance.now();
      const has = (hook: keyof TfjsCallback) => callbacks.some((c) => typeof c[hook] === 'function');
      const run = (hook: (c: TfjsCallback) => unknown) => {
        const task = (async () => {
          for (const c of callbacks) await hook(c);
          if (stopFlag()) control.stop('model.stopTraining was set by a callback');
        })();
        control.await(task);
      };
      return events$.subscribe((e) => {
        switch (e.type) {
          case 'fit:start':
            for (const c of callbacks) {
              (c as TfjsCallbackInstance).setParams?.({ epochs: e.epochs, initialEpoch: e.initialEpoch, samples: e.samples, steps: e.batchesPerEpoch, batchSize: e.batchSize, verbose: 0, metrics: [...control.metricNames, ...control.metricNames.map((n) => `val_${n}`)] });
            }
            if (has('onTrainBegin')) run((c) => c.onTrainBegin?.({}));
            break;
          case 'epoch:start':
            epoch = e.epoch;
            if (has('onEpochBegin')) run((c) => c.onEpochBegin?.(e.epoch, {}));
            break;
          case 'batch:start':
            if (has('onBatchBegin')) run((c) => c.onBatchBegin?.(e.batch, {})); // as tfjs: batch and size come with onBatchEnd
            break;
          case 'batch:end': {
            if (!readsBatches) break;
            const values = readMetricsAsync(e.metrics);
            const due = performance.now() - lastYield >= yieldEveryMs;
            if (due) lastYield = performance.now();
            run(async (c) => {
              const logs: TfjsLogs = { batch: e.batch, size: e.size, ...(await values) };
              await c.onBatchEnd?.(e.batch, logs);
              if (due) await c.onYield?.(epoch, e.batch, logs);
            });
            break;
          }
          case 'epoch:end': {
            const logs: TfjsLogs = { ...e.metrics };
            lastEpochLogs = logs;
            run((c) => c.onEpochEnd?.(e.epoch, { ...logs }));
            break;
          }
          case 'fit:end':
            if (e.reason !== 'error') run((c) => c.onTrainEnd?.(lastEpochLogs ? { ...lastEpochLogs } : {}));
            break;
          default:
            break;
        }
      });
    },
  };
}
