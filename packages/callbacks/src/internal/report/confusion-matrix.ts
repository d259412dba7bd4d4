import * as tf from '@tensorflow/tfjs';
import type { TrainableModel } from '@fitstream/core';
import { formatMetric } from '../io/format.js';
import { inputError } from '../input-error.js';
import { esc, FONT } from './svg-chart.js';

/** Labelled examples to draw a confusion matrix from: inputs, and targets as one-hot rows or class indices. */
export interface ConfusionMatrixData {
  /** The model's input (one tensor per input for a model with several). */
  readonly x: tf.Tensor | readonly tf.Tensor[];
  /** One-hot targets `[n, classes]`, or class indices `[n]` or `[n, 1]` (0/1 targets for two classes). */
  readonly y: tf.Tensor;
}

/** Confusion counts read back from the device: `counts[t * classes + p]` examples of true class t predicted as p. */
export interface ConfusionCounts {
  readonly epoch: number;
  readonly classes: readonly string[];
  readonly counts: ArrayLike<number>;
}

function forward(model: TrainableModel, x: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
  if (model instanceof tf.LayersModel) return model.predict(x);
  return model.apply(x, { training: false }) as tf.Tensor | tf.Tensor[];
}

/** Predicted class indices, int32 `[n]`: the argMax of class scores, or a 0.5 threshold of one sigmoid per example. */
function predictedClasses(output: tf.Tensor | tf.Tensor[], k: number, owner: string): tf.Tensor1D {
  if (Array.isArray(output)) {
    throw inputError(`${owner}: the model has ${output.length} outputs; a confusion matrix is drawn for a model with one classification output.`);
  }
  const scores = output as tf.Tensor;
  const last = scores.shape[scores.rank - 1];
  if (scores.rank === 2 && last === k) return tf.argMax(scores, -1) as tf.Tensor1D;
  if (k === 2 && (scores.rank === 1 || (scores.rank === 2 && last === 1))) return tf.cast(tf.greater(tf.reshape(scores, [-1]), 0.5), 'int32') as tf.Tensor1D;
  throw inputError(`${owner}: the model's output has shape [${scores.shape.join(', ')}]; a confusion matrix needs class scores [batch, ${k}] (one per class name) or, for 2 classes, one probability per example — it is for classification models only.`);
}

/** True class indices, int32 `[n]`. */
function trueClasses(y: tf.Tensor, k: number, owner: string): tf.Tensor1D {
  if (y.rank === 2 && y.shape[1] === k) return tf.argMax(y, -1) as tf.Tensor1D;
  if (y.rank === 1 || (y.rank === 2 && y.shape[1] === 1)) {
    // Integer labels as they are: TensorFlow's Round on int32 (the native backend) does not return its input.
    const flat = tf.reshape(y, [-1]);
    return (flat.dtype === 'int32' ? flat : tf.cast(tf.round(flat), 'int32')) as tf.Tensor1D;
  }
  throw inputError(`${owner}: y has shape [${y.shape.join(', ')}]; give one-hot targets [n, ${k}] or class indices [n] or [n, 1] (a confusion matrix is for classification only).`);
}

/** Counts of (true, predicted) pairs as a float32 `[k, k]`: one-hot rows multiplied, exact up to 2²⁴ per cell. */
function pairCounts(truth: tf.Tensor1D, predicted: tf.Tensor1D, k: number): tf.Tensor2D {
  // Not tf.math.confusionMatrix: it multiplies int32 one-hots, and the wasm backend's matMul is float32 only.
  const rows = tf.cast(tf.oneHot(truth, k), 'float32');
  const columns = tf.cast(tf.oneHot(predicted, k), 'float32');
  return tf.matMul(tf.transpose(rows), columns);
}

/**
 * The confusion matrix of `model` on `data`, computed on the device in batches of `batchSize` inside `tf.tidy`: one
 * float32 tensor `[classes, classes]` of counts (rows: true class, columns: predicted) that the caller reads back once
 * and disposes. Every other tensor made here (and any tensor `data` was made of inside the tidy) is freed.
 */
export function confusionMatrixTensor(model: TrainableModel, data: () => ConfusionMatrixData, k: number, batchSize: number, owner: string): tf.Tensor2D {
  return tf.tidy(() => {
    const given = data();
    if (!given || typeof given !== 'object' || given.y === undefined || given.x === undefined) throw inputError(`${owner}: data must be { x, y } (tensors) or a function returning them.`);
    const xs: tf.Tensor[] = Array.isArray(given.x) ? [...(given.x as readonly tf.Tensor[])] : [given.x as tf.Tensor];
    if (xs.length === 0 || !xs.every((x) => x instanceof tf.Tensor) || !(given.y instanceof tf.Tensor)) throw inputError(`${owner}: data.x and data.y must be tensors.`);
    const n = given.y.shape[0] ?? 0;
    if (xs.some((x) => x.shape[0] !== n)) throw inputError(`${owner}: data.x and data.y must have as many examples (first axis), got [${xs.map((x) => x.shape[0]).join(', ')}] and ${n}.`);
    let total = tf.zeros([k, k]) as tf.Tensor2D;
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = xs.map((x) => tf.slice(x, start, size));
      const predicted = predictedClasses(forward(model, batch.length === 1 ? batch[0]! : batch), k, owner);
      const truth = trueClasses(tf.slice(given.y, start, size), k, owner);
      total = tf.add(total, pairCounts(truth, predicted, k));
    }
    return total;
  });
}

