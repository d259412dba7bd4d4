// One process at a time in a run directory: `train` and `resume` hold `<run>/.lock` while they write there.
import { open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** What `.lock` holds: who trains in the run directory, since when. */
interface LockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly command: string;
  readonly since: string;
}

/** The run directory is in use by another live process (`holder`); exit code 1. */
export class RunLockedError extends Error {
  override readonly name = 'RunLockedError';

  constructor(
    readonly runDir: string,
    readonly holder: LockHolder,
  ) {
    const known = holder.pid > 0;
    const where = !known ? 'another process' : holder.hostname === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on ${holder.hostname}`;
    super(
      `${runDir} is in use: ${where} (\`fitstream ${holder.command}\`, since ${holder.since}) is training in it. ` +
        `Wait for it to end${known ? ` or stop it (kill -INT ${holder.pid}: it saves a backup)` : ''}, then run this again. ` +
        `If that process is gone (another machine, a reused pid), delete ${join(runDir, '.lock')}.`,
    );
  }
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    if (typeof holder.pid === 'number' && typeof holder.hostname === 'string') return { command: '?', since: '?', ...holder } as LockHolder;
  } catch {
    /* torn or unreadable: a writer killed between creating and writing it */
  }
  return undefined;
}

/**
 * Takes the run directory's lock (`.lock`, created exclusively, holding this pid, host and command) and returns its
 * release. A lock left by a process that no longer runs on this machine (SIGKILL, a crash) is taken over; one held by a
 * live process, or by one on another host, is refused with a {@link RunLockedError} naming the holder.
 */
export async function lockRunDirectory(runDir: string, command: string): Promise<() => Promise<void>> {
  const path = join(runDir, '.lock');
  const mine: LockHolder = { pid: process.pid, hostname: hostname(), command, since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(mine));
      } finally {
        await handle.close();
      }
      return async () => {
        const holder = await readHolder(path);
        if (holder?.pid === mine.pid && holder.hostname === mine.hostname) await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new RunLockedError(runDir, (await readHolder(path)) ?? { pid: -1, hostname: '?', command: '?', since: '?' });
        throw error;
      }
    }
    const holder = await readHolder(path);
    if (holder && (holder.hostname !== mine.hostname || alive(holder.pid))) throw new RunLockedError(runDir, holder);
    // An unreadable lock younger than a few seconds may be one being written right now.
    const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0);
    if (!holder && age < 5000) throw new RunLockedError(runDir, { pid: -1, hostname: '?', command: '?', since: 'just now' });
    // Stale (its process is gone) or torn (killed while taking it): remove it and try once more; a concurrent taker
    // that wins the race makes the second attempt fail with EEXIST, reported as locked.
    await rm(path, { force: true });
  }
}
