import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Random, createTrainer, fileSystem, findCheckpoint, selectBackend, type BackendSelection, type MetricSpec, type Trainer } from '@fitstream/core';
import type { ProgressStream } from '@fitstream/callbacks';
import { ConfigError, isConfigPath, merge, readConfigFile, validate } from '../config/resolve.js';
import type { RunConfig } from '../config/schema.js';
import { EXIT } from '../exit.js';
import { FIT_RECIPE, RECIPES, recipeList } from '../recipes/index.js';
import { isExperiment, type BaseConfig, type ExperimentRecipe, type ExperimentSummary, type Io, type PreparedData, type RecipeDefinition, type TrainSummary } from '../recipes/recipe.js';
import { environmentRecord } from './environment.js';
import { fitSummary } from './fit-summary.js';
import { formatNumber } from './format.js';
import { fitOptions } from './fit-options.js';
import { callbackPlugins, deleteBackup, findBackup, isInterruption, pauseAfterEpochs, runPaths } from './plugins.js';
import { evaluateModel } from './evaluation.js';
import { writeRunReport } from './report.js';
import { createRunDirectory, writeJson } from './run-directory.js';
import { chooseCheckpoint, reportSkip, resumeCheckpoint, type CheckpointChoice } from './checkpoints.js';
import { lockRunDirectory } from './run-lock.js';
import { currentReplica, distributedOf, launchReplicas, onRankZero, writesRunDirectory } from '../fit/distributed.js';
import { withModulesResolved } from '../fit/user-plugins.js';


/** A recipe and its validated configuration. */
export interface Resolved {
  readonly recipe: RecipeDefinition;
  readonly config: RunConfig;
}

/** An experiment recipe (births, sensors) and its validated configuration. */
export interface ResolvedExperiment {
  readonly recipe: ExperimentRecipe;
  readonly config: BaseConfig;
}

/** What {@link resolveConfig} returns: either kind of recipe. */
export type AnyResolved = Resolved | ResolvedExperiment;

/** Narrows to a single-model recipe; an experiment recipe is a usage error (exit code 2) for `command`. */
export function modelRecipe(resolved: AnyResolved, command: string): Resolved {
  if (isExperiment(resolved.recipe)) {
    throw new ConfigError(`\`fitstream ${command}\` does not apply to the ${resolved.recipe.name} recipe (${resolved.recipe.summary}); run it with \`fitstream train ${resolved.recipe.name}\`.`);
  }
  const unsupported = resolved.recipe.unsupported?.[command];
  if (unsupported !== undefined) throw new ConfigError(`\`fitstream ${command}\` does not apply to ${resolved.recipe.name} configurations: ${unsupported}`);
  return resolved as Resolved;
}

/**
 * Resolves a run's configuration: the recipe's defaults, then the config file (when `target` is a `.json`/`.yaml`
 * path), then the flags. Validated against the recipe's schema; problems throw a {@link ConfigError} (exit code 2).
 */
export async function resolveConfig(target: string, overrides: Record<string, unknown>): Promise<AnyResolved> {
  let file: Record<string, unknown> = {};
  let name = target;
  let source = `recipe ${target}`;
  if (isConfigPath(target)) {
    file = await readConfigFile(target);
    if (typeof file['recipe'] !== 'string') throw new ConfigError(`the config file ${target} must name its recipe: "recipe": one of ${[...RECIPES.keys()].map((k) => JSON.stringify(k)).join(', ')}.`);
    name = file['recipe'];
    source = target;
    // A fit configuration's plugin modules are relative to its file (as `fitstream fit` resolves them), also as a sweep's base.
    if (name === FIT_RECIPE.name) file = withModulesResolved(file, dirname(target));
  }
  const entry = RECIPES.get(name) ?? (name === FIT_RECIPE.name ? FIT_RECIPE : undefined);
  if (!entry) throw new ConfigError(`recipe: unknown recipe "${name}". Available recipes: ${recipeList()}.`);
  const recipe = await entry.load();
  const merged = merge(merge(recipe.defaults(), file), overrides);
  const where = Object.keys(overrides).length > 0 ? `${source} + flags` : source;
  if (isExperiment(recipe)) return { recipe, config: validate(recipe.schema, merged, where) };
  const config = validate(recipe.schema, merged, where);
  if (config.lrFinder.maxLr <= config.lrFinder.minLr) throw new ConfigError(`invalid configuration (${source}):\n  lrFinder.maxLr: must be > lrFinder.minLr (${config.lrFinder.minLr}), got ${config.lrFinder.maxLr}.`);
  // A recipe built from its configuration (fit: the user's model and data) is bound to it here.
  return { recipe: recipe.withConfig?.(config) ?? recipe, config };
}

