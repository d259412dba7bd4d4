// Node: a pretrained model is a local model.json (or the directory holding it) with its weight files beside it.
import type * as tf from '@tensorflow/tfjs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileSystem } from '@fitstream/core';
import { FitstreamInputError } from '@fitstream/util';
import { assertLayersModel, notLoadable, type ModelDescription, type PretrainedArtifacts } from '../../model-artifacts.js';

async function modelJsonPath(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new FitstreamInputError('path', `${path} does not exist; pass a tfjs layers model.json (or the directory holding it), e.g. the output of \`tensorflowjs_converter --input_format keras model.h5 out/\` or of \`model.save(fileSystem('out'))\`.`);
  }
  return info.isDirectory() ? join(path, 'model.json') : path;
}

/**
 * Reads the artifacts of the layers model at `path` — a `model.json` or the directory holding it — checking the JSON
 * (graph model, not a model, arguments tfjs ignores) before reading any weight file.
 *
 * @example
 * ```ts
 * const { source, artifacts } = await readModelArtifacts('models/digits-cnn');
 * ```
 */
export async function readModelArtifacts(path: string): Promise<PretrainedArtifacts> {
  const file = await modelJsonPath(path);
  let json: ModelDescription;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as ModelDescription;
  } catch (error) {
    throw new FitstreamInputError('path', `${file} is not a readable JSON model (${(error as Error).message}).`);
  }
  assertLayersModel(file, json);
  try {
    return { source: file, artifacts: await (fileSystem(file) as Required<Pick<tf.io.IOHandler, 'load'>>).load() };
  } catch (error) {
    throw notLoadable(file, error);
  }
}
