import * as tf from '@tensorflow/tfjs';
import { evaluateModel } from '../run/evaluation.js';
import { formatNumber } from '../run/format.js';
import { readRows } from '../run/rows.js';
import { prepareData } from '../run/session.js';
import { ConfigError } from '../config/resolve.js';
import type { Io, TensorPair } from '../recipes/recipe.js';
import { loadRun } from './run-model.js';

/** `fitstream evaluate <run-dir> [--data file]`: the run's model on its validation split, or on labelled rows from a file. */
export async function evaluateCommand(runDir: string, options: { data?: string; json?: boolean; checkpoint?: string }, io: Io): Promise<void> {
  const run = await loadRun(runDir, io, 'evaluate', options.checkpoint);
  let data: TensorPair;
  let source: string;
  if (options.data && run.recipe.readData) {
    // A recipe with its own reader (fit: the run's recorded encoding of the user's columns).
    const read = await run.recipe.readData(options.data, run.preprocessing, { labelled: true, log: io.err });
    data = { x: read.x, y: read.y! };
    source = options.data;
  } else if (options.data) {
    const rows = await readRows(options.data, { ...run.recipe, classNames: run.classNames });
    if (!rows.targets) throw new ConfigError(`${options.data}: evaluate needs the ${run.recipe.targetName} of every row (a "${run.recipe.targetName}" or "label" column, or one extra value per row).`);
    data = { x: run.recipe.inputs(rows.features, run.preprocessing), y: run.recipe.targets(rows.targets) };
    source = options.data;
  } else {
    const prepared = await prepareData(run.recipe, run.config);
    tf.dispose([prepared.train.x, prepared.train.y]);
    data = prepared.validation;
    source = 'validation split';
  }
  try {
    const evaluation = await evaluateModel(run.recipe, run.model, data, io, run.classNames);
    if (options.json) {
      io.out(JSON.stringify({ runDir, model: run.modelPath, data: source, ...evaluation }));
      return;
    }
    io.out(`${run.recipe.name} model ${run.modelPath}`);
    io.out(`on ${source} (${evaluation.samples} samples): ${Object.entries(evaluation.metrics).map(([k, v]) => `${k} ${formatNumber(v)}`).join('  ')}`);
    if (evaluation.confusion) {
      const { classNames, matrix } = evaluation.confusion;
      const width = [...classNames, ...matrix.flat().map(String)].reduce((w, text) => Math.max(w, text.length), 5);
      io.out(`confusion matrix (rows: true, columns: predicted):`);
      io.out(`${''.padStart(width)} ${classNames.map((c) => c.padStart(width)).join(' ')}`);
      matrix.forEach((row, t) => io.out(`${classNames[t]!.padStart(width)} ${row.map((v) => String(v).padStart(width)).join(' ')}`));
    }
  } finally {
    tf.dispose([data.x, data.y]);
    run.model.dispose();
  }
}
