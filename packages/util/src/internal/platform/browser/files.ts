// The browser build of the crash-safe file writes: there is no file system in a page. Each function says so and names
// what to use there instead (checkpoints: `indexeddb://` locations; downloads: `downloadCheckpoint`).

function noFileSystem(name: string): Error {
  return new Error(`${name}() writes to the file system, which a web page does not have; in a browser keep checkpoints under an 'indexeddb://<name>' location (or download them with downloadCheckpoint from @fitstream/core).`);
}

/** Not available in a browser (no file system); see the Node build. */
export function writeFileDurable(_path: string, _data: string | Uint8Array): Promise<void> {
  return Promise.reject(noFileSystem('writeFileDurable'));
}

/** Not available in a browser (no file system); see the Node build. */
export function writeFileAtomic(_path: string, _data: string | Uint8Array): Promise<void> {
  return Promise.reject(noFileSystem('writeFileAtomic'));
}

/** Not available in a browser (no file system); see the Node build. */
export function writeDirectoryAtomic(_path: string, _fill: (tmpDir: string) => Promise<void>): Promise<void> {
  return Promise.reject(noFileSystem('writeDirectoryAtomic'));
}

/** Not available in a browser (no file system); see the Node build. */
export function removeStaleTemporaries(_dir: string): Promise<string[]> {
  return Promise.reject(noFileSystem('removeStaleTemporaries'));
}

/** In a browser there is no file system, so no path exists. */
export function pathExists(_path: string): Promise<boolean> {
  return Promise.resolve(false);
}
