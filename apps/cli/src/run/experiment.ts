import { selectBackend, type BackendSelection } from '@fitstream/core';
import type { ProgressStream } from '@fitstream/callbacks';
import { z } from 'zod';
import { BACKENDS, OPTIMIZERS, commonDefaults, type RunConfig } from '../config/schema.js';
import { EXIT } from '../exit.js';
import type { BaseConfig, ExperimentOutcome, Io } from '../recipes/recipe.js';
import { environmentRecord } from './environment.js';
import { runPaths } from './plugins.js';
import { writeRunReport } from './report.js';
import { createRunDirectory, writeJson } from './run-directory.js';

/** The top-level keys of an experiment recipe's configuration (its own sections come on top). */
export function experimentBase(recipe: string) {
  return {
    recipe: z.literal(recipe),
    seed: z.int(),
    backend: z.enum(BACKENDS),
    epochs: z.int().min(1),
    batchSize: z.int().min(1),
    lr: z.number().positive(),
    optimizer: z.enum(OPTIMIZERS),
    /** `true` = a tiny run (one batch per fit, the smallest experiment); a number n = n batches per fit. */
    fastDevRun: z.union([z.boolean(), z.int().min(1)]),
    out: z.string().min(1),
  };
}

/** The progress bar and event log of an experiment's fits. */
export const experimentCallbacks = z.strictObject({
  progressBar: z.strictObject({ enabled: z.boolean(), mode: z.enum(['auto', 'bar', 'lines']), refreshMs: z.number().min(0) }),
  jsonlLogger: z.strictObject({ readBatchMetricsEvery: z.int().min(0), flushAtChars: z.int().min(1).optional() }),
});

export type ExperimentCallbacks = z.infer<typeof experimentCallbacks>;

export const experimentCallbackDefaults = (): ExperimentCallbacks => ({
  progressBar: { enabled: true, mode: 'auto', refreshMs: 100 },
  jsonlLogger: { readBatchMetricsEvery: 1 },
});

/** The sections {@link experimentRecipeDefaults} fills in; an experiment recipe sets the others. */
type CommonSections = 'recipe' | 'seed' | 'backend' | 'optimizer' | 'fastDevRun' | 'out' | 'fit' | 'callbacks';

/**
 * The defaults of an experiment recipe that uses the shared fit and callbacks sections (sensors, autoencoder): the
 * common defaults without `cv` and `lrFinder` (they do not apply), the recipe's own on top, and callbacks with no early
 * stopping, no backups (experiments are not resumable), batch metrics and report points every 10 steps.
 */
export function experimentRecipeDefaults<C extends BaseConfig>(recipe: string, own: Omit<C, CommonSections>): C {
  const { cv: _cv, lrFinder: _lr, ...base } = commonDefaults(recipe, 'val_loss');
  const callbacks: RunConfig['callbacks'] = {
    ...base.callbacks,
    earlyStopping: { ...base.callbacks.earlyStopping, enabled: false },
    backupAndRestore: { ...base.callbacks.backupAndRestore, enabled: false },
    jsonlLogger: { readBatchMetricsEvery: 10 },
    trainingReport: { ...base.callbacks.trainingReport, stepEvery: 10 },
  };
  return { ...base, ...own, callbacks } as unknown as C;
}

/** A started experiment: its run directory (config.json and environment.json written) and where it logs. */
export interface ExperimentRun {
  readonly runDir: string;
  readonly paths: ReturnType<typeof runPaths>;
  readonly selection: BackendSelection;
  /** Log lines: stdout, or stderr with `--json`. */
  readonly log: (line: string) => void;
  readonly progress: ProgressStream;
}

/** Selects the backend and writes `<out>/<recipe>-<timestamp>/` with config.json and environment.json. */
export async function startExperiment(config: BaseConfig, io: Io, json: boolean): Promise<ExperimentRun> {
  const selection = await selectBackend({ prefer: config.backend, log: io.err });
  const runDir = await createRunDirectory(config.out, config.recipe);
  const paths = runPaths(runDir);
  await writeJson(paths.config, config);
  await writeJson(paths.environment, await environmentRecord(selection, config.backend));
  return { runDir, paths, selection, log: json ? io.err : io.out, progress: json ? process.stderr : process.stdout };
}

/** Thrown out of an experiment when SIGINT/SIGTERM stopped one of its fits. */
export class Interrupted extends Error {
  constructor(readonly signal: string) {
    super(signal);
    this.name = 'Interrupted';
  }
}

/** Throws {@link Interrupted} when a fit was stopped by SIGINT/SIGTERM (the trainer stops with the signal as reason). */
export function throwIfInterrupted(result: { readonly reason: string; readonly stopReason?: string | undefined }): void {
  if (result.reason === 'stopped' && /^SIG(INT|TERM)/.test(result.stopReason ?? '')) throw new Interrupted(result.stopReason!);
}

/**
 * An experiment's `catch`: an interruption writes the report of what ran and ends with its exit code; any other error
 * is thrown on.
 */
export async function interruptedOrThrow(error: unknown, runDir: string, io: Io): Promise<ExperimentOutcome> {
  if (!(error instanceof Interrupted)) throw error;
  await writeRunReport(runDir).catch(() => undefined);
  return interruptedOutcome(error, runDir, io);
}

/** The outcome of an interrupted experiment: exit code 130 (SIGINT) or 143 (SIGTERM); experiments keep no backup. */
export function interruptedOutcome(error: Interrupted, runDir: string, io: Io): ExperimentOutcome {
  io.err(`fitstream: ${error.signal} — stopped; ${runDir} holds what ran so far. This recipe keeps no backup: run it again with \`fitstream train ${runPaths(runDir).config}\`.`);
  return { code: error.signal.startsWith('SIGTERM') ? EXIT.terminated : EXIT.interrupted, summary: undefined };
}
