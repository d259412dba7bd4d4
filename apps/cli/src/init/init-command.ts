import type { Io } from '../recipes/recipe.js';
import { initProject } from './init-project.js';

/**
 * `fitstream init [dir]`: writes the starter project and lists its files with what each is for, then the next
 * command; with `--json`, one object (`{ dir, files: [{ path, bytes, about, overwritten }] }`) on stdout.
 *
 * @example
 * ```ts
 * await initCommand('my-model', { force: false, json: true }, io);
 * ```
 */
export async function initCommand(dir: string, flags: { readonly force?: boolean; readonly json?: boolean }, io: Io): Promise<void> {
  const result = await initProject(dir, { force: flags.force === true });
  if (flags.json) {
    io.out(JSON.stringify(result));
    return;
  }
  const where = dir;
  const width = result.files.reduce((w, f) => Math.max(w, f.path.length), 0);
  io.out(`fitstream: a new project in ${where}:`);
  for (const file of result.files) io.out(`  ${file.path.padEnd(width)}  ${file.about}${file.overwritten ? ' (overwritten)' : ''}`);
  io.out(`Train it: ${where === '.' ? '' : `cd ${where} && `}npx fitstream fit   (README.md says what else to run)`);
}
