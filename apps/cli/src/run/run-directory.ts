import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** `2025-11-23T15:22:33.123Z` → `20251123-152233`. */
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * Creates `<out>/<recipe>-<timestamp>/`, adding `-2`, `-3`… when a run started in the same second already has the name.
 * Returns the absolute path.
 */
export async function createRunDirectory(out: string, recipe: string, now = new Date()): Promise<string> {
  const parent = resolve(out);
  await mkdir(parent, { recursive: true });
  const base = `${recipe}-${stamp(now)}`;
  for (let n = 1; ; n++) {
    const dir = join(parent, n === 1 ? base : `${base}-${n}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Writes a JSON file with a trailing newline. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
