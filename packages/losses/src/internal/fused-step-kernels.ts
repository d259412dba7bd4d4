/**
 * The categorical cross-entropy and categorical accuracy as one kernel each, where a backend package has registered
 * such kernels for the active backend (`@fitstream/backend-wasm` does on wasm, its `stepFusions` group), and
 * `undefined` otherwise so that the caller runs tfjs' own ops. This package registers no kernel itself and imports no
 * backend package: it asks tfjs' kernel registry for the names below, as `applyOptimizerUpdate` does for the fused
 * optimizer updates. backend-wasm's dense/step-kernels.ts spells the same names and documents each kernel's inputs and
 * outputs; its tests run the trainer's step with and without its kernels and compare.
 *
 * Why: on a batch of 64×10 the loss's tfjs ops (7 forward, ≈20 backward, each a dispatch, a tape node and clones of
 * its saved inputs) cost more than their arithmetic many times over (issue 18's profile of the MLP step).
 */
import * as tf from '@tensorflow/tfjs';

const CATEGORICAL_CROSSENTROPY = 'FitstreamCategoricalCrossentropy';
const CATEGORICAL_CROSSENTROPY_GRAD = 'FitstreamCategoricalCrossentropyGrad';
const CATEGORICAL_ACCURACY = 'FitstreamCategoricalAccuracy';

function registered(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/** float32 `[batch, classes]` targets and predictions of the same shape: what the fused kernels take. */
function fusable(yTrue: tf.Tensor, yPred: tf.Tensor): boolean {
  return (
    yPred.rank === 2 &&
    yTrue.rank === 2 &&
    yTrue.dtype === 'float32' &&
    yPred.dtype === 'float32' &&
    yTrue.shape[0] === yPred.shape[0] &&
    yTrue.shape[1] === yPred.shape[1]
  );
}

/**
 * Per-sample categorical cross-entropy of probabilities, `−Σ y·log(clip(p / Σp, ε, 1 − ε))`, as one kernel with its
 * gradient (with respect to targets and predictions) as one kernel; `undefined` where no such kernel is registered for
 * the active backend or the tensors are not float32 `[batch, classes]`.
 */
export function fusedCategoricalCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D | undefined {
  if (!fusable(yTrue, yPred) || !registered(CATEGORICAL_CROSSENTROPY) || !registered(CATEGORICAL_CROSSENTROPY_GRAD)) return undefined;
  const loss = tf.customGrad((y, p, save) => {
    (save as tf.GradSaveFunc)([y as tf.Tensor, p as tf.Tensor]);
    return {
      value: tf.engine().runKernel(CATEGORICAL_CROSSENTROPY, { yTrue: y as tf.Tensor, yPred: p as tf.Tensor }, {}) as tf.Tensor1D,
      gradFunc: (dy, saved) => {
        const [savedY, savedP] = saved as [tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(CATEGORICAL_CROSSENTROPY_GRAD, { dy: dy as tf.Tensor, yTrue: savedY, yPred: savedP }, {}) as tf.Tensor[];
      },
    };
  });
  return loss(yTrue, yPred) as tf.Tensor1D;
}

/**
 * Per-sample categorical accuracy (1 where the first maxima of target and prediction share their index) as one
 * kernel; `undefined` where none is registered for the active backend or the tensors are not float32 `[batch, classes]`.
 */
export function fusedCategoricalAccuracy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D | undefined {
  if (!fusable(yTrue, yPred) || !registered(CATEGORICAL_ACCURACY)) return undefined;
  return tf.engine().runKernel(CATEGORICAL_ACCURACY, { yTrue, yPred }, {}) as tf.Tensor1D;
}
