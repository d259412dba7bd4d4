import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpu, expectClose, mlp, values } from '../../test-support/fixtures.js';
import { initOutputBias } from './output-bias.js';

beforeAll(cpu);

function zeroKernel(units: number, activation: 'sigmoid' | 'softmax' | 'linear') {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units, activation, kernelInitializer: 'zeros' })] });
}

describe('initOutputBias', () => {
  it('sigmoid: log(pos / neg), so the untrained model predicts the positive rate', () => {
    const model = zeroKernel(1, 'sigmoid');
    const labels = [...new Array<number>(500).fill(0), ...new Array<number>(10).fill(1)];
    expectClose(initOutputBias(model, { labels }), [Math.log(10 / 500)]);
    expectClose(values(model.predict(tf.ones([1, 2])) as tf.Tensor), [10 / 510], 1e-6);
    expectClose(initOutputBias(model, { prior: 0.01 }), [-Math.log(99)]); // Lin et al.'s π = 0.01
    expectClose(initOutputBias(model, { counts: [90, 10] }), [Math.log(10 / 90)]);
  });

  it('softmax: log priors, so the untrained model predicts the class frequencies', () => {
    const model = zeroKernel(3, 'softmax');
    const y = tf.oneHot(tf.tensor1d([0, 0, 0, 0, 0, 0, 1, 1, 1, 2], 'int32'), 3);
    expectClose(initOutputBias(model, { labels: y }), [Math.log(0.6), Math.log(0.3), Math.log(0.1)]);
    expectClose(values(model.predict(tf.ones([1, 2])) as tf.Tensor), [0.6, 0.3, 0.1], 1e-6);
  });

  it('needs the activation for a logits layer and a Dense last layer with a bias', () => {
    expect(() => initOutputBias(zeroKernel(1, 'linear'), { prior: 0.1 })).toThrow(/pass activation: 'sigmoid' or 'softmax'/);
    expectClose(initOutputBias(zeroKernel(1, 'linear'), { prior: 0.1, activation: 'sigmoid' }), [Math.log(1 / 9)]);
    expect(() => initOutputBias(mlp(), { prior: 0.5, labels: [1] })).toThrow(/exactly one of labels, counts or prior/);
    const noBias = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, useBias: false, activation: 'sigmoid' })] });
    expect(() => initOutputBias(noBias, { prior: 0.1 })).toThrow(/has no bias/);
  });
});
