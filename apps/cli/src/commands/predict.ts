import * as tf from '@tensorflow/tfjs';
import { readRows } from '../run/rows.js';
import type { Io } from '../recipes/recipe.js';
import { loadRun } from './run-model.js';

/**
 * `fitstream predict <run-dir> <input.csv|json>`: predictions of the run's model for rows of raw features (the run's
 * preprocessing is applied). CSV on stdout (`row,<target>[,p_<class>…]`), or one JSON array with `--json`.
 */
export async function predictCommand(runDir: string, input: string, options: { json?: boolean; checkpoint?: string }, io: Io): Promise<void> {
  const run = await loadRun(runDir, io, 'predict', options.checkpoint);
  // A recipe with its own reader (fit: the run's recorded encoding of the user's columns), else numeric rows.
  const x = run.recipe.readData
    ? (await run.recipe.readData(input, run.preprocessing, { labelled: false, log: io.err })).x
    : run.recipe.inputs((await readRows(input, { ...run.recipe, classNames: run.classNames })).features, run.preprocessing);
  try {
    const output = tf.tidy(() => (run.model.predict(x, { batchSize: 256 }) as tf.Tensor).arraySync() as number[][]);
    const target = run.recipe.targetName;
    if (run.recipe.task === 'classification') {
      const names = run.classNames.length > 0 ? run.classNames : output[0]!.map((_, i) => String(i));
      const results = output.map((p, row) => {
        const best = p.reduce((top, v, i) => (v > p[top]! ? i : top), 0); // argmax without spreading (many classes)
        return { row: row + 1, [target]: names[best]!, index: best, probabilities: Object.fromEntries(names.map((n, i) => [n, p[i]!])) };
      });
      if (options.json) io.out(JSON.stringify(results));
      else {
        // Class names are the user's (fit): quoted when they hold a comma or a quote (RFC 4180).
        const cell = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
        io.out(['row', target, ...names.map((n) => `p_${n}`)].map(cell).join(','));
        results.forEach((r, i) => io.out([String(r.row), cell(names[r.index]!), ...output[i]!.map((v) => v.toFixed(6))].join(',')));
      }
    } else {
      const results = output.map((p, row) => ({ row: row + 1, [target]: p[0]! }));
      if (options.json) io.out(JSON.stringify(results));
      else {
        io.out(['row', target].join(','));
        results.forEach((r) => io.out(`${r.row},${(r[target] as number).toFixed(4)}`));
      }
    }
  } finally {
    x.dispose();
    run.model.dispose();
  }
}
