import * as tf from '@tensorflow/tfjs';
import { installFrozenBatchNormInference, leafLayers } from '../transfer/batch-norm.js';

/**
 * A custom model as a plain function of variables, for when a `LayersModel` does not fit.
 *
 * @example
 * ```ts
 * const w = tf.variable(tf.zeros([4, 3]), true, 'w');
 * const b = tf.variable(tf.zeros([3]), true, 'b');
 * const model: FunctionModel = { variables: [w, b], apply: (x) => tf.softmax(tf.add(tf.matMul(x as tf.Tensor2D, w), b)) };
 * ```
 */
export interface FunctionModel {
  /** Trainable variables; names must be unique (they key gradients and checkpoints). */
  readonly variables: readonly tf.Variable[];
  /** Variables saved in checkpoints but not trained (running statistics, RNN state). */
  readonly nonTrainableVariables?: readonly tf.Variable[];
  /** Forward pass. `training` is `false` during validation and evaluation. */
  apply(x: tf.Tensor | readonly tf.Tensor[], options: { readonly training: boolean }): tf.Tensor;
  /** Shape of one input sample (without the batch axis), checked against the data when given. */
  readonly inputShape?: readonly (number | null)[];
}

/** The models the trainer can train. */
export type TrainableModel = tf.LayersModel | FunctionModel;

/** What the loop needs from a model, whatever its kind. */
export interface ModelAdapter {
  readonly kind: 'layers' | 'function';
  readonly label: string;
  forward(x: tf.Tensor | readonly tf.Tensor[], training: boolean): tf.Tensor;
  trainableVariables(): tf.Variable[];
  /** Every weight that a checkpoint must hold, by unique name. */
  namedWeights(): Map<string, tf.Variable>;
  /** Per-input sample shapes (no batch axis); `null` entries are free. */
  readonly inputShapes: readonly (readonly (number | null)[])[] | undefined;
  /** Output sample shape (no batch axis), when known. */
  readonly outputShape: readonly (number | null)[] | undefined;
  readonly layersModel: tf.LayersModel | undefined;
}

function isLayersModel(model: TrainableModel): model is tf.LayersModel {
  return model instanceof tf.LayersModel;
}

/** Wraps the `model` option. */
export function adaptModel(model: TrainableModel): ModelAdapter {
  if (model == null) throw new TypeError('createTrainer: `model` is required (a tf.LayersModel or a FunctionModel).');
  if (isLayersModel(model)) return adaptLayersModel(model);
  if (typeof (model).apply !== 'function' || !Array.isArray((model).variables)) {
    throw new TypeError(
      'createTrainer: `model` must be a tf.LayersModel (tf.sequential / tf.model) or { variables: tf.Variable[], apply(x, { training }) }.',
    );
  }
  return adaptFunctionModel(model);
}

function adaptLayersModel(model: tf.LayersModel): ModelAdapter {
  if (model.outputs.length !== 1) {
    throw new Error(`Model "${model.name}" has ${model.outputs.length} outputs; this version trains single-output models.`);
  }
  // Frozen batch-norm layers train in inference mode, as in Keras (tfjs-layers ignores `trainable` there).
  installFrozenBatchNormInference(model);
  return {
    kind: 'layers',
    label: `LayersModel "${model.name}"`,
    layersModel: model,
    forward: (x, training) => {
      const out = model.apply(x as tf.Tensor | tf.Tensor[], { training });
      return (Array.isArray(out) ? out[0]! : out) as tf.Tensor;
    },
    // Read on every fit: layer.trainable may change between fits (fine-tuning).
    trainableVariables: () => model.trainableWeights.map((w) => w.read() as tf.Variable),
    // In layer order, each layer's weights in its own order: tfjs' `model.weights` lists trainable weights first, so
    // its order changes when layers are frozen — and checkpoints match weights by position when names differ.
    namedWeights: () => {
      const map = new Map<string, tf.Variable>();
      for (const { layer } of leafLayers(model)) for (const w of layer.weights) map.set(w.originalName, w.read() as tf.Variable);
      return map;
    },
    inputShapes: model.inputs.map((i) => i.shape.slice(1)),
    outputShape: model.outputs[0]!.shape.slice(1),
  };
}

function adaptFunctionModel(model: FunctionModel): ModelAdapter {
  const named = new Map<string, tf.Variable>();
  for (const v of [...model.variables, ...(model.nonTrainableVariables ?? [])]) {
    if (named.has(v.name)) throw new Error(`FunctionModel: two variables are named "${v.name}"; give each variable a unique name.`);
    named.set(v.name, v);
  }
  return {
    kind: 'function',
    label: 'FunctionModel',
    layersModel: undefined,
    forward: (x, training) => model.apply(x, { training }),
    trainableVariables: () => model.variables.filter((v) => v.trainable),
    namedWeights: () => named,
    inputShapes: model.inputShape ? [model.inputShape] : undefined,
    outputShape: undefined,
  };
}
