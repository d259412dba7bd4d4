// Checkpoints on the file system (Node): a checkpoint is a directory, published by an atomic rename; a collection is a
// directory of them with `latest.json`. A kill at any moment leaves the previous checkpoint or the new one in place,
// plus hidden copies (`.name.old-*`: the previous one moved aside, `.name.tmp-*`: the new one before its rename) that
// `list` offers too, so nothing complete is lost.
import { lstat, mkdir, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath, sep } from 'node:path';
import { pathExists, removeStaleTemporaries, writeDirectoryAtomic, writeFileAtomic, writeFileDurable } from '@fitstream/util';
import { LATEST, STATE } from '../../checkpoint-format.js';
import type { CheckpointState } from '../../checkpoint-format.js';
import type { CheckpointFiles, CheckpointStore, StoredCheckpoint } from '../../store-types.js';
import { CheckpointCorruptError } from '../../verify-checkpoint.js';

const HIDDEN_VERSION = /^\.(.+)\.(tmp|old)-/;

const lstatOrUndefined = (path: string) => lstat(path).catch(() => undefined);

const hiddenRank = (name: string) => (HIDDEN_VERSION.exec(name)?.[2] === 'old' ? 2 : 3);

/** Reads `name` under `dir` only if it is a regular file (not a link, FIFO, device or directory) whose real path is inside. */
async function readRegularFile(dir: string, root: Promise<string>, name: string): Promise<Uint8Array> {
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
  if (!(await realpath(path)).startsWith(`${await root}${sep}`)) throw new CheckpointCorruptError(dir, name, 'lies outside the checkpoint directory');
  return readFile(path);
}

/** A checkpoint directory's reader: regular files inside it only. */
export function directoryReader(dir: string): (name: string) => Promise<Uint8Array> {
  let root: Promise<string> | undefined;
  return (name) => readRegularFile(dir, (root ??= realpath(dir)), name);
}

/** A directory that may be a checkpoint, with the position its state.json claims (unverified; for ordering only). */
async function stored(path: string, rank: number): Promise<StoredCheckpoint | undefined> {
  const info = await lstatOrUndefined(join(path, STATE));
  if (!info) return undefined;
  const unknown = { location: path, step: Number.NEGATIVE_INFINITY, epoch: 0, batch: 0, createdAt: '', rank, read: directoryReader(path) };
  if (!info.isFile()) return unknown;
  try {
    const state = JSON.parse(await readFile(join(path, STATE), 'utf8')) as Partial<CheckpointState>;
    const number = (v: unknown) => (typeof v === 'number' && !Number.isNaN(v) ? v : Number.NEGATIVE_INFINITY);
    return { ...unknown, step: number(state.step), epoch: number(state.epoch), batch: number(state.batch), createdAt: String(state.createdAt ?? '') };
  } catch {
    return unknown;
  }
}

/**
 * The checkpoints at `location`: a checkpoint directory (holds state.json) with the hidden copies an interrupted
 * atomic replacement leaves beside it, or, for a directory of checkpoints, every checkpoint in it, hidden copies
 * included.
 */
async function list(location: string): Promise<StoredCheckpoint[]> {
  const abs = resolvePath(location);
  const parent = dirname(abs);
  const name = basename(abs);
  const siblings = await readdir(parent).catch(() => [] as string[]);
  const versions = siblings.filter((n) => HIDDEN_VERSION.exec(n)?.[1] === name);
  if (versions.length > 0 || (await lstatOrUndefined(join(abs, STATE)))) {
    const found = await Promise.all([stored(abs, 1), ...versions.map((n) => stored(join(parent, n), hiddenRank(n)))]);
    return found.filter((c) => c !== undefined);
  }
  if (!(await lstatOrUndefined(abs))?.isDirectory()) return [];
  let latest: string | undefined;
  try {
    latest = (JSON.parse(await readFile(join(abs, LATEST), 'utf8')) as { path?: unknown }).path as string | undefined;
  } catch {
    latest = undefined; // no latest.json, or a torn one: every checkpoint is still found below
  }
  const children = await readdir(abs, { withFileTypes: true });
  const found = await Promise.all(
    children.filter((d) => d.isDirectory()).map((d) => stored(join(abs, d.name), d.name === latest ? 0 : HIDDEN_VERSION.test(d.name) ? hiddenRank(d.name) : 1)),
  );
  return found.filter((c) => c !== undefined);
}

/** Writes the files into a temporary directory (each flushed, state.json last) and renames it into place. */
async function write(location: string, files: CheckpointFiles): Promise<string> {
  const path = resolvePath(location);
  await writeDirectoryAtomic(path, async (tmp) => {
    const names = [...files.keys()].sort((a, b) => Number(a === STATE) - Number(b === STATE));
    for (const name of names) {
      await mkdir(dirname(join(tmp, name)), { recursive: true });
      await writeFileDurable(join(tmp, name), files.get(name)!);
    }
  });
  return path;
}

/**
 * The file-system checkpoint store: plain paths (and `file://` URLs) under Node.
 *
 * @example
 * ```ts
 * const { store, location } = checkpointStore('runs/a/checkpoints/epoch-003');
 * await store.remove(location);
 * ```
 */
export const fileStore: CheckpointStore = {
  resolve: (location) => resolvePath(location),
  write,
  list,
  /** Points `<parent>/latest.json` at a checkpoint directory (atomic rename). */
  markLatest: async (location) => {
    const path = resolvePath(location);
    await writeFileAtomic(join(dirname(path), LATEST), JSON.stringify({ path: basename(path) }));
  },
  remove: (location) => rm(resolvePath(location), { recursive: true, force: true }),
  exists: (location) => pathExists(resolvePath(location)),
  writeText: (location, text) => writeFileAtomic(resolvePath(location), text),
  cleanUp: (location) => removeStaleTemporaries(resolvePath(location)),
};