const BLUE: readonly [number, number, number] = [31, 119, 180];

/** White to blue by `f` in [0, 1]. */
function shade(f: number): string {
  const mix = (c: number) => Math.round(255 + (c - 255) * f);
  return `rgb(${mix(BLUE[0])},${mix(BLUE[1])},${mix(BLUE[2])})`;
}

/**
 * A confusion matrix as an SVG heat map: rows are the true classes, columns the predicted ones, each cell shaded by the
 * share of its row (recall on the diagonal) with its count written in it when it is large enough, and a tooltip; the
 * accuracy and the number of examples under the title. Its size is bounded whatever the number of classes.
 */
export function renderConfusionMatrixSvg(matrix: ConfusionCounts, title = 'Confusion matrix'): string {
  const { classes, counts } = matrix;
  const k = classes.length;
  const cell = Math.max(4, Math.min(48, Math.floor(480 / k)));
  const labels = cell >= 10;
  const longest = classes.reduce((m, c) => Math.max(m, c.length), 0);
  const left = 40 + (labels ? Math.min(140, 8 + longest * 6.5) : 0);
  const top = 66 + (labels ? Math.min(110, 8 + longest * 5) : 0);
  let total = 0;
  let correct = 0;
  const rows: number[] = [];
  for (let t = 0; t < k; t++) {
    let sum = 0;
    for (let p = 0; p < k; p++) sum += counts[t * k + p] ?? 0;
    rows.push(sum);
    total += sum;
    correct += counts[t * k + t] ?? 0;
  }
  const heading = `${title} · epoch ${matrix.epoch + 1}`;
  const summary = total > 0 ? `accuracy ${formatMetric(correct / total)} on ${total} examples` : 'no examples';
  const width = Math.ceil(Math.max(left + k * cell + 16, 24 + Math.max(heading.length * 7.5, summary.length * 6.2)));
  const height = top + k * cell + 16;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="confusion-matrix" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(FONT)}">`,
    `<rect class="frame" width="${width}" height="${height}" fill="#ffffff" stroke="#e3e3e3" rx="6"/>`,
    `<text class="title" x="12" y="20" font-size="13" font-weight="600" fill="#222">${esc(heading)}</text>`,
    `<text class="summary" x="12" y="37" font-size="11" fill="#555">${esc(summary)}</text>`,
    `<text class="axis-label predicted" x="${left + (k * cell) / 2}" y="56" font-size="11" fill="#777" text-anchor="middle">predicted</text>`,
    `<text class="axis-label true" transform="translate(16,${top + (k * cell) / 2}) rotate(-90)" font-size="11" fill="#777" text-anchor="middle">true</text>`,
  ];
  if (labels) {
    out.push(`<g class="axis x-axis" font-size="11" fill="#555">`);
    classes.forEach((c, p) => out.push(`<text transform="translate(${left + p * cell + cell / 2 + 4},${top - 6}) rotate(-45)">${esc(c)}</text>`));
    out.push('</g>');
    out.push(`<g class="axis y-axis" font-size="11" fill="#555" text-anchor="end">`);
    classes.forEach((c, t) => out.push(`<text x="${left - 6}" y="${top + t * cell + cell / 2 + 4}">${esc(c)}</text>`));
    out.push('</g>');
  }
  out.push('<g class="cells">');
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const count = counts[t * k + p] ?? 0;
      const share = rows[t]! > 0 ? count / rows[t]! : 0;
      const [x, y] = [left + p * cell, top + t * cell];
      const tip = `true ${classes[t]!}, predicted ${classes[p]!}: ${count} (${(100 * share).toFixed(1)}% of ${classes[t]!})`;
      out.push(`<g class="cell" data-true="${t}" data-predicted="${p}" data-count="${count}">`);
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(share)}" stroke="${t === p ? '#555' : '#e3e3e3'}" stroke-width="${t === p ? 1.5 : 1}"><title>${esc(tip)}</title></rect>`);
      if (cell >= 22) out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" font-size="${cell >= 36 ? 12 : 10}" text-anchor="middle" fill="${share > 0.55 ? '#fff' : '#222'}">${count}</text>`);
      out.push('</g>');
    }
  }
  out.push('</g></svg>');
  return out.join('');
}
