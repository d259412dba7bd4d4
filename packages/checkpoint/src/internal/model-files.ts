// A layers model's files as stock tfjs writes them (`model.json` + one weights file), built in memory: what checkpoints
// hold and what the file-system handler saves, so that `tf.loadLayersModel` reads either.
import * as tf from '@tensorflow/tfjs';
import { WEIGHTS_BIN } from './checkpoint-format.js';

/** tfjs' weight data (one buffer or several) as one byte array. */
export function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  return new Uint8Array(Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data);
}

/** `model.json` for model artifacts whose weights are saved as one file, `weightsFile`. */
export function modelJsonOf(artifacts: tf.io.ModelArtifacts, weightsFile: string = WEIGHTS_BIN): tf.io.ModelJSON {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error('Binary model topologies (graph models) cannot be saved here; save a LayersModel.');
  }
  return {
    modelTopology: artifacts.modelTopology!,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }],
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
    ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
  };
}
