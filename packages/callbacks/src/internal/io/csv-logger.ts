import { stat } from 'node:fs/promises';
import type { Plugin } from '@fitstream/core';
import { BufferedFile } from './buffered-file.js';
import { createLogger } from './logger.js';
import { cutCsvRows } from './resume-truncation.js';
import { inputError } from '../input-error.js';

/** Options of {@link csvLogger}; Keras `CSVLogger` names. */
export interface CsvLoggerOptions {
  /** The `.csv` file. */
  readonly path: string;
  /** Column separator (default `,`). */
  readonly separator?: string;
  /**
   * Append to an existing file (no second header) instead of replacing it; default `false`, or `true` when resuming. A
   * resumed fit first cuts the file back to the rows of the epochs its checkpoint had finished.
   */
  readonly append?: boolean;
}

/** The plugin {@link csvLogger} returns. */
export interface CsvLogger<M extends string = string> extends Plugin<M> {
  readonly path: string;
}

/** A cell: full precision (lossless round trip), `NaN`/`Infinity` spelled out, empty when absent. */
function cell(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

/**
 * Writes one CSV row per epoch (Keras `CSVLogger`): `epoch` (0-based, as Keras), the loss and metrics, their `val_`
 * counterparts (empty in epochs without validation), `learning_rate`, `step` and `duration_ms`. Rows are written at each
 * epoch end inside `control.await`. Built on {@link createLogger} (its `'epoch'` records).
 *
 * A fit resumed from a checkpoint cuts the file back to the rows of the epochs before the checkpoint (a row written
 * after it, a torn last line of a kill) and appends without a second header, so the finished file equals the
 * uninterrupted run's except for the wall-clock `duration_ms` column.
 *
 * @example
 * ```ts
 * trainer.use(csvLogger({ path: 'runs/mnist/metrics.csv' }));
 * ```
 */
export function csvLogger<M extends string = string>(options: CsvLoggerOptions): CsvLogger<M> {
  if (!options || typeof options.path !== 'string' || options.path.length === 0) throw inputError('csvLogger: options.path (a .csv file) is required.');
  const sep = options.separator ?? ',';
  if (sep.length === 0 || /["\n\r]/.test(sep)) throw inputError(`csvLogger: separator must be a non-empty string without quotes or newlines, got ${JSON.stringify(sep)}.`);
  const { path } = options;
  // The fit's file and columns, from its fit:start to its close.
  let file: BufferedFile | undefined;
  let columns: readonly string[] = [];
  const logger = createLogger<M>({
    name: 'csv-logger',
    records: 'epoch',
    timeoutMs: 10 * 60_000,
    write: (record, { control }) => {
      if (record.type === 'fit:start') {
        const names = [...control.metricNames] as string[];
        columns = [...names, ...names.map((n) => `val_${n}`)];
        const append = options.append ?? record.resumedFrom !== undefined;
        // Rows of epochs after the checkpoint are written again by this fit.
        const cut = append && record.resumedFrom !== undefined ? cutCsvRows(path, record.initialEpoch, sep) : Promise.resolve();
        const f = new BufferedFile(path, append ? 'append' : 'truncate', cut);
        file = f;
        const header = `${['epoch', ...columns, 'learning_rate', 'step', 'duration_ms'].join(sep)}\n`;
        // Appending to an empty or missing file still needs the header.
        return (append ? cut.then(() => stat(path).then((s) => s.size === 0, () => true)) : Promise.resolve(true)).then((needsHeader) => {
          if (needsHeader) f.write(header);
          return f.flush();
        });
      }
      if (record.type === 'epoch:end' && file) {
        const logs = record.metrics as unknown as Readonly<Record<string, number | undefined>>;
        file.write(`${[String(record.epoch), ...columns.map((c) => cell(logs[c])), cell(record.learningRate), String(record.step), record.durationMs.toFixed(1)].join(sep)}\n`);
      }
    },
    flush: () => file?.flush(), // after every epoch:end (and saved checkpoint)
    close: () => {
      const closing = file;
      file = undefined;
      return closing?.close();
    },
  });
  return { ...logger, path };
}
