// The browser build of the loggers that write files: a page has no file system, so each factory throws at plugin
// creation, naming what to use instead. Same exports and types as ../node/loggers.ts.
import type { Observable } from 'rxjs';
import type { TrainerEvent } from '@fitstream/core';
import type { CsvLogger, CsvLoggerOptions } from '../../io/csv-logger.js';
import type { ReplayOptions } from '../../io/event-log.js';
import type { JsonlLogger, JsonlLoggerOptions } from '../../io/jsonl-logger.js';
import type { TensorBoard, TensorBoardOptions } from '../../io/tensorboard/tensor-board.js';
import { DASHBOARD_INSTEAD, nodeOnly } from '../node-only.js';

/** Node only: throws in a browser (no file system); use `liveDashboard` and `eventToRecord` there. */
export function jsonlLogger<M extends string = string>(_options: JsonlLoggerOptions): JsonlLogger<M> {
  throw nodeOnly('jsonlLogger', 'writes its event log to a file with Node.js', DASHBOARD_INSTEAD);
}

/** Node only: throws in a browser (no file system); use `parseEventLog(text)` there. */
export function replay(_path: string, _options?: ReplayOptions): Observable<TrainerEvent> {
  throw nodeOnly('replay(path)', 'streams an event log from a file with Node.js', "read the log's text yourself (fetch, or a file input) and parse it with parseEventLog(text)");
}

/** Node only: throws in a browser (no file system); use `liveDashboard` there. */
export function csvLogger<M extends string = string>(_options: CsvLoggerOptions): CsvLogger<M> {
  throw nodeOnly('csvLogger', 'writes its CSV file with Node.js', DASHBOARD_INSTEAD);
}

/** Node only: throws in a browser (no file system); use `liveDashboard` there. */
export function tensorBoard<M extends string = string>(_options: TensorBoardOptions): TensorBoard<M> {
  throw nodeOnly('tensorBoard', 'writes TensorBoard event files with Node.js', 'draw the run live with liveDashboard({ element })');
}