/** Reads and re-validates the configuration a run directory was written with. */
export async function runConfig(runDir: string): Promise<AnyResolved> {
  if (/(^|[\\/])config\.json$/.test(runDir)) throw new ConfigError(`${runDir}: pass the run directory (${dirname(runDir) || '.'}), not its config.json.`);
  const path = runPaths(runDir).config;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError(`${runDir} is not a fitstream run directory: ${path} is missing.`);
  }
  return resolveConfig(path, {}).catch((error: unknown) => {
    if (error instanceof ConfigError) throw error;
    throw new Error(`cannot read ${path}: ${(error as Error).message} (${text.length} characters)`);
  });
}

/** Creates the trainer of a recipe's model with the config's optimizer, learning rate and seed. */
export function recipeTrainer(recipe: RecipeDefinition, config: RunConfig, model: tf.LayersModel, io: Io): Trainer<string> {
  return createTrainer({
    model,
    optimizer: recipe.optimizer?.(config) ?? { name: (recipe.runView?.(config) ?? config).optimizer, learningRate: config.lr },
    loss: recipe.loss,
    metrics: [...recipe.metrics] as MetricSpec[],
    seed: config.seed,
    backend: config.backend,
    log: io.err,
  }) as unknown as Trainer<string>;
}

/** Loads and prepares a recipe's data (deterministic: the same seed gives the same split and statistics). */
export async function prepareData(recipe: RecipeDefinition, config: RunConfig): Promise<PreparedData> {
  return recipe.prepare(config, await recipe.load(config));
}

export interface TrainOutcome {
  readonly code: number;
  readonly summary: TrainSummary | ExperimentSummary | undefined;
}

/**
 * Trains (or, with `resumeDir`, resumes) a run: selects the backend, writes the run directory, fits with the
 * configured callbacks, saves the final model to `model/`, evaluates it on the validation split (`evaluation.json`,
 * with a confusion matrix for classifiers) and writes `report.html`. SIGINT/SIGTERM stop after the current step;
 * backupAndRestore writes a checkpoint and the command exits with 130/143.
 */
export async function train(resolved: AnyResolved, io: Io, options: { json: boolean; resumeDir?: string; from?: CheckpointChoice; runDir?: string; pauseAfter?: number }): Promise<TrainOutcome> {
  if (isExperiment(resolved.recipe)) {
    if (options.resumeDir !== undefined) throw new Error(`nothing to resume in ${options.resumeDir}: ${resolved.recipe.name} runs keep no backup; run it again with \`fitstream train ${join(options.resumeDir, 'config.json')}\`.`);
    return resolved.recipe.run(resolved.config, io, { json: options.json });
  }
  const { recipe, config } = resolved as Resolved;
  const log = options.json ? io.err : io.out;
  const resuming = options.resumeDir !== undefined;
  // A fit with `distributed: { replicas: n }`: this process launches the replicas (fit/fit-replica.ts), which train.
  const distributed = currentReplica() ? undefined : distributedOf(config);
  if (distributed && options.pauseAfter !== undefined) throw new ConfigError(`--pause-after stops single-process runs; ${options.resumeDir ?? 'this run'} trains distributed: stop it with Ctrl-C instead.`);
  if (distributed) {
    const runDir = options.resumeDir ?? (await createRunDirectory(config.out, recipe.name));
    const unlock = await lockRunDirectory(runDir, resuming ? `resume ${runDir}` : `train ${recipe.name}`);
    try {
      return await launchReplicas(runDir, config, distributed, io, { json: options.json, resuming, from: options.from });
    } finally {
      await unlock();
    }
  }

  const selection = await selectBackend({ prefer: config.backend, log: io.err });
  const runDir = options.resumeDir ?? options.runDir ?? (await createRunDirectory(config.out, recipe.name));
  // One process trains in a run directory at a time: a resume beside a live trainer would tear its backups and log.
  // (The replicas of a distributed run train in the directory their launcher locked.)
  const unlock = currentReplica() ? () => Promise.resolve() : await lockRunDirectory(runDir, resuming ? `resume ${runDir}` : `train ${recipe.name}`);
  try {
    return await trainIn(runDir, { recipe, config }, io, { ...options, log, selection });
  } finally {
    await unlock();
  }
}

