import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeStaleTemporaries, writeFileAtomic } from '@fitstream/core';
import type { ResumePosition } from '../resume-truncation.js';
import { decodeEvent, fileVersionEvent, readTfRecords, tfRecord, type DecodedEvent, type EventValue } from './tfevents.js';

/**
 * Whether a value is written per optimizer step (its event's step is the global step): the `batch_<metric>` scalars and
 * the `gradients/<weight>` histograms. The others — `epoch_<metric>` scalars and weight histograms — are written per
 * epoch (step = epoch). Weight names can start with `batch_` (`batch_normalization_1/gamma`), so the kind counts too.
 */
function perStep(value: EventValue): boolean {
  return value.histogram ? value.tag.startsWith('gradients/') : value.tag.startsWith('batch_');
}

/**
 * Whether `tensorBoard` wrote this event after the checkpoint at `at` was taken — so that a fit resumed from it writes
 * it again: a per-step value of an update after the checkpoint's (`step > at.step`; gradients and batch scalars of
 * update s carry s), a per-epoch value of the epoch the checkpoint is in or a later one (`step ≥ at.epoch`; an
 * epoch-end checkpoint is at the next epoch). The file-version record (no values) never is.
 */
export function recordedAfter(event: DecodedEvent, at: ResumePosition): boolean {
  return event.values.some((v) => (perStep(v) ? event.step > at.step : event.step >= at.epoch));
}

/**
 * How many bytes of an event file hold the run up to the checkpoint at `at`: the records before the first one written
 * after it, and never a torn record (bad length or CRC) or anything behind one. A record that does not decode stays
 * unless an earlier one goes.
 */
export function eventBytesBefore(bytes: Uint8Array, at: ResumePosition): number {
  const { records, end } = readTfRecords(bytes);
  for (const record of records) {
    let event: DecodedEvent;
    try {
      event = decodeEvent(record.data);
    } catch {
      continue;
    }
    if (recordedAfter(event, at)) return record.start;
  }
  return end;
}

/** The first bytes of a file (enough for its file-version record). */
async function head(path: string, length = 256): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * The newest event file in `dir`: the one whose first record (the file version, written when the file starts) has the
 * latest wall time — which, unlike mtimes, survives copying — else the seconds in its name; ties go to the later name.
 */
async function newestEventFile(dir: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let best: { name: string; time: number } | undefined;
  for (const name of names.filter((n) => n.includes('tfevents') && !n.startsWith('.')).sort()) {
    const first = readTfRecords(await head(join(dir, name))).records[0];
    let time = Number(/tfevents\.(\d+)/.exec(name)?.[1] ?? Number.NEGATIVE_INFINITY);
    try {
      if (first) time = decodeEvent(first.data).wallTime;
    } catch {
      /* not an event: the name's time */
    }
    if (!best || time >= best.time) best = { name, time };
  }
  return best && join(dir, best.name);
}

/**
 * Continues the run in `dir` for a fit resumed from the checkpoint at `at`: its newest event file is cut back to the
 * records written up to the checkpoint (a torn last record goes too), rewritten atomically — a temporary sibling
 * renamed over it, so that a kill leaves the old file or the cut one — and returned to be appended to under its own
 * name. Temporaries of a rewrite killed half-way are removed first (TensorBoard would read them: their names hold
 * `tfevents`). `undefined` when `dir` holds no event file: the fit starts one.
 */
export async function continueEventFile(dir: string, at: ResumePosition): Promise<string | undefined> {
  await removeStaleTemporaries(dir);
  const path = await newestEventFile(dir);
  if (path === undefined) return undefined;
  const bytes = await readFile(path);
  const keep = eventBytesBefore(bytes, at);
  // Not even the file-version record survived: the file starts again.
  if (keep < bytes.length) await writeFileAtomic(path, keep > 0 ? bytes.subarray(0, keep) : tfRecord(fileVersionEvent()));
  return path;
}
