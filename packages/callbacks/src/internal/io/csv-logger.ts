import { stat } from 'node:fs/promises';
import { ofType, type Plugin, type TrainerControl } from '@fitstream/core';
import { merge } from 'rxjs';
import { BufferedFile } from './buffered-file.js';
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
 * epoch end inside `control.await`.
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
  return {
    name: 'csv-logger',
    path: options.path,
    attach: (events$, control: TrainerControl<M>) => {
      const names = [...control.metricNames] as string[];
      const columns = [...names, ...names.map((n) => `val_${n}`)];
      let file: BufferedFile | undefined;
      return merge(events$.pipe(ofType('fit:start')), events$.pipe(ofType('epoch:end')), events$.pipe(ofType('fit:end'))).subscribe((e) => {
        if (e.type === 'fit:start') {
          const append = options.append ?? e.resumedFrom !== undefined;
          // Rows of epochs after the checkpoint are written again by this fit.
          const cut = append && e.resumedFrom !== undefined ? cutCsvRows(options.path, e.initialEpoch, sep) : Promise.resolve();
          const f = new BufferedFile(options.path, append ? 'append' : 'truncate', cut);
          file = f;
          const header = `${['epoch', ...columns, 'learning_rate', 'step', 'duration_ms'].join(sep)}\n`;
          // Appending to an empty or missing file still needs the header.
          control.await(
            (append ? cut.then(() => stat(options.path).then((s) => s.size === 0, () => true)) : Promise.resolve(true)).then((needsHeader) => {
              if (needsHeader) f.write(header);
              return f.flush();
            }),
          );
        } else if (e.type === 'epoch:end' && file) {
          const logs = e.metrics as unknown as Readonly<Record<string, number | undefined>>;
          file.write(`${[String(e.epoch), ...columns.map((c) => cell(logs[c])), cell(e.learningRate), String(e.step), e.durationMs.toFixed(1)].join(sep)}\n`);
          control.await(file.flush());
        } else if (e.type === 'fit:end' && file) {
          control.await(file.close());
          file = undefined;
        }
      });
    },
  };
}
