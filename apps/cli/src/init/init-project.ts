import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FitstreamInputError } from '@fitstream/core';
import { irisCsv } from './iris-csv.js';
import { STARTER_FILES } from './templates.js';

/** Options of {@link initProject}. */
export interface InitOptions {
  /** Overwrite files that exist (default false: an existing file is an error naming it, and nothing is written). */
  readonly force?: boolean;
}

/** One file {@link initProject} wrote. */
export interface InitFile {
  /** Relative to the project directory. */
  readonly path: string;
  readonly bytes: number;
  /** What the file is for (as the project's README says). */
  readonly about: string;
  /** Whether a file of that name was there and `force` replaced it. */
  readonly overwritten: boolean;
}

/** What {@link initProject} did (the `--json` object of `fitstream init`). */
export interface InitResult {
  /** The project directory, absolute. */
  readonly dir: string;
  readonly files: readonly InitFile[];
}

const exists = (path: string) => stat(path).then((s) => s, () => undefined);

/**
 * Writes a starter `fitstream fit` project into `dir` (created when missing): `fitstream.yaml`, `model.ts`, `data.csv`
 * (Fisher's Iris, from `@fitstream/datasets`), `load-data.ts`, `README.md` and `.gitignore`. `npx fitstream fit` in
 * `dir` then trains. Every file is checked before any is written: an existing one is a {@link FitstreamInputError}
 * (exit code 2) naming each, unless `force` is set.
 *
 * @example
 * ```ts
 * const { files } = await initProject('my-model');
 * files.map((f) => f.path); // ['fitstream.yaml', 'model.ts', 'data.csv', 'load-data.ts', 'README.md', '.gitignore']
 * ```
 */
export async function initProject(dir: string, options: InitOptions = {}): Promise<InitResult> {
  const root = resolve(dir);
  const info = await exists(root);
  if (info && !info.isDirectory()) throw new FitstreamInputError('dir', `${dir} is a file; pass a directory for the new project (it is created when missing), e.g. fitstream init my-model.`);
  const existing: string[] = [];
  for (const file of STARTER_FILES) {
    const found = await exists(join(root, file.path));
    if (found?.isDirectory()) throw new FitstreamInputError('dir', `${join(dir, file.path)} is a directory; remove it or choose another directory for the project.`);
    if (found) existing.push(file.path);
  }
  if (existing.length > 0 && options.force !== true) {
    throw new FitstreamInputError(
      'dir',
      `${existing.map((f) => join(dir, f)).join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing was written. Pass --force to overwrite ${existing.length === 1 ? 'it' : 'them'}, or choose another directory: fitstream init <dir>.`,
    );
  }
  const csv = await irisCsv();
  await mkdir(root, { recursive: true });
  const written: InitFile[] = [];
  for (const file of STARTER_FILES) {
    const text = file.path === 'data.csv' ? csv : file.text;
    await writeFile(join(root, file.path), text);
    written.push({ path: file.path, bytes: Buffer.byteLength(text), about: file.about, overwritten: existing.includes(file.path) });
  }
  return { dir: root, files: written };
}
