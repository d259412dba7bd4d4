import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fileSystem, selectBackend } from '@fitstream/core';
import { runPaths } from '../run/plugins.js';
import { chooseCheckpoint, lastCheckpoint, verifiedOrSkipped, type CheckpointChoice } from '../run/checkpoints.js';
import { modelRecipe, runConfig, type Resolved } from '../run/session.js';
import type { Io } from '../recipes/recipe.js';

/** A finished (or interrupted) run: its configuration, recorded preprocessing and trained model. */
export interface LoadedRun extends Resolved {
  readonly runDir: string;
  readonly model: tf.LayersModel;
  /** Which checkpoint the model came from. */
  readonly modelPath: string;
  readonly preprocessing: Record<string, unknown>;
  readonly classNames: readonly string[];
}

/**
 * Loads a run directory's model, verified (checksums, confined paths, regular files): `checkpoint` (`best`, `last` or a
 * path), else `model/` (the final model), else the run's newest checkpoint (backup or `checkpoints/`). A checkpoint that
 * does not verify falls back to the previous good one, and says so. Selects the run's backend first.
 */
export async function loadRun(runDir: string, io: Io, command = 'evaluate', checkpoint?: CheckpointChoice): Promise<LoadedRun> {
  const resolved = modelRecipe(await runConfig(runDir), command);
  await selectBackend({ prefer: resolved.config.backend, log: io.err });
  const paths = runPaths(runDir);
  let modelPath: string | undefined;
  if (checkpoint !== undefined) modelPath = await chooseCheckpoint(runDir, checkpoint, '--checkpoint', io.err);
  else {
    modelPath = (await verifiedOrSkipped(paths.model, paths.model, io.err)) ?? (await lastCheckpoint(runDir, io.err));
    if (modelPath === undefined) {
      // A model/ saved before checkpoints carried state.json: stock tfjs files, nothing to verify them against.
      if (!(await stat(join(paths.model, 'model.json')).catch(() => undefined))) throw new Error(`${runDir} has no trained model: none of model/, checkpoints/ or backup/ holds a checkpoint.`);
      io.err(`fitstream: ${paths.model} has no state.json (written by an older fitstream): loading it without checksums.`);
      modelPath = paths.model;
    }
  }
  const model = await tf.loadLayersModel(fileSystem(modelPath));
  const data = JSON.parse(await readFile(paths.data, 'utf8')) as { preprocessing?: Record<string, unknown>; dataset?: { classNames?: string[] } };
  return { ...resolved, runDir, model, modelPath, preprocessing: data.preprocessing ?? {}, classNames: data.dataset?.classNames ?? [] };
}
