// Checkpoints as one file to carry: a zip of the same files (state.json, model.json, weights …), verified on the way
// out and on the way in, so a checkpoint moves between a page's IndexedDB, a download and a disk unchanged.
import * as tf from '@tensorflow/tfjs';
import { unzipSync, zipSync } from 'fflate';
import { STATE, WEIGHTS_BIN } from './checkpoint-format.js';
import { checkpointStore } from './checkpoint-store.js';
import { searchVerified, type FindCheckpointOptions } from './read-checkpoint.js';
import type { CheckpointFiles } from './store-types.js';
import { CheckpointCorruptError, textOf, verifyCheckpoint } from './verify-checkpoint.js';

async function verifiedAt(location: string, options: FindCheckpointOptions) {
  const found = await searchVerified(location, options);
  if (!found) throw new Error(`No checkpoint at ${location}: expected a checkpoint or a collection of them.`);
  return found;
}

/**
 * The newest checkpoint at `location` that verifies, as the bytes of a zip of its files (what {@link importCheckpoint}
 * and {@link downloadCheckpoint} take and give).
 *
 * @example
 * ```ts
 * const zip = await exportCheckpoint('indexeddb://digits/backup');
 * await importCheckpoint(zip, 'indexeddb://digits-copy/backup');
 * ```
 */
export async function exportCheckpoint(location: string, options: FindCheckpointOptions = {}): Promise<Uint8Array> {
  const { verified } = await verifiedAt(location, options);
  // Weights barely compress; level 1 keeps a large checkpoint quick to pack.
  return zipSync({ ...verified.bytes, [STATE]: verified.stateBytes }, { level: 1 });
}

/** A file a browser gives (`<input type="file" webkitdirectory>`), or anything with a name and bytes. */
export interface CheckpointFileInput {
  readonly name: string;
  /** The path inside the chosen folder (`backup/state.json`), set by browsers for folder uploads. */
  readonly webkitRelativePath?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Verifies a checkpoint given as a zip (bytes or a `Blob`, e.g. an uploaded file) or as the files of a folder
 * (`<input type="file" webkitdirectory>`), and writes it at `location` in that location's store. A checkpoint that
 * does not verify is refused ({@link CheckpointCorruptError}) and nothing is written.
 *
 * @example
 * ```ts
 * input.onchange = () => importCheckpoint(input.files![0]!, 'indexeddb://digits/backup');
 * ```
 */
export async function importCheckpoint(source: Uint8Array | Blob | Iterable<CheckpointFileInput>, location: string): Promise<string> {
  const target = checkpointStore(location);
  const files = await filesOf(source);
  if (!files.has(STATE)) throw new CheckpointCorruptError('(upload)', STATE, 'is missing: give a zip made by exportCheckpoint/downloadCheckpoint, or the files of one checkpoint folder');
  const verified = await verifyCheckpoint('(upload)', (name) => {
    const bytes = files.get(name);
    return bytes ? Promise.resolve(bytes) : Promise.reject(new CheckpointCorruptError('(upload)', name, 'is missing'));
  });
  // Only what the state lists travels on (a stray file in the zip or folder is left behind).
  const kept = new Map([...Object.entries(verified.bytes), [STATE, verified.stateBytes]]);
  return target.store.write(target.location, kept);
}

async function filesOf(source: Uint8Array | Blob | Iterable<CheckpointFileInput>): Promise<CheckpointFiles> {
  if (source instanceof Uint8Array) return new Map(Object.entries(unzipSync(source)).filter(([name]) => !name.endsWith('/')));
  if (typeof Blob !== 'undefined' && source instanceof Blob) return filesOf(new Uint8Array(await source.arrayBuffer()));
  const files = new Map<string, Uint8Array>();
  for (const file of source as Iterable<CheckpointFileInput>) {
    // A folder upload names each file `<folder>/<path>`: the checkpoint's names start below the folder.
    const path = file.webkitRelativePath ? file.webkitRelativePath.split('/').slice(1).join('/') : file.name;
    files.set(path, new Uint8Array(await file.arrayBuffer()));
  }
  return files;
}

/**
 * In a browser: saves the newest good checkpoint at `location` as a zip through the browser's download (to move it to
 * a disk or another browser; {@link importCheckpoint} reads it back).
 *
 * @example
 * ```ts
 * button.onclick = () => downloadCheckpoint('indexeddb://digits/backup', 'digits.zip');
 * ```
 */
export async function downloadCheckpoint(location: string, fileName = `${location.replace(/\/+$/, '').split('/').pop() || 'checkpoint'}.zip`): Promise<void> {
  // Core compiles without the DOM library: the page's document is looked up.
  const { document } = globalThis as unknown as { document?: { createElement(tag: 'a'): { href: string; download: string; click(): void } } };
  if (document === undefined || typeof URL.createObjectURL !== 'function') {
    throw new Error('downloadCheckpoint() needs a web page (document, URL.createObjectURL); elsewhere use exportCheckpoint() and write the bytes yourself.');
  }
  const zip = await exportCheckpoint(location);
  const url = URL.createObjectURL(new Blob([zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }));
  try {
    const link = document.createElement('a');
    link.href = url;
    link.download = fileName;
    link.click();
  } finally {
    // The click starts the download synchronously; the URL can go once it has.
    setTimeout(() => URL.revokeObjectURL(url), 1_000);
  }
}

/**
 * A tfjs IO handler that loads the model of the newest good checkpoint at `location`, from any store:
 * `tf.loadLayersModel(checkpointModel('indexeddb://digits/backup'))`. The checkpoint is verified first.
 *
 * @example
 * ```ts
 * const model = await tf.loadLayersModel(checkpointModel('runs/iris/checkpoints'));
 * ```
 */
export function checkpointModel(location: string, options: FindCheckpointOptions = {}): tf.io.IOHandler {
  return {
    async load() {
      const { path, verified } = await verifiedAt(location, options);
      const json = verified.bytes['model.json'];
      if (!json) throw new Error(`Checkpoint ${path} holds a function model (variables.json), not a layers model; read its weights with readCheckpoint().`);
      const weights = verified.bytes[WEIGHTS_BIN]!;
      return tf.io.getModelArtifactsForJSON(JSON.parse(textOf(json)) as tf.io.ModelJSON, (manifest) =>
        Promise.resolve([manifest.flatMap((g) => g.weights), weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer]),
      );
    },
  };
}
