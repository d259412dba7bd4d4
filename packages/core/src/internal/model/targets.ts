import type * as tf from '@tensorflow/tfjs';

/** Targets of a batch: one tensor (a single-output model), one per output in output order, or a map by output name. */
export type Targets = tf.Tensor | readonly tf.Tensor[] | { readonly [output: string]: tf.Tensor };
/** Per-sample weights, shape `[batch]`: one for every output, one per output, or a map by output name. */
export type SampleWeights = tf.Tensor1D | readonly (tf.Tensor1D | null)[] | { readonly [output: string]: tf.Tensor1D };
