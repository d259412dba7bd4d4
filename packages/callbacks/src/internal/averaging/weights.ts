import * as tf from '@tensorflow/tfjs';
import { isFrozen, leafLayers, type TrainableModel } from '@fitstream/core';
import { batchNormLayers } from '@fitstream/transfer';

const isFloat = (v: tf.Variable) => v.dtype === 'float32';

/** The float weights the optimizer trains now (Keras `trainable_variables`), by the names of `control.namedWeights()`. */
export function trainableWeightNames(model: TrainableModel, weights: ReadonlyMap<string, tf.Variable>): string[] {
  const trainable = model instanceof tf.LayersModel ? new Set(model.trainableWeights.map((w) => w.originalName)) : new Set(model.variables.filter((v) => v.trainable).map((v) => v.name));
  return [...weights].filter(([name, v]) => trainable.has(name) && isFloat(v)).map(([name]) => name);
}

/** Every float weight. */
export function floatWeightNames(weights: ReadonlyMap<string, tf.Variable>): string[] {
  return [...weights].filter(([, v]) => isFloat(v)).map(([name]) => name);
}

/**
 * The model's parameters in PyTorch's sense: every float weight, trainable or frozen, except the running statistics
 * (batch-norm moving mean and variance of a `LayersModel`; the `nonTrainableVariables` of a `FunctionModel`).
 */
export function parameterNames(model: TrainableModel, weights: ReadonlyMap<string, tf.Variable>): string[] {
  const statistics =
    model instanceof tf.LayersModel
      ? new Set(batchNormLayers(model).flatMap((l) => l.weights.map((w) => w.originalName).filter((n) => /\/moving_(mean|variance)$/.test(n))))
      : new Set((model.nonTrainableVariables ?? []).map((v) => v.name));
  return [...weights].filter(([name, v]) => isFloat(v) && !statistics.has(name)).map(([name]) => name);
}

/**
 * Names of the batch-normalization layers whose statistics `updateBatchNormStatistics` recomputes: those that are
 * not frozen themselves nor inside a frozen nested model.
 */
export function trainableBatchNormLayers(model: tf.LayersModel): string[] {
  if (!model.trainable) return [];
  return leafLayers(model)
    .filter((leaf) => leaf.layer.getClassName() === 'BatchNormalization' && !isFrozen(leaf))
    .map(({ layer }) => layer.name);
}
