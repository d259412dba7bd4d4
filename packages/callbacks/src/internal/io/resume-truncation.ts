import { readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointState } from '@fitstream/core';
import { parseEvent } from './json-lines.js';

/** Where a checkpoint left the loop: `batch` batches of `epoch` trained, `step` optimizer updates in all. */
export interface ResumePosition {
  readonly epoch: number;
  readonly batch: number;
  readonly step: number;
}

/** The loop position a resumed fit starts from, read from its checkpoint's `state.json` (`fit:start` has no batch). */
export async function readResumePosition(checkpoint: string): Promise<ResumePosition> {
  const state = JSON.parse(await readFile(join(checkpoint, 'state.json'), 'utf8')) as Pick<CheckpointState, 'epoch' | 'batch' | 'step'>;
  return { epoch: state.epoch, batch: state.batch, step: state.step };
}

/**
 * Whether a core loop event logged with these fields happened after the checkpoint at `at` was taken — so that a run
 * resumed from it emits it again. `undefined` for other events (plugin events, `checkpoint:saved` …), which belong
 * with the loop event before them.
 */
export function happenedAfter(type: string, event: object, at: ResumePosition): boolean | undefined {
  const fields = event as { readonly epoch?: unknown; readonly step?: unknown };
  const epoch = typeof fields.epoch === 'number' ? fields.epoch : Number.NaN;
  const step = typeof fields.step === 'number' ? fields.step : Number.NaN;
  switch (type) {
    case 'fit:start':
      return step > at.step;
    case 'epoch:start':
      // A mid-epoch checkpoint is taken after its epoch started; an epoch-boundary one before the next starts.
      return epoch > at.epoch || (epoch === at.epoch && at.batch === 0);
    case 'batch:start':
    case 'batch:end':
      // Their `step` counts the updates before them: the batch of update s + 1 carries s.
      return step >= at.step;
    case 'step:end':
      return step > at.step;
    case 'validation:start':
    case 'validation:end':
    case 'epoch:end':
      return epoch >= at.epoch;
    case 'fit:end':
      // The interrupted fit ended at (or after) the checkpoint; an earlier fit appended to the same file ended before it.
      return step >= at.step;
    default:
      return undefined;
  }
}

const NEWLINE = 0x0a;

/** Complete lines, last first, as the offset of their first byte and their text (without the newline). */
function* linesFromEnd(bytes: Buffer, length: number): Generator<{ readonly start: number; readonly text: string }> {
  let end = length - 1; // the newline that ends the line
  while (end >= 0) {
    const start = end === 0 ? 0 : bytes.lastIndexOf(NEWLINE, end - 1) + 1;
    yield { start, text: bytes.toString('utf8', start, end) };
    end = start - 1;
  }
}

/** The file, or `undefined` when there is none yet. */
async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The result of a cut: whether the log held the run up to the checkpoint, and the bytes left. */
export interface Cut {
  readonly anchored: boolean;
  readonly size: number;
}

/**
 * Cuts a log back to where a checkpoint was taken. `decide` sees the complete lines, last first: `'drop'` (this line and
 * every later one go), `'keep'` (stop: this line and the earlier ones stay) or `'skip'` (stays unless an earlier line is
 * dropped). A last line without its newline, torn by a kill mid-write, always goes. One `truncate` call, so a kill
 * during the cut leaves either the old file or the cut one. Without a `'keep'` line the dropped lines go only when
 * `trustDrops` (every line was recognised); otherwise only the torn line is cut.
 */
async function cutLog(path: string, decide: (line: string) => 'drop' | 'keep' | 'skip', trustDrops: boolean): Promise<Cut> {
  const bytes = await readIfPresent(path);
  if (!bytes) return { anchored: false, size: 0 };
  const complete = bytes.lastIndexOf(NEWLINE) + 1;
  let cut = complete;
  let anchored = false;
  for (const line of linesFromEnd(bytes, complete)) {
    const verdict = decide(line.text);
    if (verdict === 'keep') {
      anchored = true;
      break;
    }
    if (verdict === 'drop') cut = line.start;
  }
  const size = anchored || trustDrops ? cut : complete;
  if (size < bytes.length) await truncate(path, size);
  return { anchored, size };
}

/**
 * Cuts a CSV written by `csvLogger` back to the rows of the epochs before `epoch` (the resumed fit writes the others
 * again); the header and a torn last line are handled.
 */
export function cutCsvRows(path: string, epoch: number, separator: string): Promise<Cut> {
  return cutLog(path, (line) => {
    const at = line.indexOf(separator);
    const first = at < 0 ? line : line.slice(0, at);
    if (!/^\d+$/.test(first)) return 'keep'; // the header
    return Number(first) >= epoch ? 'drop' : 'keep';
  }, true);
}

/**
 * Cuts an event log written by `jsonlLogger` back to the events before the checkpoint at `at`: every core loop event
 * after it goes, with the plugin events that followed them; plugin events between the checkpoint and the next loop
 * event (`checkpoint:saved` of that checkpoint, a rate changed at that epoch end) stay, because the resumed run does
 * not emit them again. `anchored` is `false` when the log holds no loop event before the checkpoint (another run's
 * file, or events filtered out); then nothing is cut.
 */
export function cutEventLog(path: string, at: ResumePosition): Promise<Cut> {
  return cutLog(path, (line) => {
    if (!line.trim()) return 'skip';
    let record: { readonly type?: unknown; readonly epoch?: unknown; readonly step?: unknown };
    try {
      record = parseEvent(line) as typeof record;
    } catch {
      return 'keep'; // not written by the logger: leave the file alone from here
    }
    const after = typeof record.type === 'string' ? happenedAfter(record.type, record, at) : undefined;
    return after === undefined ? 'skip' : after ? 'drop' : 'keep';
  }, false);
}
