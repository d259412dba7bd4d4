import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/resolve.js';

const where = (out: string) => `out (--out or the config's "out"): ${out}`;
const fix = 'pass a directory that can be created and written, e.g. --out runs';

/**
 * Makes sure `out` (the parent of run directories) is a directory this process can write, creating the missing
 * folders one at a time, before the backend loads or anything is written: a file in the way, a read-only or virtual
 * file system (`/proc`, where Node's recursive `mkdir` never returns) is a {@link ConfigError} naming `out` and the fix.
 */
export async function prepareOutDirectory(out: string): Promise<void> {
  const target = resolve(out);
  const missing: string[] = [];
  for (let dir = target; ; ) {
    const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw new ConfigError(`${where(out)}: cannot look at ${dir} (${error.code ?? error.message}); ${fix}.`);
    });
    if (info) {
      if (!info.isDirectory()) throw new ConfigError(`${where(out)}: ${dir} is ${info.isFile() ? 'a file, ' : ''}not a directory; ${fix}.`);
      break;
    }
    missing.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const dir of missing) {
    try {
      await mkdir(dir); // one level at a time: recursive mkdir loops forever where mkdir fails with ENOENT (/proc/x)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await stat(dir).catch(() => undefined))?.isDirectory()) continue;
      throw new ConfigError(`${where(out)}: cannot create ${dir} (${code ?? (error as Error).message}: a read-only or virtual file system, or no permission); ${fix}.`);
    }
  }
  try {
    await access(target, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new ConfigError(`${where(out)}: ${target} is not writable (${(error as NodeJS.ErrnoException).code ?? 'no permission'}); ${fix}.`);
  }
}
