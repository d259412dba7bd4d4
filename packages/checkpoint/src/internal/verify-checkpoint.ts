// Reading a checkpoint without trusting it: state.json's own checksum, every listed file's checksum, names confined to
// the checkpoint, every weights manifest against its binary. The store reads the bytes (the file system store opens
// regular files only: a FIFO or device would block or misbehave on open); this checks them, the same for every store.
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
 *   await readCheckpoint('runs/mnist/checkpoints');
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

const UTF8 = new TextDecoder();

/** A file's bytes as text (UTF-8). */
export const textOf = (bytes: Uint8Array): string => UTF8.decode(bytes);

/** A verified checkpoint: its state and the bytes of every file the state lists. */
export interface VerifiedCheckpoint {
  readonly state: CheckpointState;
  readonly bytes: Readonly<Record<string, Uint8Array>>;
  /** state.json's own bytes (its checksum covers this exact text). */
  readonly stateBytes: Uint8Array;
}

/**
 * state.json's verified content and the bytes of every file it lists, checked against their checksums.
 * `read(name)` gives a file's bytes (a store's reader); `where` names the checkpoint in errors.
 */
export async function verifyCheckpoint(dir: string, read: (name: string) => Promise<Uint8Array>): Promise<VerifiedCheckpoint> {
  const corrupt = (file: string, problem: string) => new CheckpointCorruptError(dir, file, problem);
  const stateBytes = await read(STATE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(textOf(stateBytes));
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
  const fieldProblem = stateProblem(parsed as Record<string, unknown>);
  if (fieldProblem) throw corrupt(STATE, fieldProblem);
  const listed = files as Record<string, string>;
  for (const name of requiredFiles(state)) if (!(name in listed)) throw corrupt(name, 'is not listed in state.json');
  const bytes: Record<string, Uint8Array> = {};
  for (const [name, digest] of Object.entries(listed)) {
    if (!isConfinedName(name)) throw corrupt(name, 'is not a relative path inside the checkpoint (absolute, "..", or a backslash)');
    bytes[name] = await read(name);
    if (sha256(bytes[name]) !== digest) throw corrupt(name, 'does not match its checksum');
  }
  for (const [json, bin, specsOf] of weightFiles(state)) {
    const problem = weightsProblem(bytes[json]!, bytes[bin]!, specsOf);
    if (problem) throw corrupt(problem.file === 'json' ? json : bin, problem.problem.replace('$json', json));
  }
  return { state, bytes, stateBytes };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the readers dereference in state.json, checked before they do: a hand-edited or damaged (but re-signed) state is
 * a corrupt checkpoint, not a TypeError deep in a reader. Optional fields (absent in older checkpoints) stay optional.
 */
function stateProblem(state: Record<string, unknown>): string | undefined {
  for (const key of ['epoch', 'batch', 'step']) {
    if (!Number.isSafeInteger(state[key]) || (state[key] as number) < 0) return `has no valid "${key}" (an integer ≥ 0)`;
  }
  if (typeof state['learningRate'] !== 'number' || !Number.isFinite(state['learningRate'])) return 'has no valid "learningRate" (a finite number)';
  const model = (m: unknown) => isObject(m) && (m['kind'] === 'layers' || m['kind'] === 'function');
  const optimizer = (o: unknown) => isObject(o) && typeof o['className'] === 'string';
  if (!model(state['model'])) return 'has no valid "model" ({ kind: "layers" | "function" })';
  // A model saved without an optimizer (writeCheckpoint) has none; a trainer's checkpoint always has one.
  if (state['optimizer'] !== undefined && !optimizer(state['optimizer'])) return 'has no valid "optimizer" ({ className, extras })';
  const parts = state['parts'];
  if (parts !== undefined) {
    if (!isObject(parts) || !isObject(parts['models'] ?? {}) || !isObject(parts['optimizers'] ?? {})) return 'has no valid "parts" ({ models, optimizers })';
    for (const [name, m] of Object.entries((parts['models'] ?? {}) as object)) if (!model(m)) return `has no valid "parts.models.${name}"`;
    for (const [name, o] of Object.entries((parts['optimizers'] ?? {}) as object)) if (!optimizer(o)) return `has no valid "parts.optimizers.${name}"`;
  }
  const history = state['history'];
  if (!isObject(history) || !Array.isArray(history['epochs']) || !isObject(history['logs'])) return 'has no valid "history" ({ epochs, logs })';
  for (const key of ['random', 'plugins']) if (!isObject(state[key])) return `has no valid "${key}" (an object)`;
  if (state['fit'] !== undefined && !isObject(state['fit'])) return 'has no valid "fit" (an object)';
  if (state['aggregate'] !== null && !isObject(state['aggregate'])) return 'has no valid "aggregate" (null or an object)';
  return undefined;
}

type SpecsOf = (json: unknown) => unknown[] | undefined;
const weightsOfGroups: SpecsOf = (v) => (isObject(v) && Array.isArray(v['weightsManifest']) && v['weightsManifest'].every((g) => isObject(g) && Array.isArray(g['weights'])) ? (v['weightsManifest'] as { weights: unknown[] }[]).flatMap((g) => g.weights) : undefined);
const weightsList: SpecsOf = (v) => (isObject(v) && Array.isArray(v['weights']) ? v['weights'] : undefined);
const pluginWeights: SpecsOf = (v) => (isObject(v) && Array.isArray(v['keys']) && v['keys'].every((k) => typeof k === 'string') ? weightsList(v) : undefined);

/** Each weights manifest with the binary file it describes, and how to find the entries in it. */
function weightFiles(state: CheckpointState): [string, string, SpecsOf][] {
  const model = (prefix: string, kind: string): [string, string, SpecsOf] =>
    kind === 'layers' ? [`${prefix}model.json`, `${prefix}${WEIGHTS_BIN}`, weightsOfGroups] : [`${prefix}${VARIABLES_JSON}`, `${prefix}${WEIGHTS_BIN}`, weightsList];
  const optimizer = (prefix: string): [string, string, SpecsOf] => [`${prefix}${OPTIMIZER_JSON}`, `${prefix}${OPTIMIZER_BIN}`, weightsList];
  return [
    model('', state.model.kind),
    ...(state.optimizer ? [optimizer('')] : []),
    ...Object.entries(state.parts?.models ?? {}).map(([name, m]) => model(`${MODELS_DIR}/${name}/`, m.kind)),
    ...Object.keys(state.parts?.optimizers ?? {}).map((name) => optimizer(`${OPTIMIZERS_DIR}/${name}/`)),
    ...(PLUGIN_TENSORS_JSON in state.files ? [[PLUGIN_TENSORS_JSON, PLUGIN_TENSORS_BIN, pluginWeights] as [string, string, SpecsOf]] : []),
  ];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** A manifest that does not parse, lists malformed entries, or describes another number of bytes than its binary holds. */
function weightsProblem(json: Uint8Array, bin: Uint8Array, specsOf: SpecsOf): { file: 'json' | 'bin'; problem: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(textOf(json));
  } catch {
    return { file: 'json', problem: 'is not valid JSON' };
  }
  const specs = specsOf(value);
  if (!specs) return { file: 'json', problem: 'is not a weights manifest' };
  let expected = 0;
  for (const spec of specs) {
    const shape = isObject(spec) ? spec['shape'] : undefined;
    const quantization = isObject(spec) ? spec['quantization'] : undefined;
    const bytes = isObject(quantization) ? QUANTIZED_BYTES[String(quantization['dtype'])] : isObject(spec) ? DTYPE_BYTES[String(spec['dtype'])] : undefined;
    if (!isObject(spec) || typeof spec['name'] !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) || bytes === undefined) {
      return { file: 'json', problem: `lists a malformed weight entry (${JSON.stringify(spec)?.slice(0, 80) ?? String(spec)})` };
    }
    expected += (shape as number[]).reduce((a, b) => a * b, 1) * bytes;
  }
  if (expected !== bin.length) return { file: 'bin', problem: `holds ${bin.length} bytes but $json describes ${expected}` };
  return undefined;
}

/** The files a state cannot be restored without: each model's topology or variables and weights, each optimizer's. */
function requiredFiles(state: CheckpointState): string[] {
  const model = (prefix: string, kind: string) => [`${prefix}${kind === 'layers' ? 'model.json' : VARIABLES_JSON}`, `${prefix}${WEIGHTS_BIN}`];
  const optimizer = (prefix: string) => [`${prefix}${OPTIMIZER_JSON}`, `${prefix}${OPTIMIZER_BIN}`];
  return [
    ...model('', state.model?.kind ?? 'layers'),
    ...(state.optimizer ? optimizer('') : []),
    ...Object.entries(state.parts?.models ?? {}).flatMap(([name, m]) => model(`${MODELS_DIR}/${name}/`, m.kind)),
    ...Object.keys(state.parts?.optimizers ?? {}).flatMap((name) => optimizer(`${OPTIMIZERS_DIR}/${name}/`)),
    ...(state.files && PLUGIN_TENSORS_JSON in state.files ? [PLUGIN_TENSORS_BIN] : []),
  ];
}

/** A relative name inside the checkpoint: not absolute (`/…`, `C:…`), no `..`, `.` or empty parts, no backslash. */
export function isConfinedName(name: string): boolean {
  return name.length > 0 && !name.startsWith('/') && !/^[A-Za-z]:/.test(name) && !name.includes('\\') && !name.split('/').some((part) => part === '..' || part === '' || part === '.');
}
