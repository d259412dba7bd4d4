import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Random, selectBackend } from '@fitstream/core';
import { lrFinder } from '@fitstream/callbacks';
import { environmentRecord } from '../run/environment.js';
import { formatNumber } from '../run/format.js';
import { defined } from '../run/plugins.js';
import { createRunDirectory, writeJson } from '../run/run-directory.js';
import { prepareData, type Resolved } from '../run/session.js';
import type { Io } from '../recipes/recipe.js';

/**
 * `fitstream lr-find <recipe>`: callbacks' `lrFinder` range test on the recipe's training split with a fresh model;
 * prints the suggested learning rate and writes `<out>/<recipe>-lr-find-<timestamp>/` (lr-finder.svg, lr-finder.json).
 */
export async function lrFindCommand({ recipe, config }: Resolved, options: { json?: boolean }, io: Io): Promise<void> {
  const log = options.json ? io.err : io.out;
  const selection = await selectBackend({ prefer: config.backend, log: io.err });
  const runDir = await createRunDirectory(config.out, `${recipe.name}-lr-find`);
  await writeJson(join(runDir, 'config.json'), config);
  await writeJson(join(runDir, 'environment.json'), await environmentRecord(selection, config.backend));
  const prepared = await prepareData(recipe, config);
  const model = recipe.buildModel(config, Random.fromSeed(config.seed).derive('model-init'));
  try {
    const result = await lrFinder(
      { model, optimizer: config.optimizer, loss: recipe.loss, seed: config.seed, backend: 'current', log: null },
      prepared.train,
      defined(config.lrFinder),
    );
    await writeFile(join(runDir, 'lr-finder.svg'), result.svg);
    await writeJson(join(runDir, 'lr-finder.json'), { suggestion: result.suggestion ?? null, diverged: result.diverged, lrs: result.lrs, losses: result.losses, smoothed: result.smoothed });
    log(`lr-find ${recipe.name}: ${result.lrs.length} steps from ${formatNumber(result.lrs[0] ?? Number.NaN)} to ${formatNumber(result.lrs.at(-1) ?? Number.NaN)}${result.diverged ? ' (stopped: the loss diverged)' : ''}`);
    log(result.suggestion === undefined ? 'no suggestion: too few points (raise lrFinder.steps)' : `suggested learning rate: ${result.suggestion.toExponential(2)} (steepest descent of the smoothed loss); train with --lr ${result.suggestion.toExponential(2)}`);
    log(`plot: ${join(runDir, 'lr-finder.svg')}`);
    if (options.json) io.out(JSON.stringify({ runDir, suggestion: result.suggestion ?? null, diverged: result.diverged, steps: result.lrs.length }));
  } finally {
    model.dispose();
    tf.dispose([prepared.train.x, prepared.train.y, prepared.validation.x, prepared.validation.y]);
  }
}
