// The browser build of the file-system model handler: a page has no file system.
import type * as tf from '@tensorflow/tfjs';

/** In a browser: refused, naming tfjs' browser handlers and fitstream's checkpoint locations instead. */
export function fileSystem(path: string): tf.io.IOHandler {
  throw new Error(`fileSystem("${path}") reads and writes files, and a web page has no file system; in a browser save models with tfjs' 'indexeddb://' or 'downloads://' URLs, and load a checkpoint's model with checkpointModel('indexeddb://…').`);
}
