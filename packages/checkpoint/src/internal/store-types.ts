// What a checkpoint store is (checkpoint-store.ts routes locations to stores; the stores implement this).

/** The files of one checkpoint by relative name (`state.json`, `model.json`, `models/gen/weights.bin` …). */
export type CheckpointFiles = ReadonlyMap<string, Uint8Array>;

/**
 * A checkpoint a store found at a location, not yet verified: the position its state claims (for ordering only) and a
 * way to read its files.
 */
export interface StoredCheckpoint {
  /** Its location, as the store names it (an absolute path for the file system). */
  readonly location: string;
  readonly step: number;
  readonly epoch: number;
  readonly batch: number;
  readonly createdAt: string;
  /**
   * 0: published and named by the collection's `latest`, 1: published, 2: the previous copy an interrupted replacement
   * moved aside, 3: the complete new copy it had not yet put in place.
   */
  readonly rank: number;
  /** One file's bytes; rejects with a `CheckpointCorruptError` when the file is missing or must not be read. */
  read(name: string): Promise<Uint8Array>;
}

/**
 * A place checkpoints are kept. fitstream has two built in — the file system (plain paths, Node) and IndexedDB
 * (`indexeddb://…`, browsers) — and {@link registerCheckpointStore} adds others (a bucket, OPFS…).
 *
 * @example
 * ```ts
 * const memory = new Map<string, CheckpointFiles>();
 * registerCheckpointStore('memory', {
 *   write: async (location, files) => (memory.set(location, files), location),
 *   list: async (location) => [], // the checkpoints at location, see StoredCheckpoint
 *   markLatest: async () => {},
 *   remove: async (location) => void memory.delete(location),
 *   exists: async (location) => memory.has(location),
 *   writeText: async () => {},
 *   cleanUp: async () => [],
 * });
 * ```
 */
export interface CheckpointStore {
  /** The location in the form the store names it (an absolute path on disk, `indexeddb://a/b` without a trailing `/`). */
  resolve(location: string): string;
  /**
   * Publishes `files` as the checkpoint at `location`, atomically: a reader (or a resume after a crash at any moment)
   * finds the previous checkpoint there or the new one, never a mix. Resolves with the location as stored.
   */
  write(location: string, files: CheckpointFiles): Promise<string>;
  /** Every checkpoint at `location` — that checkpoint, or each one in a collection — unverified, in no order. */
  list(location: string): Promise<StoredCheckpoint[]>;
  /** Names the checkpoint at `location` as its collection's latest (`latest.json` beside it). */
  markLatest(location: string): Promise<void>;
  /** Deletes the checkpoint, collection or note at `location` (nothing there is not an error). */
  remove(location: string): Promise<void>;
  /** Whether a checkpoint (or a note) is at `location`. */
  exists(location: string): Promise<boolean>;
  /** Writes a small text note (`best.json`) at `location`, atomically. */
  writeText(location: string, text: string): Promise<void>;
  /** Removes what interrupted writes left in the collection at `location`; resolves with what it removed. */
  cleanUp(location: string): Promise<string[]>;
}
