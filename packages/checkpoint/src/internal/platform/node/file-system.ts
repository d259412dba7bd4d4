import * as tf from '@tensorflow/tfjs';
import { readFile, mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileDurable } from '@fitstream/util';
import { STATE, WEIGHTS_BIN } from '../../checkpoint-format.js';
import { joinWeightData, modelJsonOf } from '../../model-files.js';
import { verifyCheckpoint } from '../../verify-checkpoint.js';
import { directoryReader } from './file-store.js';

function resolvePaths(path: string): { dir: string; modelJson: string } {
  return path.endsWith('.json') ? { dir: dirname(path), modelJson: path } : { dir: path, modelJson: join(path, 'model.json') };
}

/**
 * A tfjs IO handler for the local file system, for Node without `@tensorflow/tfjs-node` (whose `file://` scheme we
 * cannot rely on). Saves `model.json` + `weights.bin` in the tfjs layers format and loads them back, so
 * `tf.loadLayersModel(fileSystem('runs/iris/checkpoints/latest'))` works with stock tfjs.
 *
 * `path` is a directory or a `model.json` path. Saving writes in place; checkpoints wrap it in an atomic directory write.
 * Loading a checkpoint directory (state.json beside model.json) verifies it first ({@link CheckpointCorruptError}).
 *
 * @example
 * ```ts
 * await model.save(fileSystem('models/iris'));
 * const restored = await tf.loadLayersModel(fileSystem('models/iris/model.json'));
 * ```
 */
export function fileSystem(path: string): tf.io.IOHandler {
  const { dir, modelJson } = resolvePaths(path);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const json = modelJsonOf(artifacts);
      await mkdir(dir, { recursive: true });
      const weights = joinWeightData(artifacts.weightData);
      await writeFileDurable(join(dir, WEIGHTS_BIN), weights);
      await writeFileDurable(modelJson, JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(json.modelTopology).length,
          weightSpecsBytes: JSON.stringify(json.weightsManifest).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      // A checkpoint (state.json beside model.json) is verified first: checksums, confined paths, regular files only.
      if (await stat(join(dir, STATE)).then(() => true, () => false)) await verifyCheckpoint(dir, directoryReader(dir));
      // Never open a FIFO or device: reading one blocks forever.
      const info = await stat(modelJson).catch(() => undefined);
      if (info && !info.isFile()) throw new Error(`fileSystem(): ${modelJson} is not a regular file; pass a directory holding model.json or the model.json path.`);
      let text: string;
      try {
        text = await readFile(modelJson, 'utf8');
      } catch (error) {
        throw new Error(`fileSystem(): cannot read ${modelJson} (${(error as Error).message}); pass a directory holding model.json or the model.json path.`);
      }
      const json = JSON.parse(text) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const path = join(dirname(modelJson), basename(p));
            if (!(await stat(path)).isFile()) throw new Error(`fileSystem(): ${path} is not a regular file.`);
            buffers.push(await readFile(path));
          }
        }
        const total = buffers.reduce((n, b) => n + b.byteLength, 0);
        const out = new Uint8Array(total);
        let offset = 0;
        for (const b of buffers) {
          out.set(b, offset);
          offset += b.byteLength;
        }
        return [specs, out.buffer];
      });
    },
  };
}
