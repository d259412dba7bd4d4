import { z } from 'zod';

/**
 * The configuration of a run, one schema per recipe: what `fitstream train <recipe>` resolves from the recipe's
 * defaults, a config file (JSON or YAML) and flags, and writes to `<run>/config.json`. Every option of every plugin the
 * CLI uses is here, except the file paths (fixed by the run directory's layout) and the options that take functions
 * or streams.
 */

export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamax', 'rmsprop', 'adagrad', 'adadelta'] as const;
const MODES = ['auto', 'min', 'max'] as const;

const int = (min: number) => z.int().min(min);
const positive = () => z.number().positive();

/** Names that can be monitored: the loss and the metrics, and their validation counterparts. */
function logNames(metrics: readonly string[]): [string, ...string[]] {
  const train = ['loss', ...metrics];
  return [...train, ...train.map((n) => `val_${n}`)] as [string, ...string[]];
}

const warmup = z.strictObject({ steps: int(1), startFactor: z.number().min(0).max(1).optional() });
const scheduleCommon = { interval: z.enum(['step', 'epoch']).optional(), initialLr: positive().optional(), warmup: warmup.optional() };

/** The learning-rate schedule: one of callbacks' schedules (`type`), with its options and an optional linear warm-up. */
export const lrScheduleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('constantLr'), ...scheduleCommon }),
  z.strictObject({ type: z.literal('stepDecay'), stepSize: int(1), gamma: positive().optional(), ...scheduleCommon }),
  z.strictObject({ type: z.literal('multiStepDecay'), milestones: z.array(int(1)).min(1), gamma: positive().optional(), ...scheduleCommon }),
  z.strictObject({ type: z.literal('exponentialDecay'), decayRate: positive(), decaySteps: int(1), staircase: z.boolean().optional(), ...scheduleCommon }),
  z.strictObject({ type: z.literal('polynomialDecay'), decaySteps: int(1), endLr: z.number().min(0).optional(), power: positive().optional(), cycle: z.boolean().optional(), ...scheduleCommon }),
  z.strictObject({ type: z.literal('cosineDecay'), totalSteps: int(1), minLr: z.number().min(0).optional(), ...scheduleCommon }),
  z.strictObject({ type: z.literal('cosineRestarts'), t0: int(1), tMult: int(1).optional(), minLr: z.number().min(0).optional(), restartDecay: positive().optional(), ...scheduleCommon }),
  z.strictObject({
    type: z.literal('oneCycle'),
    maxLr: positive(),
    totalSteps: int(1),
    pctStart: z.number().gt(0).lt(1).optional(),
    annealStrategy: z.enum(['cos', 'linear']).optional(),
    divFactor: positive().optional(),
    finalDivFactor: positive().optional(),
    threePhase: z.boolean().optional(),
    interval: z.enum(['step', 'epoch']).optional(),
  }),
]);