/** Where a resumed run continues: `--from`, else its newest complete checkpoint, else its first step. */
async function resumePoint(runDir: string, config: RunConfig, from: CheckpointChoice | undefined, log: (line: string) => void): Promise<string | undefined> {
  const paths = runPaths(runDir);
  if (from !== undefined) {
    const checkpoint = await chooseCheckpoint(runDir, from, '--from', log);
    log(`resuming ${runDir} from ${checkpoint} (--from ${from})`);
    return checkpoint;
  }
  // A finished run has its model and no backup left; continuing it from an older checkpoint takes --from.
  if ((await exists(paths.model)) && !(await findCheckpoint(paths.backup, { onSkip: reportSkip(log) }))) {
    throw new Error(`nothing to resume in ${runDir}: the run finished (its model is in ${paths.model}) and ${paths.backup} holds no checkpoint. To train on from one of its checkpoints, pass --from best, --from last or --from <checkpoint>.`);
  }
  const checkpoint = await resumeCheckpoint(runDir, log);
  if (checkpoint) {
    log(`resuming ${runDir} from ${checkpoint}`);
    return checkpoint;
  }
  if (!config.callbacks.backupAndRestore.enabled) throw new ConfigError(`cannot resume ${runDir}: it ran with callbacks.backupAndRestore.enabled = false and left no checkpoint in ${paths.checkpoints}.`);
  log(`resuming ${runDir} from its first step: it was stopped before its first backup`);
  return undefined;
}

