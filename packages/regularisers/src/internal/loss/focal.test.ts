import * as tf from '@tensorflow/tfjs';
import { resolveLoss } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpu, expectClose, values } from '../../test-support/fixtures.js';
import { binaryCrossentropy, categoricalCrossentropy, smoothLabels } from './cross-entropy.js';
import { binaryFocalCrossentropy, categoricalFocalCrossentropy } from './focal.js';

beforeAll(cpu);

const yBin = () => tf.tensor2d([[1], [0], [1], [0], [1]]);
const logits = () => tf.tensor2d([[2.5], [-1], [-0.3], [0.7], [0]]);
const probs = () => tf.sigmoid(logits());
const yCat = () => tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]]);
const catLogits = () => tf.tensor2d([[2, 1, -1], [0.5, 0.2, 0.1], [-3, 0, 3], [1, 1, 1]]);

describe('focal loss (Lin et al. 2017)', () => {
  it('γ = 0 without α equals cross-entropy to 1e-6 (probabilities and logits, binary and categorical)', () => {
    const bce = values(resolveLoss('binaryCrossentropy').fn(yBin(), probs()));
    expectClose(values(binaryFocalCrossentropy({ gamma: 0 }).fn(yBin(), probs())), bce, 1e-6);
    expectClose(values(binaryFocalCrossentropy({ gamma: 0, fromLogits: true }).fn(yBin(), logits())), values(resolveLoss({ name: 'binaryCrossentropy', fromLogits: true }).fn(yBin(), logits())), 1e-6);
    const cce = values(resolveLoss({ name: 'categoricalCrossentropy', fromLogits: true }).fn(yCat(), catLogits()));
    expectClose(values(categoricalFocalCrossentropy({ gamma: 0, fromLogits: true }).fn(yCat(), catLogits())), cce, 1e-6);
    expectClose(values(categoricalFocalCrossentropy({ gamma: 0 }).fn(yCat(), tf.softmax(catLogits()))), cce, 1e-6);
  });

  it('equals −α_t (1 − p_t)^γ log p_t, hand-computed', () => {
    // y = 1, logit 0 → p_t = 0.5: FL = −α · 0.5² · log 0.5; y = 0, logit ln 3 → p = 0.75, p_t = 0.25: −(1−α) · 0.75² · log 0.25
    const fl = binaryFocalCrossentropy({ gamma: 2, alpha: 0.25, fromLogits: true });
    expectClose(values(fl.fn(tf.tensor2d([[1], [0]]), tf.tensor2d([[0], [Math.log(3)]]))), [0.25 * 0.25 * Math.LN2, 0.75 * 0.5625 * Math.log(4)], 1e-6);
    // categorical: p = softmax([0, ln 3]) = [0.25, 0.75]; y = class 0: −α₀ (0.75)² log 0.25
    const cfl = categoricalFocalCrossentropy({ gamma: 2, alpha: [0.4, 0.6], fromLogits: true });
    expectClose(values(cfl.fn(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, Math.log(3)]]))), [0.4 * 0.5625 * Math.log(4)], 1e-6);
  });

  it('is ≤ cross-entropy everywhere and the ratio tends to 0 as p_t → 1', () => {
    const x = tf.linspace(-8, 8, 41).reshape([41, 1]);
    for (const y of [tf.onesLike(x), tf.zerosLike(x)]) {
      const ce = values(binaryCrossentropy({ fromLogits: true }).fn(y, x));
      const fl = values(binaryFocalCrossentropy({ gamma: 2, fromLogits: true }).fn(y, x));
      fl.forEach((v, i) => expect(v).toBeLessThanOrEqual(ce[i]! + 1e-7));
    }
    const ratio = (logit: number) => values(binaryFocalCrossentropy({ gamma: 2, fromLogits: true }).fn(tf.tensor2d([[1]]), tf.tensor2d([[logit]])))[0]! / values(binaryCrossentropy({ fromLogits: true }).fn(tf.tensor2d([[1]]), tf.tensor2d([[logit]])))[0]!;
    expect(ratio(2)).toBeGreaterThan(ratio(4));
    expect(ratio(8)).toBeLessThan(1e-6);
  });

  it('gives finite losses and gradients at logits ±50', () => {
    const y = tf.tensor2d([[1], [0], [1], [0]]);
    const x = tf.tensor2d([[50], [50], [-50], [-50]]);
    for (const loss of [binaryFocalCrossentropy({ gamma: 2, alpha: 0.25, fromLogits: true }), binaryFocalCrossentropy({ gamma: 0.5, labelSmoothing: 0.1, fromLogits: true })]) {
      const l = values(loss.fn(y, x));
      expect(l.every(Number.isFinite)).toBe(true);
      expect(l[1]).toBeGreaterThan(10); // confidently wrong stays large
      const g = values(tf.grad((t: tf.Tensor) => tf.sum(loss.fn(y, t)))(x));
      expect(g.every(Number.isFinite)).toBe(true);
    }
    const cx = tf.tensor2d([[50, -50, 0], [-50, 50, 0]]);
    const cy = tf.tensor2d([[1, 0, 0], [1, 0, 0]]);
    const cfl = categoricalFocalCrossentropy({ gamma: 2, fromLogits: true });
    expect(values(cfl.fn(cy, cx)).every(Number.isFinite)).toBe(true);
    expect(values(tf.grad((t: tf.Tensor) => tf.sum(cfl.fn(cy, t)))(cx)).every(Number.isFinite)).toBe(true);
  });

  it('applies α to the positive class and 1 − α to the negative class; a multiclass α vector per class', () => {
    const plain = values(binaryFocalCrossentropy({ gamma: 2, fromLogits: true }).fn(yBin(), logits()));
    const weighted = values(binaryFocalCrossentropy({ gamma: 2, alpha: 0.9, fromLogits: true }).fn(yBin(), logits()));
    const yv = values(yBin());
    expectClose(weighted, plain.map((v, i) => v * (yv[i] === 1 ? 0.9 : 0.1)), 1e-6);
    const cPlain = values(categoricalFocalCrossentropy({ gamma: 1, fromLogits: true }).fn(yCat(), catLogits()));
    const cWeighted = values(categoricalFocalCrossentropy({ gamma: 1, alpha: [1, 2, 3], fromLogits: true }).fn(yCat(), catLogits()));
    expectClose(cWeighted, cPlain.map((v, i) => v * [1, 2, 3, 2][i]!), 1e-6);
    expect(() => categoricalFocalCrossentropy({ alpha: [1, 2] }).fn(yCat(), catLogits())).toThrow(/2 entries but the model predicts 3 classes/);
  });

  it('accepts sparse targets', () => {
    const sparse = tf.tensor1d([0, 1, 2, 1]);
    expectClose(values(categoricalFocalCrossentropy({ fromLogits: true }).fn(sparse, catLogits())), values(categoricalFocalCrossentropy({ fromLogits: true }).fn(yCat(), catLogits())));
  });
});

