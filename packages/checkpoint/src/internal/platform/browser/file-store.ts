// The browser build of the file-system checkpoint store: a page has no file system, so a plain path is an error that
// names the browser's store.
import type { CheckpointStore } from '../../store-types.js';

function noFileSystem(location: string): Error {
  return new Error(`Checkpoint location "${location}" is a file-system path, and a web page has no file system; in a browser use "indexeddb://${location.replace(/^\/+/, '')}".`);
}

/** In a browser: refuses every plain-path location, naming `indexeddb://` instead. */
export const fileStore: CheckpointStore = {
  resolve: (location) => location,
  write: (location) => Promise.reject(noFileSystem(location)),
  list: (location) => Promise.reject(noFileSystem(location)),
  markLatest: (location) => Promise.reject(noFileSystem(location)),
  remove: (location) => Promise.reject(noFileSystem(location)),
  exists: (location) => Promise.reject(noFileSystem(location)),
  writeText: (location) => Promise.reject(noFileSystem(location)),
  cleanUp: (location) => Promise.reject(noFileSystem(location)),
};

/** In a browser: directory readers do not exist. */
export function directoryReader(dir: string): (name: string) => Promise<Uint8Array> {
  return () => Promise.reject(noFileSystem(dir));
}
