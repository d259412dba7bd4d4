// Checkpoints in IndexedDB (`indexeddb://<name>`), for training in a web page: the same files as on disk, kept in one
// database. A checkpoint is written in one transaction, so a reload or a closed tab at any moment leaves the previous
// checkpoint or the new one, never a mix: IndexedDB commits a transaction whole or not at all.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { STATE, LATEST } from './checkpoint-format.js';
import type { CheckpointState } from './checkpoint-format.js';
import type { CheckpointFiles, CheckpointStore, StoredCheckpoint } from './store-types.js';
import { CheckpointCorruptError, textOf } from './verify-checkpoint.js';

const DATABASE = 'fitstream-checkpoints';
const SCHEME = 'indexeddb://';

/** A checkpoint's position (from its state.json) and file names; its files are records of their own. */
interface CheckpointRecord {
  readonly location: string;
  readonly step: number;
  readonly epoch: number;
  readonly batch: number;
  readonly createdAt: string;
  readonly names: readonly string[];
}

interface CheckpointDatabase extends DBSchema {
  checkpoints: { key: string; value: CheckpointRecord };
  /** Key: `[location, file name]`. */
  files: { key: [string, string]; value: Uint8Array };
  /** Small notes beside checkpoints: `latest.json`, `best.json`. Key: the note's location. */
  notes: { key: string; value: string };
}

let database: Promise<IDBPDatabase<CheckpointDatabase>> | undefined;

/**
 * An IDBKeyRange. Core compiles without the DOM library (its sources are type-checked by every package that uses it),
 * so the web globals are looked up and a range is passed to idb's methods, whose parameters name DOM's type, as `never`.
 */
type KeyRange = never;
const web = globalThis as unknown as { indexedDB?: unknown; IDBKeyRange: { bound(lower: unknown, upper: unknown): KeyRange } };

function open(): Promise<IDBPDatabase<CheckpointDatabase>> {
  if (web.indexedDB === undefined) {
    return Promise.reject(new Error(`"${SCHEME}" checkpoint locations need IndexedDB, which this environment does not have (Node has none); use a file-system path there.`));
  }
  database ??= openDB<CheckpointDatabase>(DATABASE, 1, {
    upgrade(db) {
      db.createObjectStore('checkpoints', { keyPath: 'location' });
      db.createObjectStore('files');
      db.createObjectStore('notes');
    },
    // Another tab upgrading the database: close ours so it is not blocked; the next call opens it again.
    blocking() {
      // (IDBDatabase's close, looked up: see KeyRange.)
      void database?.then((db) => (db as unknown as { close(): void }).close());
      database = undefined;
    },
  });
  database.catch(() => (database = undefined));
  return database;
}

/** `indexeddb://a/b/` → `indexeddb://a/b`; refuses a location without a name. */
function normalise(location: string): string {
  const name = location.slice(SCHEME.length).replace(/\/+$/, '');
  if (!location.toLowerCase().startsWith(SCHEME) || name.length === 0) throw new TypeError(`An IndexedDB checkpoint location is "${SCHEME}<name>" (e.g. "${SCHEME}my-app/backup"), got "${location}".`);
  return `${SCHEME}${name}`;
}

/** Keys strictly under `location/`. */
const under = (location: string): KeyRange => web.IDBKeyRange.bound(`${location}/`, `${location}/\uffff`);

const baseName = (location: string) => location.slice(location.lastIndexOf('/') + 1);
const parentOf = (location: string) => location.slice(0, location.lastIndexOf('/'));

function stored(db: IDBPDatabase<CheckpointDatabase>, record: CheckpointRecord, rank: number): StoredCheckpoint {
  const { location, step, epoch, batch, createdAt } = record;
  return {
    location,
    step,
    epoch,
    batch,
    createdAt,
    rank,
    read: async (name) => {
      const bytes = await db.get('files', [location, name]);
      if (!bytes) throw new CheckpointCorruptError(location, name, 'is missing');
      return bytes;
    },
  };
}