/** The `callbacks` section of a recipe configuration (one entry per plugin), with monitors among `metrics` and their `val_` forms. */
export function callbacksSchema(metrics: readonly string[]) {
  const monitor = z.enum(logNames(metrics));
  return z.strictObject({
    progressBar: z.strictObject({ enabled: z.boolean(), mode: z.enum(['auto', 'bar', 'lines']), refreshMs: z.number().min(0), metrics: z.array(z.enum(logNames(metrics))).optional() }),
    jsonlLogger: z.strictObject({ readBatchMetricsEvery: int(0), flushAtChars: int(1).optional() }),
    csvLogger: z.strictObject({ enabled: z.boolean(), separator: z.string().min(1) }),
    tensorBoard: z.strictObject({ enabled: z.boolean(), updateFreq: z.union([z.literal('epoch'), int(1)]), histogramFreq: int(0), gradientFreq: int(0), buckets: int(1) }),
    trainingReport: z.strictObject({
      enabled: z.boolean(),
      title: z.string().optional(),
      stepEvery: int(0),
      png: z.union([z.boolean(), z.literal('auto')]),
      everyEpoch: z.boolean(),
      everySeconds: z.number().min(0),
      smoothing: z.union([z.literal('auto'), z.number().min(0).lt(1)]),
      logScale: z.union([z.literal('auto'), z.boolean()]),
    }),
    modelCheckpoint: z.strictObject({
      enabled: z.boolean(),
      monitor: monitor.optional(),
      mode: z.enum(MODES),
      keepBest: int(1),
      everyEpochs: int(1).optional(),
      everySteps: int(1).optional(),
      everyMinutes: positive().optional(),
      keepLast: int(1).optional(),
      filename: z.string().min(1),
    }),
    backupAndRestore: z.strictObject({
      enabled: z.boolean(),
      everyEpochs: z.union([int(1), z.literal(false)]),
      everySteps: int(1).optional(),
      saveOnInterrupt: z.boolean(),
      deleteOnFinish: z.boolean(),
    }),
    earlyStopping: z.strictObject({
      enabled: z.boolean(),
      monitor,
      mode: z.enum(MODES),
      minDelta: z.number().min(0),
      patience: int(0),
      baseline: z.number().optional(),
      startFromEpoch: int(0),
      restoreBestWeights: z.boolean(),
    }),
    reduceLROnPlateau: z.strictObject({
      enabled: z.boolean(),
      monitor,
      mode: z.enum(MODES),
      factor: z.number().gt(0).lt(1),
      patience: int(0),
      cooldown: int(0),
      minLr: z.number().min(0),
      minDelta: z.number().min(0),
    }),
    lrSchedule: lrScheduleSchema,
    terminateOnNaN: z.strictObject({ enabled: z.boolean(), every: int(1), skipUpdate: z.boolean() }),
    lossSpikeGuard: z.strictObject({
      enabled: z.boolean(),
      window: int(2).optional(),
      threshold: positive().optional(),
      minHistory: int(1).optional(),
      action: z.enum(['log', 'skip', 'rollback']),
      lrFactor: z.number().gt(0).max(1).optional(),
      snapshotEvery: int(1).optional(),
      maxConsecutive: int(1).optional(),
    }),
    timeBudget: z.strictObject({
      enabled: z.boolean(),
      hours: z.number().min(0).optional(),
      minutes: z.number().min(0).optional(),
      seconds: z.number().min(0).optional(),
      interval: z.enum(['step', 'epoch']),
      checkpoint: z.boolean(),
    }),
  });
}

/** The `fit` section: core fit options. */
export const fitSchema = z.strictObject({
  validationEvery: int(1),
  validationBatchSize: int(1).optional(),
  shuffle: z.boolean(),
  dropLast: z.boolean(),
  accumulateBatches: int(1),
  limitBatches: positive().optional(),
  limitValidationBatches: positive().optional(),
  overfitBatches: int(1).optional(),
  checkData: z.enum(['first-epoch', 'always', 'never']),
  yieldEveryMs: z.number().min(0),
});

/** The `cv` section of `fitstream cv`. */
export const cvSchema = z.strictObject({ folds: int(2), shuffle: z.boolean(), validateOnTest: z.boolean() });

/** The `lrFinder` section of `fitstream lr-find`. */
export const lrFinderSchema = z.strictObject({
  minLr: positive(),
  maxLr: positive(),
  steps: int(1),
  smoothing: z.number().min(0).lt(1),
  divergeThreshold: z.union([z.number().gt(1), z.null()]),
  batchSize: int(1),
  skipStart: int(0),
  skipEnd: int(0),
});

/** The `data` section of a recipe on one hold-out split of a cached data set (iris, housing). */
export const holdoutDataSchema = z.strictObject({ testFraction: z.number().gt(0).lt(1), cache: z.boolean() });

/** What every recipe's configuration holds; `data` and `model` are the recipe's own. */
export function configSchema<D extends z.ZodType, Mo extends z.ZodType>(recipe: string, metrics: readonly string[], data: D, model: Mo) {
  return z.strictObject({
    recipe: z.literal(recipe),
    seed: z.int(),
    backend: z.enum(BACKENDS),
    epochs: int(1),
    batchSize: int(1),
    lr: positive(),
    optimizer: z.enum(OPTIMIZERS),
    /** `true` = one batch of training and one of validation, one epoch; a number n = n batches. */
    fastDevRun: z.union([z.boolean(), int(1)]),
    out: z.string().min(1),
    data,
    model,
    fit: fitSchema,
    callbacks: callbacksSchema(metrics),
    cv: cvSchema,
    lrFinder: lrFinderSchema,
  });
}

