import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { fileSystem, findCheckpoint, selectBackend } from '@fitstream/core';
import { runPaths } from '../run/plugins.js';
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
 * Loads a run directory's model: `model/` (the final model), else the newest checkpoint in `checkpoints/`, else the
 * backup of an interrupted run. Selects the run's backend first.
 */
export async function loadRun(runDir: string, io: Io, command = 'evaluate'): Promise<LoadedRun> {
  const resolved = modelRecipe(await runConfig(runDir), command);
  await selectBackend({ prefer: resolved.config.backend, log: io.err });
  const paths = runPaths(runDir);
  const candidates = [await findCheckpoint(paths.model).catch(() => undefined), await findCheckpoint(paths.checkpoints).catch(() => undefined), await findCheckpoint(paths.backup).catch(() => undefined)];
  let modelPath = candidates.find((c) => c !== undefined);
  if (modelPath === undefined) {
    try {
      await readFile(`${paths.model}/model.json`);
      modelPath = paths.model;
    } catch {
      throw new Error(`${runDir} has no trained model: none of model/, checkpoints/ or backup/ holds a checkpoint.`);
    }
  }
  const model = await tf.loadLayersModel(fileSystem(modelPath));
  const data = JSON.parse(await readFile(paths.data, 'utf8')) as { preprocessing?: Record<string, unknown>; dataset?: { classNames?: string[] } };
  return { ...resolved, runDir, model, modelPath, preprocessing: data.preprocessing ?? {}, classNames: data.dataset?.classNames ?? [] };
}
