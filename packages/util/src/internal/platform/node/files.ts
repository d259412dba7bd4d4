import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file and flushes it to disk before returning (so a later rename publishes complete bytes). Not atomic by
 * itself: use it to fill a directory that {@link writeDirectoryAtomic} publishes.
 *
 * @example
 * ```ts
 * await writeDirectoryAtomic('runs/a/export', (tmp) => writeFileDurable(join(tmp, 'weights.bin'), bytes));
 * ```
 */
export async function writeFileDurable(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  // fsync on a directory makes the renames inside it durable; some file systems refuse it, which is harmless.
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* not supported here */
  }
}

/**
 * Replaces `path` with `data` atomically: write a temporary sibling, flush, rename over. A kill at any moment leaves
 * either the old file or the new one, never a torn one; missing parent directories are created.
 *
 * @example
 * ```ts
 * await writeFileAtomic('runs/a/summary.json', JSON.stringify(summary));
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFileDurable(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Builds a directory atomically: `fill` writes into a hidden temporary sibling, which is renamed to `path` only when
 * complete. A kill at any moment leaves either the previous `path` or the new one, never a half-written one. An
 * existing `path` is moved aside first and removed after the new one is in place.
 *
 * @example
 * ```ts
 * await writeDirectoryAtomic('runs/a/checkpoint', async (tmp) => {
 *   await writeFileDurable(join(tmp, 'state.json'), JSON.stringify(state));
 * });
 * ```
 */
export async function writeDirectoryAtomic(path: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(path);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(parent, `.${basename(path)}.tmp-${tag}`);
  await mkdir(tmp);
  try {
    await fill(tmp);
    await syncDirectory(tmp);
    let old: string | undefined;
    if (await pathExists(path)) {
      old = join(parent, `.${basename(path)}.old-${tag}`);
      await rename(path, old);
    }
    await rename(tmp, path);
    await syncDirectory(parent);
    if (old) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Removes temporary leftovers of interrupted atomic writes in `dir` (names starting with `.` and containing `.tmp-` or
 * `.old-`); returns the names removed. A missing `dir` is not an error.
 *
 * @example
 * ```ts
 * const removed = await removeStaleTemporaries('runs/a'); // ['.checkpoint.tmp-4242-1a2b3c4d']
 * ```
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  if (!(await pathExists(dir))) return [];
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith('.') && (name.includes('.tmp-') || name.includes('.old-'))) {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/**
 * Whether anything (file, directory, link target) exists at `path`.
 *
 * @example
 * ```ts
 * if (await pathExists(join(dir, 'state.json'))) resume(dir);
 * ```
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
