// Which checkpoint of a run a command uses: `resume --from`, `evaluate`/`predict --checkpoint` — best, last or a path.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { findCheckpoint, type SkippedCheckpoint } from '@fitstream/core';
import { ConfigError } from '../config/resolve.js';
import { runPaths } from './plugins.js';

/** What `--from` / `--checkpoint` name: the best checkpoint by the monitored log, the newest one, or a path. */
export type CheckpointChoice = 'best' | 'last' | (string & {});

/** Says which newer checkpoint was passed over for the previous good one, and why. */
export const reportSkip =
  (log: (line: string) => void) =>
  ({ path, error }: SkippedCheckpoint): void =>
    log(`fitstream: skipping checkpoint ${path}: ${error.message}`);

/**
 * The newest complete checkpoint of a run: its backup (with the hidden copies a kill mid-replacement leaves) and
 * `checkpoints/`, newest first by loop position; one that does not verify is passed over (and `log` says so).
 * `undefined` when the run has none.
 */
export function lastCheckpoint(runDir: string, log: (line: string) => void): Promise<string | undefined> {
  const paths = runPaths(runDir);
  return findCheckpoint([paths.backup, paths.checkpoints], { onSkip: reportSkip(log) });
}

/**
 * Where `fitstream resume` continues by default: the backup (or a hidden copy a kill mid-replacement left) — the
 * checkpoint a run's log, metrics and files are made to continue from byte for byte; when there is none or none
 * verifies, the newest good checkpoint in `checkpoints/` (the weights and history are as exact; plugin events of that
 * boundary written after it, such as the backup's own, are not replayed).
 */
export async function resumeCheckpoint(runDir: string, log: (line: string) => void): Promise<string | undefined> {
  const paths = runPaths(runDir);
  return (await verifiedOrSkipped(paths.backup, join(paths.backup, 'backup'), log)) ?? findCheckpoint(paths.checkpoints, { onSkip: reportSkip(log) });
}

/**
 * The checkpoint at `location` that verifies, or `undefined` — when there is none, or when none verifies: then `log`
 * is told why (naming `shownAs`), for the caller to fall back to another location.
 */
export function verifiedOrSkipped(location: string, shownAs: string, log: (line: string) => void): Promise<string | undefined> {
  return findCheckpoint(location, { onSkip: reportSkip(log) }).catch((error: unknown) => {
    reportSkip(log)({ path: shownAs, error: error as Error });
    return undefined;
  });
}

/** The best kept checkpoint by `checkpoints/best.json`'s ranking; a damaged one falls back to the next in the ranking. */
async function bestCheckpoint(runDir: string, log: (line: string) => void): Promise<string> {
  const dir = runPaths(runDir).checkpoints;
  let ranking: Array<{ path: string }>;
  try {
    const best = JSON.parse(await readFile(join(dir, 'best.json'), 'utf8')) as { path: string; ranking?: Array<{ path: string }> };
    ranking = best.ranking ?? [{ path: best.path }];
  } catch {
    throw new ConfigError(`${runDir} has no best checkpoint (${join(dir, 'best.json')} is missing): it ran without callbacks.modelCheckpoint.monitor. Use --checkpoint last, or a checkpoint's path.`);
  }
  let firstError: Error | undefined;
  for (const [i, { path }] of ranking.entries()) {
    try {
      const found = await findCheckpoint(join(dir, path), { onSkip: reportSkip(log) });
      if (found) {
        if (i > 0) log(`fitstream: using the best checkpoint that verifies, ${found} (number ${i + 1} of the ranking).`);
        return found;
      }
    } catch (error) {
      firstError ??= error as Error;
      reportSkip(log)({ path: join(dir, path), error: error as Error });
    }
  }
  if (firstError) throw firstError;
  throw new Error(`${runDir}: the checkpoints that ${join(dir, 'best.json')} ranks are gone; use --checkpoint last.`);
}

/** Resolves `best`, `last` or a path (absolute, relative to the working directory, or to the run directory). */
export async function chooseCheckpoint(runDir: string, choice: CheckpointChoice, flag: string, log: (line: string) => void): Promise<string> {
  if (choice === 'best') return bestCheckpoint(runDir, log);
  if (choice === 'last') {
    const last = await lastCheckpoint(runDir, log);
    if (!last) throw new ConfigError(`${runDir} holds no checkpoint in backup/ or checkpoints/ for ${flag} last; pass a checkpoint's path, or omit ${flag}.`);
    return last;
  }
  for (const path of isAbsolute(choice) ? [choice] : [resolve(choice), join(runDir, choice)]) {
    const found = await findCheckpoint(path, { onSkip: reportSkip(log) });
    if (found) return found;
  }
  throw new ConfigError(`${flag} ${choice}: no checkpoint there (a directory with state.json, or one holding checkpoints); use best, last, or a path such as ${join(runDir, 'checkpoints', '<name>')}.`);
}
