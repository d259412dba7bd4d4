import * as tf from '@tensorflow/tfjs';
import { createLazyValues } from '../../../packages/core/src/internal/events/lazy-metrics.ts';
const t = tf.tensor1d([1, 2]);
for (let r = 0; r < 3; r++) {
  const s = performance.now();
  for (let i = 0; i < 10000; i++) { const l = createLazyValues(['loss', 'acc'], t as tf.Tensor1D, `the metrics of epoch ${r} batch ${i}`); l.release(); }
  console.log(((performance.now() - s) / 10000 * 1000).toFixed(2), 'us per create');
}
