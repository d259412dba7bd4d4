// Where checkpoints live. A location is a path (the file system, under Node) or a URL whose scheme names a store —
// `indexeddb://run/backup` in a browser — as tfjs' model URLs do (`indexeddb://`, `downloads://`). Every store holds
// the same files (see checkpoint-format.ts), verified by the same checksums when read.
import { fileStore } from '#platform/file-store';
import { indexedDbStore } from './indexeddb-store.js';
import type { CheckpointStore } from './store-types.js';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

const stores = new Map<string, CheckpointStore>([
  ['file', fileStore],
  ['indexeddb', indexedDbStore],
]);

/**
 * Adds a checkpoint store for locations `<scheme>://…` (replacing a store registered under that scheme before).
 *
 * @example
 * ```ts
 * registerCheckpointStore('s3', myBucketStore);
 * await trainer.saveCheckpoint('s3://models/run-7');
 * ```
 */
export function registerCheckpointStore(scheme: string, store: CheckpointStore): void {
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) throw new TypeError(`registerCheckpointStore: scheme must be letters, digits, "+", "-" or "." (like "s3"), got "${scheme}".`);
  stores.set(scheme.toLowerCase(), store);
}

/**
 * The store a location belongs to: its URL scheme's (`indexeddb://…`), or the file system for a plain path or
 * `file://…`; and the location as that store names it (`resolve`: an absolute path on disk).
 *
 * @example
 * ```ts
 * const { store, location } = checkpointStore('indexeddb://digits/backup');
 * if (await store.exists(location)) await store.remove(location);
 * ```
 */
export function checkpointStore(location: string): { readonly store: CheckpointStore; readonly location: string } {
  if (typeof location !== 'string' || location.length === 0) throw new TypeError(`A checkpoint location must be a non-empty string (a path, or "indexeddb://<name>" in a browser), got ${JSON.stringify(location)}.`);
  const scheme = SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) return { store: fileStore, location: fileStore.resolve(location) };
  const store = stores.get(scheme);
  if (!store) throw new Error(`No checkpoint store for "${scheme}://" locations (${location}); use a path, "indexeddb://<name>", or registerCheckpointStore("${scheme}", store).`);
  return { store, location: store.resolve(scheme === 'file' ? location.slice('file://'.length) : location) };
}

/**
 * A location inside another: `joinLocation('runs/a', 'backup')` is `runs/a/backup`, `joinLocation('indexeddb://a',
 * 'backup')` is `indexeddb://a/backup` (plugins that keep several checkpoints under one location use it).
 */
export function joinLocation(location: string, ...names: string[]): string {
  return [location.replace(/\/+$/, ''), ...names].join('/');
}
