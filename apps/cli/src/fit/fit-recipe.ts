import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { LossName, Plugin, Random } from '@fitstream/core';
import type { LrScalingOptions } from '@fitstream/distributed';
import type { z } from 'zod';
import { ConfigError } from '../config/resolve.js';
import type { RunConfig } from '../config/schema.js';
import { loadUserData, type DataEncodingRecord, type UserData } from '../data/load-user-data.js';
import { encodingFacts, readNewData, type EncodingFacts } from '../data/read-new-data.js';
import type { ResolvedDataSpec } from '../data/spec.js';
import { loadUserModel } from '../model/load-user-model.js';
import type { LoadedData, PreparedData, RecipeDefinition } from '../recipes/recipe.js';
import { fitConfigSchema, fitDefaults, runView, type FitConfig, type OptimizerConfig } from './fit-config.js';
import { currentReplica, writesRunDirectory } from './distributed.js';
import { buildPlugins, loadModulePlugins, type PluginEntry } from './plugin-check.js';

type Task = 'classification' | 'regression';

// A distributed run's other replicas would repeat rank 0's lines.
const stderr = (line: string) => void (writesRunDirectory() ? process.stderr.write(`fitstream: ${line}\n`) : undefined);

/** The facts of freshly loaded data (the same facts `encodingFacts` reads back from `data.json` for predict/evaluate). */
function loadedFacts(data: UserData): EncodingFacts {
  return encodingFacts(data.encoding.toJSON() as DataEncodingRecord);
}

/** `tf.train.*` with the configured options (a name alone is core's to build). */
function optimizerOf(spec: Exclude<OptimizerConfig, string>, lr: number): tf.Optimizer {
  const o = (spec.with ?? {}) as Record<string, number | boolean | undefined>;
  const n = (key: string) => o[key] as number | undefined;
  switch (spec.name) {
    case 'sgd':
      return tf.train.sgd(lr);
    case 'momentum':
      return tf.train.momentum(lr, n('momentum') ?? 0.9, o['useNesterov'] === true);
    case 'adam':
      return tf.train.adam(lr, n('beta1'), n('beta2'), n('epsilon'));
    case 'adamax':
      return tf.train.adamax(lr, n('beta1'), n('beta2'), n('epsilon'), n('decay'));
    case 'rmsprop':
      return tf.train.rmsprop(lr, n('decay'), n('momentum'), n('epsilon'), o['centered'] === true);
    case 'adagrad':
      return tf.train.adagrad(lr, n('initialAccumulatorValue'));
    case 'adadelta':
      return tf.train.adadelta(lr, n('rho'), n('epsilon'));
  }
}

/**
 * The recipe of `fitstream fit`, built from its configuration: the data layer (`loadUserData`) loads, splits and
 * encodes the user's file, the model loader (`loadUserModel`) builds the user's model against the data's shape, loss
 * and metrics follow the task unless configured, and the `callbacks`/`regularisers`/`sampler` lists become plugins. The
 * run itself is `train <recipe>`'s: run directory, checkpoints, events.jsonl, metrics.csv, TensorBoard, report, resume,
 * evaluate and predict (rows encoded with the run's recorded encoding).
 *
 * @example
 * ```ts
 * const recipe = createFitRecipe().withConfig!(config); // config: a validated fit configuration
 * ```
 */
