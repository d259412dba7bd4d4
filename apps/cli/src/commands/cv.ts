import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { Random, selectBackend } from '@fitstream/core';
import { terminateOnNaN } from '@fitstream/callbacks';
import { crossValidate, formatSummary, kFold, stratifiedKFold, type CrossValidationSummary, type FoldResult } from '@fitstream/samplers';
import { environmentRecord } from '../run/environment.js';
import { formatNumber } from '../run/format.js';
import { createRunDirectory, writeJson } from '../run/run-directory.js';
import { fitOptions } from '../run/fit-options.js';
import { recipeTrainer, type Resolved } from '../run/session.js';
import type { Io } from '../recipes/recipe.js';

/**
 * `fitstream cv <recipe> --folds k`: k-fold cross-validation with samplers' `crossValidate` — stratified folds for
 * classifiers, shuffled k-fold for regression; preprocessing (standardisation) is fitted on each fold's training rows.
 * Writes `<out>/<recipe>-cv-<timestamp>/` with config.json, environment.json and cv.json.
 */
export async function cvCommand({ recipe, config }: Resolved, options: { json?: boolean }, io: Io): Promise<void> {
  const log = options.json ? io.err : io.out;
  const selection = await selectBackend({ prefer: config.backend, log: io.err });
  const runDir = await createRunDirectory(config.out, `${recipe.name}-cv`);
  await writeJson(join(runDir, 'config.json'), config);
  await writeJson(join(runDir, 'environment.json'), await environmentRecord(selection, config.backend));
  const data = await recipe.load(config);
  const { folds, shuffle, validateOnTest } = config.cv;
  const splitter = recipe.task === 'classification' ? stratifiedKFold({ nSplits: folds, shuffle, seed: config.seed }) : kFold({ nSplits: folds, shuffle, seed: config.seed });
  const random = Random.fromSeed(config.seed);
  const { validation: _v, handleSignals: _h, ...fit } = fitOptions(config, undefined, undefined);
  const started = performance.now();
  try {
    const events = await lastValueFrom(
      crossValidate({
        data: { x: data.x, y: data.y },
        splitter,
        preprocessors: recipe.cvPreprocessors(config),
        validateOnTest,
        build: (fold) => {
          const model = recipe.buildModel(config, random.derive('model-init', fold.index));
          const trainer = recipeTrainer(recipe, config, model, { out: io.out, err: () => undefined });
          for (const plugin of [...recipe.plugins(config), terminateOnNaN()]) trainer.use(plugin);
          return { trainer, model };
        },
        fit: { ...fit, handleSignals: false },
      }).pipe(
        tap((e) => {
          if (e.type === 'fold') log(`fold ${e.index + 1}/${folds}  train ${e.trainSize}  test ${e.testSize}  ${Object.entries(e.metrics).map(([k, v]) => `${k} ${formatNumber(v)}`).join('  ')}`);
        }),
        toArray(),
      ),
    );
    const results = events.filter((e): e is FoldResult => e.type === 'fold');
    const summary = events.find((e): e is CrossValidationSummary => e.type === 'summary')!;
    const record = {
      recipe: recipe.name,
      splitter: recipe.task === 'classification' ? 'stratifiedKFold' : 'kFold',
      folds,
      seed: config.seed,
      durationMs: performance.now() - started,
      results: results.map(({ fitResult, ...r }) => ({ ...r, epochs: fitResult.epochs, reason: fitResult.reason })),
      summary: { mean: summary.mean, std: summary.std, values: summary.values },
    };
    await writeJson(join(runDir, 'cv.json'), record);
    log(`${folds}-fold cross-validation of ${recipe.name} (test folds, mean ± std):\n${formatSummary(summary, 4)}`);
    log(`run directory: ${runDir}`);
    if (options.json) io.out(JSON.stringify({ runDir, folds, mean: summary.mean, std: summary.std }));
  } finally {
    tf.dispose([data.x, data.y]);
  }
}
