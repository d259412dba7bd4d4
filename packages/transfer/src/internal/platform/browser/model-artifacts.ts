// In a page a pretrained model is a URL: whatever tfjs' load handlers read (https://…/model.json and its weight files,
// a relative URL, indexeddb://…, localstorage://…), fetched once.
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { notLoadable, type PretrainedArtifacts } from '../../model-artifacts.js';

const WHAT_TO_PASS =
  "in a browser pass a URL tfjs can load: the model.json served with its weight files beside it ('https://…/model.json' or a URL relative to the page), or a model saved in the page ('indexeddb://<name>', 'localstorage://<name>')";

/**
 * Reads the artifacts of the layers model at the URL `path` through tfjs' load handlers (`tf.io.getLoadHandlers`,
 * else `tf.io.http` for a relative URL): model.json and weights, once.
 *
 * @example
 * ```ts
 * const { source, artifacts } = await readModelArtifacts('https://example.com/models/digits-cnn/model.json');
 * ```
 */
export async function readModelArtifacts(path: string): Promise<PretrainedArtifacts> {
  if (typeof path !== 'string' || path.trim() === '') throw new FitstreamInputError('path', `is ${JSON.stringify(path)}; ${WHAT_TO_PASS}.`);
  let handler: tf.io.IOHandler;
  try {
    handler = tf.io.getLoadHandlers(path)[0] ?? tf.io.http(path);
  } catch (error) {
    throw notLoadable(path, error, WHAT_TO_PASS);
  }
  if (!handler.load) throw new FitstreamInputError('path', `${path} names a place tfjs can save to but not load from; ${WHAT_TO_PASS}.`);
  try {
    return { source: path, artifacts: await handler.load() };
  } catch (error) {
    throw notLoadable(path, error, WHAT_TO_PASS);
  }
}