describe('label smoothing (Keras formulas)', () => {
  it('smoothed rows sum to 1; ε = 0 is plain cross-entropy; the minimum loss is above 0', () => {
    const smoothed = smoothLabels(yCat(), 0.3, 'categorical');
    expectClose(values(tf.sum(smoothed, -1)), [1, 1, 1, 1]);
    expectClose(values(smoothed).slice(0, 3), [0.8, 0.1, 0.1]);
    expectClose(values(smoothLabels(yBin(), 0.2, 'binary')).slice(0, 2), [0.9, 0.1]);
    expectClose(values(categoricalCrossentropy({ labelSmoothing: 0, fromLogits: true }).fn(yCat(), catLogits())), values(resolveLoss({ name: 'categoricalCrossentropy', fromLogits: true }).fn(yCat(), catLogits())));
    expectClose(values(binaryCrossentropy({ labelSmoothing: 0 }).fn(yBin(), probs())), values(resolveLoss('binaryCrossentropy').fn(yBin(), probs())));
    // the best prediction under smoothing is the smoothed target itself, and its loss (the entropy) is > 0
    const best = values(categoricalCrossentropy({ labelSmoothing: 0.3 }).fn(yCat(), smoothed));
    const entropy = -(0.8 * Math.log(0.8) + 2 * 0.1 * Math.log(0.1));
    expectClose(best, [entropy, entropy, entropy, entropy], 1e-5);
    expect(values(categoricalCrossentropy({ labelSmoothing: 0.3 }).fn(yCat(), yCat())).every((v) => v > entropy)).toBe(true);
    expect(() => binaryCrossentropy({ labelSmoothing: 1 })).toThrow(/labelSmoothing: must be a number in \[0, 1\)/);
  });
});