/** The position state.json claims, for ordering (verification comes when the checkpoint is read). */
function positionOf(files: CheckpointFiles): Pick<CheckpointRecord, 'step' | 'epoch' | 'batch' | 'createdAt'> {
  const state = files.get(STATE);
  const unknown = { step: Number.NEGATIVE_INFINITY, epoch: 0, batch: 0, createdAt: '' };
  if (!state) return unknown;
  try {
    const parsed = JSON.parse(textOf(state)) as Partial<CheckpointState>;
    const number = (v: unknown) => (typeof v === 'number' && !Number.isNaN(v) ? v : Number.NEGATIVE_INFINITY);
    return { step: number(parsed.step), epoch: number(parsed.epoch), batch: number(parsed.batch), createdAt: String(parsed.createdAt ?? '') };
  } catch {
    return unknown;
  }
}

/**
 * The IndexedDB checkpoint store, for `indexeddb://<name>` locations (database `fitstream-checkpoints`). A collection
 * is every checkpoint named `<location>/<child>`; its `latest.json` is a note.
 *
 * @example
 * ```ts
 * trainer.use(backupAndRestore({ dir: 'indexeddb://digits' })); // resumes after a page reload
 * const model = await tf.loadLayersModel(checkpointModel('indexeddb://digits/backup'));
 * ```
 */
export const indexedDbStore: CheckpointStore = {
  resolve: (location) => normalise(location),
  async write(location, files) {
    const key = normalise(location);
    const db = await open();
    const tx = db.transaction(['checkpoints', 'files'], 'readwrite');
    const old = await tx.objectStore('checkpoints').get(key);
    for (const name of old?.names ?? []) if (!files.has(name)) void tx.objectStore('files').delete([key, name]);
    for (const [name, bytes] of files) void tx.objectStore('files').put(bytes, [key, name]);
    void tx.objectStore('checkpoints').put({ location: key, ...positionOf(files), names: [...files.keys()] });
    await tx.done;
    return key;
  },
  async list(location) {
    const key = normalise(location);
    const db = await open();
    const own = await db.get('checkpoints', key);
    if (own) return [stored(db, own, 1)];
    const latest = await db.get('notes', `${key}/${LATEST}`);
    let latestName: unknown;
    try {
      latestName = latest === undefined ? undefined : (JSON.parse(latest) as { path?: unknown }).path;
    } catch {
      latestName = undefined; // a damaged note: every checkpoint is still found
    }
    const children = (await db.getAll('checkpoints', under(key))).filter((r) => !r.location.slice(key.length + 1).includes('/'));
    return children.map((r) => stored(db, r, baseName(r.location) === latestName ? 0 : 1));
  },
  async markLatest(location) {
    const key = normalise(location);
    if (!key.slice(SCHEME.length).includes('/')) throw new TypeError(`markLatest("${location}"): a latest mark belongs to a collection; name the checkpoint inside one ("${key}/<name>").`);
    const db = await open();
    await db.put('notes', JSON.stringify({ path: baseName(key) }), `${parentOf(key)}/${LATEST}`);
  },
  async remove(location) {
    const key = normalise(location);
    const db = await open();
    const tx = db.transaction(['checkpoints', 'files', 'notes'], 'readwrite');
    const checkpoints = [...(await tx.objectStore('checkpoints').getAllKeys(key)), ...(await tx.objectStore('checkpoints').getAllKeys(under(key)))];
    for (const checkpoint of checkpoints) {
      void tx.objectStore('files').delete(web.IDBKeyRange.bound([checkpoint, ''], [checkpoint, '\uffff']));
      void tx.objectStore('checkpoints').delete(checkpoint);
    }
    void tx.objectStore('notes').delete(key);
    void tx.objectStore('notes').delete(under(key));
    await tx.done;
  },
  async exists(location) {
    const key = normalise(location);
    const db = await open();
    return (await db.count('checkpoints', key)) + (await db.count('notes', key)) > 0;
  },
  async writeText(location, text) {
    const db = await open();
    await db.put('notes', text, normalise(location));
  },
  // A transaction commits whole or not at all: interrupted writes leave nothing to clean.
  cleanUp: (location) => (normalise(location), Promise.resolve([])),
};