export function createFitRecipe(bound?: FitConfig): RecipeDefinition {
  let facts: EncodingFacts | undefined;
  let loaded: UserData | undefined;
  let optimizer: tf.Optimizer | undefined;
  // The training labels, for `classWeights: balanced` (read from the device once, only when it is listed).
  let trainLabels: ArrayLike<number> | undefined;
  const fit = (config: RunConfig) => config as unknown as FitConfig;
  const task = (): Task => facts?.task ?? bound?.data.task ?? 'classification';
  const lists = (config: FitConfig) => ({ callbacks: config.callbacks as PluginEntry[], regularisers: config.regularisers as PluginEntry[], sampler: config.sampler });

  const recipe: RecipeDefinition = {
    name: 'fit',
    summary: 'your own model and data: --model model.json|.keras|.ts --data data.csv --target <column>',
    get task() {
      return task();
    },
    get loss(): LossName {
      return bound?.loss ?? (task() === 'classification' ? 'sparseCategoricalCrossentropy' : 'meanSquaredError');
    },
    get metrics(): readonly string[] {
      return bound?.metrics ?? (task() === 'classification' ? ['accuracy'] : ['mae']);
    },
    get featureCount() {
      return facts?.featureNames.length ?? 0;
    },
    get featureNames() {
      return facts?.featureNames ?? [];
    },
    get targetName(): string {
      const t: string | readonly string[] | undefined = facts?.target ?? bound?.data.columns.target;
      return (typeof t === 'string' ? t : t?.join('+')) || 'target';
    },
    schema: fitConfigSchema as unknown as z.ZodType<RunConfig>,
    defaults: () => fitDefaults() as unknown as RunConfig,
    unsupported: {
      cv: '`fitstream cv` takes recipes only for now; a fit run is validated on its data.split.validation rows.',
      'lr-find': '`fitstream lr-find` takes recipes only for now; try lr values with `fitstream fit --lr`.',
    },
    withConfig: (config) => createFitRecipe(fit(config)),
    runView: (config) => runView(fit(config)),

    async load(config): Promise<LoadedData> {
      const c = fit(config);
      // The user's plugin modules, imported now so that plugins() can build them (resume reads config.json alone).
      await loadModulePlugins(lists(c));
      loaded = await loadUserData(c.data, { seed: c.seed, log: stderr });
      facts = loadedFacts(loaded);
      return { x: loaded.train.x, y: loaded.train.y, metadata: { classNames: [...facts.classNames] }, cache: null };
    },
    prepare(config): PreparedData {
      if (!loaded) throw new Error('fit: prepare() before load()');
      const data = loaded;
      loaded = undefined;
      const c = fit(config);
      const info = {
        dataset: { name: basename(c.data.path), path: c.data.path, task: data.task, classNames: [...(data.classNames ?? [])] },
        ...data.info,
        preprocessing: data.info.preprocessing as unknown as Record<string, unknown>,
      };
      const weighted = c.regularisers.some((e) => (e as PluginEntry).use === 'classWeights');
      trainLabels = data.task === 'classification' && weighted ? data.train.y.dataSync() : undefined;
      const side = (s: UserData['train']) => ({ x: s.x, y: s.y, ...(s.sampleWeight ? { sampleWeight: s.sampleWeight } : {}) });
      return { train: side(data.train), validation: side(data.validation), info };
    },
    cvPreprocessors() {
      throw new ConfigError(recipe.unsupported!['cv']!);
    },
    buildModel() {
      throw new ConfigError('a fit run builds its model from files: loadModel');
    },
    async loadModel(config, random: Random) {
      if (!facts) throw new Error('fit: loadModel() before load()');
      const c = fit(config);
      return loadUserModel(c.model, {
        inputShape: facts.inputShape,
        outputUnits: facts.outputCount,
        task: facts.task,
        seed: c.seed,
        random,
        featureNames: facts.featureNames,
        classNames: facts.classNames,
        log: stderr,
      });
    },
    optimizer(config) {
      const spec = fit(config).optimizer;
      if (typeof spec === 'string') return undefined;
      optimizer = optimizerOf(spec, config.lr);
      return optimizer;
    },
    plugins(config): Plugin[] {
      const c = fit(config);
      const context = { log: stderr, classNames: facts?.classNames, labels: trainLabels };
      const replica = currentReplica();
      const plugins: Plugin[] = buildPlugins(replica ? { ...lists(c), sampler: null } : lists(c), context);
      if (replica) {
        // A replica of a distributed run: synchronous data-parallel SGD, sharding the configured sampler's epochs.
        const sampler = c.sampler ? buildPlugins({ callbacks: [], regularisers: [], sampler: c.sampler as PluginEntry }, context)[0] : undefined;
        const lr = c.distributed?.lr;
        plugins.unshift(replica.dataParallel(replica.ctx, { ...(sampler ? { sampler } : {}), ...(lr === undefined ? {} : { lr: lr as LrScalingOptions }) }));
      }
      // The optimizer built with options is the run's, not the trainer's: disposed with the trainer's plugins.
      const owned = optimizer;
      if (owned) plugins.push({ name: 'fit:optimizer', dispose: () => owned.dispose() });
      return plugins;
    },
    inputs() {
      throw new Error('fit runs read rows with readData (the run’s recorded encoding)');
    },
    targets: (values) => (task() === 'classification' ? tf.tensor1d([...values], 'int32') : tf.tensor2d([...values], [values.length, 1])),
    async readData(file, preprocessing, { labelled, log }) {
      // Any kind the run trained on (table rows, arrays, images), encoded with the run's recorded encoding.
      const record = preprocessing as unknown as DataEncodingRecord;
      facts = encodingFacts(record);
      const spec = (bound?.data ?? {}) as Partial<ResolvedDataSpec>;
      const read = await readNewData(file, record, { reader: { ...(spec.header === undefined ? {} : { header: spec.header }), ...(spec.missing === undefined ? {} : { missing: spec.missing }) } });
      for (const w of read.warnings) log(`fitstream: ${w}`);
      read.sampleWeight?.dispose();
      if (labelled && !read.y) {
        read.x.dispose();
        throw new ConfigError(`${file}: evaluate needs the target (${facts.target.map((c) => JSON.stringify(c)).join(', ')}) for every row or sample.`);
      }
      if (!labelled) {
        read.y?.dispose();
        return { x: read.x };
      }
      return { x: read.x, y: read.y };
    },
  };
  return recipe;
}