async function trainIn(
  runDir: string,
  { recipe, config: given }: Resolved,
  io: Io,
  options: { json: boolean; resumeDir?: string; from?: CheckpointChoice; pauseAfter?: number; log: (line: string) => void; selection: BackendSelection },
): Promise<TrainOutcome> {
  const { log, selection } = options;
  // The recipe's hooks take its configuration as written; the run machinery (callbacks, fit options) reads its view.
  const config = recipe.runView?.(given) ?? given;
  const progress: ProgressStream = options.json ? process.stderr : process.stdout;
  const resuming = options.resumeDir !== undefined;
  const paths = runPaths(runDir);
  // Resuming from a checkpoint, or starting over: a run killed before its first backup resumes from its first step.
  const resumeFrom = resuming ? await resumePoint(runDir, config, options.from, log) : undefined;
  const fromCheckpoint = resumeFrom !== undefined;
  // A distributed run's directory is written by rank 0 alone.
  const writer = writesRunDirectory();
  if (!resuming && writer) await writeJson(paths.config, given);
  if (writer && !fromCheckpoint && !(resuming && (await exists(paths.environment)))) await writeJson(paths.environment, await environmentRecord(selection, config.backend));

  const prepared = await prepareData(recipe, given);
  const disposeData = () => tf.dispose([prepared.train, prepared.validation].flatMap((p) => [p.x, p.y, (p as { sampleWeight?: tf.Tensor }).sampleWeight].filter((t) => t !== undefined)));
  if (!fromCheckpoint && writer) await writeJson(paths.data, prepared.info);
  const random = Random.fromSeed(config.seed);
  let model: tf.LayersModel;
  try {
    model = recipe.loadModel ? await recipe.loadModel(given, random.derive('model-init')) : recipe.buildModel(given, random.derive('model-init'));
  } catch (error) {
    disposeData();
    throw error;
  }
  const trainer = recipeTrainer(recipe, given, model, io);
  for (const plugin of [...recipe.plugins(given), ...callbackPlugins(config, runDir, progress, io.err, onRankZero)]) trainer.use(plugin);
  if (options.pauseAfter !== undefined) trainer.use(pauseAfterEpochs(options.pauseAfter));

  try {
    const result = await trainer.fit(prepared.train, { ...fitOptions(config, prepared.validation, paths.checkpoints), ...(resumeFrom ? { resumeFrom } : {}) });
    // The other replicas of a distributed run are done: rank 0 saves, evaluates and reports.
    if (!writer) return { code: EXIT.ok, summary: undefined };
    if (result.reason === 'stopped' && /^(SIG(INT|TERM)|paused)/.test(result.stopReason ?? '')) {
      const saved = config.callbacks.backupAndRestore.enabled ? await findBackup(runDir) : undefined;
      await writeRunReport(runDir).catch(() => undefined);
      io.err(`fitstream: ${result.stopReason} — stopped after step ${result.step}` + (saved ? `; checkpoint saved to ${saved}. Continue with: fitstream resume ${runDir}` : ' (backups are disabled: nothing to resume).'));
      return { code: result.stopReason?.startsWith('SIGTERM') ? EXIT.terminated : EXIT.interrupted, summary: undefined };
    }

    // The final model (after early stopping restored the best weights, if it did): stock tfjs can load it.
    await trainer.saveCheckpoint(paths.model);
    const restored = await tf.loadLayersModel(fileSystem(paths.model));
    const probe = prepared.validation.x.slice(0, Math.min(32, prepared.validation.x.shape[0]!));
    const mismatch = tf.tidy(() => tf.max(tf.abs(tf.sub(restored.predict(probe) as tf.Tensor, model.predict(probe) as tf.Tensor))).dataSync()[0]!);
    restored.dispose();
    probe.dispose();
    if (mismatch !== 0) throw new Error(`the saved model at ${paths.model} does not reproduce the trained model (max difference ${mismatch})`);

    const evaluation = await evaluateModel(recipe, model, prepared.validation, io, classNamesOf(prepared));
    await writeJson(paths.evaluation, { split: 'validation', ...evaluation });
    await writeRunReport(runDir);
    // Last: until here a kill leaves the backup, and `fitstream resume` redoes the end of the run (the same bytes).
    const b = config.callbacks.backupAndRestore;
    if (b.enabled && b.deleteOnFinish && !(result.reason === 'stopped' && isInterruption(result.stopReason))) await deleteBackup(runDir);

    const logs = result.history.logs as Readonly<Record<string, readonly number[]>>;
    // A fit resumed from the backup of its last epoch trains no epoch (`result.final` is undefined): the run's last
    // epoch is in the history, restored from the checkpoint.
    const summary = fitSummary(runDir, result, { ...(result.final ?? lastEpochLogs(logs)) }, evaluation.metrics);
    const key = recipe.task === 'classification' ? 'val_accuracy' : 'val_loss';
    log(
      `done: ${summary.reason}, ${summary.epochs} epochs on ${result.backend}; final ${key} ${formatNumber(summary.final[key] ?? Number.NaN)}` +
        (summary.best[key] !== undefined ? `, best ${formatNumber(summary.best[key])}` : '') +
        `; validation ${Object.entries(evaluation.metrics).map(([k, v]) => `${k} ${formatNumber(v)}`).join(', ')}`,
    );
    log(`run directory: ${runDir}`);
    log(`model: ${paths.model} (tf.loadLayersModel(fileSystem(dir))); report: ${paths.report}`);
    return { code: EXIT.ok, summary };
  } finally {
    trainer.dispose();
    model.dispose();
    disposeData();
  }
}

/** The logs of a history's last epoch. */
function lastEpochLogs(logs: Readonly<Record<string, readonly number[]>>): Record<string, number> {
  return Object.fromEntries(Object.entries(logs).flatMap(([name, values]) => (typeof values.at(-1) === 'number' ? [[name, values.at(-1)!]] : [])));
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

function classNamesOf(prepared: PreparedData): readonly string[] {
  return (prepared.info['dataset'] as { classNames?: readonly string[] } | undefined)?.classNames ?? [];
}
