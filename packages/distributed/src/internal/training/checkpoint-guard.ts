import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { TrainerControl } from '@fitstream/core';
import type { Communicator } from '../comm/communicator.js';
import { DistributedConfigError } from '../errors.js';

const MARKER = '.fitstream-writer-';

/** A token every rank of the group shares for one fit: rank 0 draws it, everyone receives it (a collective). */
export function groupSession(comm: Communicator): string {
  const words = new Float32Array(3);
  if (comm.rank === 0) {
    const bytes = randomBytes(6);
    for (let i = 0; i < 3; i++) words[i] = bytes.readUInt16LE(2 * i); // < 2^24: exact in float32
  }
  comm.broadcast(words, 0);
  return Array.from(words, (w) => w.toString(16).padStart(4, '0')).join('');
}

/**
 * Makes checkpoint writes safe in a group: before this rank writes a checkpoint (`control.saveCheckpoint(dir)` — what
 * `backupAndRestore` does — or `control.requestCheckpoint()` into the fit's `checkpointDir`), it claims the directory
 * for this fit with an exclusive marker file next to it (`.<name>.fitstream-writer-<session>`). A directory another
 * rank of the group already claimed is refused with a `DistributedConfigError` naming the fix, before anything is
 * written — concurrent atomic replacements and clean-ups of one directory corrupt it (`ENOTEMPTY`, `ENOENT`, a torn
 * restore). Per-rank directories (`${dir}/rank-${ctx.rank}`) are claimed by one rank each and pass.
 *
 * Returns a function that removes this rank's markers (called at `fit:end`).
 */
export function guardCheckpointWrites(control: TrainerControl, rank: number, session: string, algorithm: string): () => void {
  const claimed = new Set<string>();
  const claim = (dir: string) => {
    const abs = resolvePath(dir);
    if (claimed.has(abs)) return;
    const parent = dirname(abs);
    const prefix = `.${basename(abs)}${MARKER}`;
    mkdirSync(parent, { recursive: true });
    const marker = join(parent, `${prefix}${session}`);
    try {
      writeFileSync(marker, JSON.stringify({ rank }), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = 'another rank';
      try {
        owner = `rank ${String((JSON.parse(readFileSync(marker, 'utf8')) as { rank: number }).rank)}`;
      } catch {
        /* being written: still another rank's */
      }
      throw new DistributedConfigError(
        `rank ${rank} was about to write a checkpoint to "${abs}", which ${owner} of this group writes too: replicas must not share a checkpoint directory (their atomic replacements and clean-ups collide). ` +
          `${algorithm} replicas hold the same state, so let rank 0 write and every rank read: trainer.use(rankZero(ctx, backupAndRestore({ dir }))) (or rankZero(ctx, modelCheckpoint(…))); after a restart every rank resumes from rank 0's backup. ` +
          `Where replicas' state differs (localSGD, easgd between averagings), give each rank its own directory, e.g. \`\${dir}/rank-\${ctx.rank}\`.`,
      );
    }
    claimed.add(abs);
    // Markers of earlier fits (sessions) of this directory are stale.
    for (const name of readdirSync(parent)) if (name.startsWith(prefix) && name !== basename(marker)) rmSync(join(parent, name), { force: true });
  };
  const save = control.saveCheckpoint.bind(control);
  const request = control.requestCheckpoint.bind(control);
  control.saveCheckpoint = (dir, reason) => {
    try {
      claim(dir);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return save(dir, reason);
  };
  control.requestCheckpoint = (reason) => {
    if (control.checkpointDir !== undefined) claim(control.checkpointDir);
    request(reason);
  };
  return () => {
    for (const abs of claimed) rmSync(join(dirname(abs), `.${basename(abs)}${MARKER}${session}`), { force: true });
    claimed.clear();
  };
}