/** A resolved configuration, recipe-independent view. */
export interface RunConfig {
  readonly recipe: string;
  readonly seed: number;
  readonly backend: (typeof BACKENDS)[number];
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: (typeof OPTIMIZERS)[number];
  readonly fastDevRun: boolean | number;
  readonly out: string;
  readonly data: Record<string, unknown>;
  readonly model: Record<string, unknown>;
  readonly fit: z.infer<typeof fitSchema>;
  readonly callbacks: z.infer<ReturnType<typeof callbacksSchema>>;
  readonly cv: z.infer<typeof cvSchema>;
  readonly lrFinder: z.infer<typeof lrFinderSchema>;
}

export type LrScheduleConfig = z.infer<typeof lrScheduleSchema>;

/** Defaults shared by every recipe (a recipe overrides some). */
export function commonDefaults(recipe: string, monitor: string): Omit<RunConfig, 'data' | 'model' | 'epochs' | 'batchSize' | 'lr'> {
  return {
    recipe,
    seed: 42,
    backend: 'auto',
    optimizer: 'adam',
    fastDevRun: false,
    out: 'runs',
    fit: { validationEvery: 1, shuffle: true, dropLast: false, accumulateBatches: 1, checkData: 'first-epoch', yieldEveryMs: 50 },
    callbacks: {
      progressBar: { enabled: true, mode: 'auto', refreshMs: 100 },
      jsonlLogger: { readBatchMetricsEvery: 1 },
      csvLogger: { enabled: true, separator: ',' },
      tensorBoard: { enabled: true, updateFreq: 'epoch', histogramFreq: 0, gradientFreq: 0, buckets: 30 },
      trainingReport: { enabled: true, stepEvery: 1, png: false, everyEpoch: true, everySeconds: 30, smoothing: 'auto', logScale: 'auto' },
      modelCheckpoint: { enabled: true, monitor: monitor, mode: 'auto', keepBest: 1, filename: 'epoch-{epoch:04d}-step-{step:08d}' },
      backupAndRestore: { enabled: true, everyEpochs: 1, saveOnInterrupt: true, deleteOnFinish: true },
      earlyStopping: { enabled: true, monitor, mode: 'auto', minDelta: 0, patience: 10, startFromEpoch: 0, restoreBestWeights: true },
      reduceLROnPlateau: { enabled: false, monitor: 'val_loss', mode: 'auto', factor: 0.1, patience: 10, cooldown: 0, minLr: 0, minDelta: 1e-4 },
      lrSchedule: { type: 'none' },
      terminateOnNaN: { enabled: true, every: 1, skipUpdate: true },
      lossSpikeGuard: { enabled: false, window: 50, threshold: 6, minHistory: 10, action: 'skip', lrFactor: 0.5, snapshotEvery: 1, maxConsecutive: 10 },
      timeBudget: { enabled: false, interval: 'step', checkpoint: false },
    },
    cv: { folds: 5, shuffle: true, validateOnTest: false },
    lrFinder: { minLr: 1e-7, maxLr: 10, steps: 100, smoothing: 0.98, divergeThreshold: 4, batchSize: 32, skipStart: 10, skipEnd: 1 },
  };
}

/** What a recipe sets on top of {@link commonDefaults}: its schedule, data and model, and the callback options it changes. */
export interface RecipeDefaults {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly data: Record<string, unknown>;
  readonly model: Record<string, unknown>;
  /** Per callback section, the options that differ from the common defaults (the others stay). */
  readonly callbacks?: { readonly [S in keyof RunConfig['callbacks']]?: Partial<RunConfig['callbacks'][S]> };
  readonly lrFinder?: Partial<RunConfig['lrFinder']>;
}

/** A recipe's defaults: {@link commonDefaults} (checkpoints and early stopping on `monitor`) with the recipe's own on top. */
export function recipeDefaults(recipe: string, monitor: string, own: RecipeDefaults): RunConfig {
  const base = commonDefaults(recipe, monitor);
  const { callbacks = {}, lrFinder = {}, ...rest } = own;
  const sections = Object.fromEntries(Object.entries(callbacks).map(([name, options]) => [name, { ...base.callbacks[name as keyof RunConfig['callbacks']], ...options }]));
  return { ...base, ...rest, callbacks: { ...base.callbacks, ...sections } as RunConfig['callbacks'], lrFinder: { ...base.lrFinder, ...lrFinder } };
}
