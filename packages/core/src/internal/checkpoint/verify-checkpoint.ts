// Reading a checkpoint directory without trusting it: state.json's own checksum, every listed file's checksum, paths
// confined to the directory, and only regular files opened (a FIFO or device would block or misbehave on open).
import { lstat, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { sha256 } from '@fitstream/util';
import { MODELS_DIR, OPTIMIZER_BIN, OPTIMIZER_JSON, OPTIMIZERS_DIR, PLUGIN_TENSORS_BIN, PLUGIN_TENSORS_JSON, STATE, VARIABLES_JSON, WEIGHTS_BIN } from './checkpoint-format.js';
import type { CheckpointState } from './checkpoint-format.js';

/**
 * A checkpoint whose files do not verify: `file` (relative to `checkpoint`) is missing, not a regular file, outside the
 * directory, unlisted, or does not match its checksum — `problem` says which.
 *
 * @example
 * ```ts
 * try {
 *   await trainer.resume('runs/mnist/checkpoints', data, options);
 * } catch (error) {
 *   if (error instanceof CheckpointCorruptError) console.error(`${error.file}: ${error.problem}`);
 * }
 * ```
 */
export class CheckpointCorruptError extends Error {
  override readonly name = 'CheckpointCorruptError';

  constructor(
    readonly checkpoint: string,
    readonly file: string,
    readonly problem: string,
  ) {
    super(`Checkpoint ${checkpoint} is corrupt: ${file} ${problem}. Resume from an earlier checkpoint, or delete this one.`);
  }
}

/** The checksum state.json carries of itself: sha256 of its JSON without the `checksum` key, keys in written order. */
export function stateChecksum(state: object): string {
  return sha256(JSON.stringify(state));
}

/** state.json's verified content and the bytes of every file it lists, checked against their checksums. */
export async function readVerifiedCheckpoint(dir: string): Promise<{ state: CheckpointState; bytes: Record<string, Buffer> }> {
  const corrupt = (file: string, problem: string) => new CheckpointCorruptError(dir, file, problem);
  const root = await realpath(dir);
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readRegularFile(dir, root, STATE)).toString('utf8'));
  } catch (error) {
    if (error instanceof CheckpointCorruptError) throw error;
    throw corrupt(STATE, 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt(STATE, 'is not a JSON object');
  const { checksum, ...unsigned } = parsed as { checksum?: unknown } & Record<string, unknown>;
  const state = parsed as CheckpointState;
  if (state.format !== 'fitstream-checkpoint' || state.version !== 1) {
    throw new Error(`${dir}/state.json is not a fitstream checkpoint of version 1 (format ${String(state.format)}, version ${String(state.version)}).`);
  }
  // Checkpoints written before the checksum existed have none; any written since must match it.
  if (checksum !== undefined && checksum !== stateChecksum(unsigned)) throw corrupt(STATE, 'does not match its own checksum (edited or damaged)');
  const files = state.files as unknown;
  if (typeof files !== 'object' || files === null || Array.isArray(files) || Object.values(files).some((d) => typeof d !== 'string')) {
    throw corrupt(STATE, 'has no valid "files" map (file name → sha256)');
  }
  const listed = files as Record<string, string>;
  for (const name of requiredFiles(state)) if (!(name in listed)) throw corrupt(name, 'is not listed in state.json');
  const bytes: Record<string, Buffer> = {};
  for (const [name, digest] of Object.entries(listed)) {
    if (!isConfinedName(name)) throw corrupt(name, 'is not a relative path inside the checkpoint (absolute, "..", or a backslash)');
    bytes[name] = await readRegularFile(dir, root, name);
    if (sha256(bytes[name]) !== digest) throw corrupt(name, 'does not match its checksum');
  }
  return { state, bytes };
}

/** The files a state cannot be restored without: each model's topology or variables and weights, each optimizer's. */
function requiredFiles(state: CheckpointState): string[] {
  const model = (prefix: string, kind: string) => [`${prefix}${kind === 'layers' ? 'model.json' : VARIABLES_JSON}`, `${prefix}${WEIGHTS_BIN}`];
  const optimizer = (prefix: string) => [`${prefix}${OPTIMIZER_JSON}`, `${prefix}${OPTIMIZER_BIN}`];
  return [
    ...model('', state.model?.kind ?? 'layers'),
    ...optimizer(''),
    ...Object.entries(state.parts?.models ?? {}).flatMap(([name, m]) => model(`${MODELS_DIR}/${name}/`, m.kind)),
    ...Object.keys(state.parts?.optimizers ?? {}).flatMap((name) => optimizer(`${OPTIMIZERS_DIR}/${name}/`)),
    ...(state.files && PLUGIN_TENSORS_JSON in state.files ? [PLUGIN_TENSORS_BIN] : []),
  ];
}

function isConfinedName(name: string): boolean {
  return name.length > 0 && !isAbsolute(name) && !name.includes('\\') && !name.split('/').some((part) => part === '..' || part === '' || part === '.');
}

/** Reads `name` under `dir` only if it is a regular file (not a link, FIFO, device or directory) whose real path is inside. */
async function readRegularFile(dir: string, root: string, name: string): Promise<Buffer> {
  const path = join(dir, name);
  let info;
  try {
    info = await lstat(path);
  } catch {
    throw new CheckpointCorruptError(dir, name, 'is missing');
  }
  if (info.isSymbolicLink()) throw new CheckpointCorruptError(dir, name, 'is a symbolic link (only regular files are read)');
  if (!info.isFile()) throw new CheckpointCorruptError(dir, name, 'is not a regular file (a FIFO, device or directory is never opened)');
  // A folder on the way may be a link leading out of the checkpoint.
  if (!(await realpath(path)).startsWith(`${root}${sep}`)) throw new CheckpointCorruptError(dir, name, 'lies outside the checkpoint directory');
  return readFile(path);
}
