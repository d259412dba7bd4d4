import * as tf from '@tensorflow/tfjs';
import { checkpointWeights } from '@fitstream/checkpoint';
import { FitstreamInputError } from '@fitstream/util';
import { installFrozenBatchNormInference } from './frozen-batch-norm.js';
import { leafLayers } from './leaf-layers.js';

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
  /** Forward pass: one tensor, or one per output. `training` is `false` during validation and evaluation. */
  apply(x: tf.Tensor | readonly tf.Tensor[], options: { readonly training: boolean }): tf.Tensor | readonly tf.Tensor[];
  /** Names of the outputs when `apply` returns several (default `output_0`, `output_1`, …; one output: `output`). */
  readonly outputNames?: readonly string[];
  /** Shape of one input sample (without the batch axis), checked against the data when given. */
  readonly inputShape?: readonly (number | null)[];
}

/** The models the trainer can train. */
export type TrainableModel = tf.LayersModel | FunctionModel;

/** What the loop needs from a model, whatever its kind. */
export interface ModelAdapter {
  readonly kind: 'layers' | 'function';
  /** The model as the user gave it. */
  readonly source: TrainableModel;
  readonly label: string;
  /** One tensor per output, in output order. */
  forward(x: tf.Tensor | readonly tf.Tensor[], training: boolean): tf.Tensor[];
  trainableVariables(): tf.Variable[];
  /** Every weight that a checkpoint must hold, by unique name. */
  namedWeights(): Map<string, tf.Variable>;
  /** Per-input sample shapes (no batch axis); `null` entries are free. */
  readonly inputShapes: readonly (readonly (number | null)[])[] | undefined;
  /** The outputs' names, in order (Keras: the output layers' names). */
  readonly outputNames: readonly string[];
  /** Output sample shapes (no batch axis), per output, when known. */
  readonly outputShapes: readonly (readonly (number | null)[])[] | undefined;
  readonly layersModel: tf.LayersModel | undefined;
}

function isLayersModel(model: TrainableModel): model is tf.LayersModel {
  return model instanceof tf.LayersModel;
}

/** Wraps the `model` option. */
export function adaptModel(model: TrainableModel): ModelAdapter {
  if (model == null) throw new FitstreamInputError('model', 'is required: a tf.LayersModel (tf.sequential / tf.model) or a FunctionModel { variables, apply(x, { training }) }.');
  if (isLayersModel(model)) return adaptLayersModel(model);
  if (typeof (model).apply !== 'function' || !Array.isArray((model).variables)) {
    throw new FitstreamInputError('model', 'must be a tf.LayersModel (tf.sequential / tf.model) or { variables: tf.Variable[], apply(x, { training }) }.');
  }
  return adaptFunctionModel(model);
}

/** The name of a weight of `model` that was disposed (`model.dispose()`), or `undefined` when every weight is alive. */
export function disposedWeight(model: ModelAdapter): string | undefined {
  const source = model.source;
  if (source instanceof tf.LayersModel) {
    for (const { layer } of leafLayers(source)) {
      for (const w of layer.weights) {
        try {
          if ((w.read() as tf.Variable).isDisposed) return w.name;
        } catch {
          return w.name; // a disposed layers variable refuses to be read
        }
      }
    }
    return undefined;
  }
  return [...source.variables, ...(source.nonTrainableVariables ?? [])].find((v) => v.isDisposed)?.name;
}

function adaptLayersModel(model: tf.LayersModel): ModelAdapter {
  // Frozen batch-norm layers train in inference mode, as in Keras (tfjs-layers ignores `trainable` there).
  installFrozenBatchNormInference(model);
  return {
    kind: 'layers',
    source: model,
    label: `LayersModel "${model.name}"`,
    layersModel: model,
    forward: (x, training) => {
      const out = model.apply(x as tf.Tensor | tf.Tensor[], { training });
      return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
    },
    // Read on every fit: layer.trainable may change between fits (fine-tuning).
    trainableVariables: () => model.trainableWeights.map((w) => w.read() as tf.Variable),
    // The order and names checkpoints save weights under (not `model.weights`, whose order changes with freezing).
    namedWeights: () => checkpointWeights(model),
    inputShapes: model.inputs.map((i) => i.shape.slice(1)),
    // A Sequential's `outputNames` stays empty until it is compiled: the output layers' names, as Keras reports them.
    outputNames: model.outputNames.length === model.outputs.length ? model.outputNames : model.outputs.map((o) => o.sourceLayer.name),
    outputShapes: model.outputs.map((o) => o.shape.slice(1)),
  };
}

function adaptFunctionModel(model: FunctionModel): ModelAdapter {
  const outputNames = model.outputNames ? [...model.outputNames] : ['output'];
  if (new Set(outputNames).size !== outputNames.length || outputNames.some((n) => typeof n !== 'string' || n === '')) {
    throw new FitstreamInputError('model.outputNames', `must be distinct non-empty names, got ${JSON.stringify(model.outputNames)}.`);
  }
  const named = new Map<string, tf.Variable>();
  for (const v of [...model.variables, ...(model.nonTrainableVariables ?? [])]) {
    if (named.has(v.name)) throw new Error(`FunctionModel: two variables are named "${v.name}"; give each variable a unique name.`);
    named.set(v.name, v);
  }
  return {
    kind: 'function',
    source: model,
    label: 'FunctionModel',
    layersModel: undefined,
    forward: (x, training) => {
      const out = model.apply(x, { training });
      const list = out instanceof tf.Tensor ? [out] : [...out];
      if (list.length !== outputNames.length) throw new Error(`FunctionModel: apply returned ${list.length} outputs but outputNames names ${outputNames.length}; keep them in step.`);
      return list;
    },
    trainableVariables: () => model.variables.filter((v) => v.trainable),
    namedWeights: () => named,
    inputShapes: model.inputShape ? [model.inputShape] : undefined,
    outputNames,
    outputShapes: undefined,
  };
}
