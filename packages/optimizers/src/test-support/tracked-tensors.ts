import * as tf from '@tensorflow/tfjs';

/** 1-D variables and tensors a test creates, disposed together after each test (`disposeTracked` in `afterEach`). */
const tracked: tf.Tensor[] = [];

/** A trainable float32 variable holding `values`, named `name` when given. */
export function variable(values: number[], name?: string): tf.Variable {
  const v = tf.variable(tf.tensor1d(values), true, name);
  tracked.push(v);
  return v;
}

/** A float32 tensor holding `values`. */
export function tensor(values: number[]): tf.Tensor {
  const t = tf.tensor1d(values);
  tracked.push(t);
  return t;
}

/** Disposes everything created through this module since the last call. */
export function disposeTracked(): void {
  tf.dispose(tracked.splice(0));
}
