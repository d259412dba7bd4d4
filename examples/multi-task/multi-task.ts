/**
 * A multi-task model — a tiny "detector": MNIST digits placed at a random spot of a 40×40 canvas; one head classifies
 * the digit (`digit`, softmax), the other regresses its bounding box (`box`: top, left, bottom, right as fractions of
 * the canvas). Trained with the trainer's default step, a loss per output, loss weights and metrics per output; the
 * history uses Keras 3's names (`digit_loss`, `box_loss`, `val_digit_accuracy`, `val_box_iou`, …).
 */
import * as tf from '@tensorflow/tfjs';
import { csvLogger, earlyStopping, progressBar, type ProgressStream } from '@fitstream/callbacks';
import { createTrainer, defineMetric, fileSystem, Random, withSeed, type FitResult } from '@fitstream/core';
import { loadMnist } from '@fitstream/datasets';
import { join } from 'node:path';

export const CANVAS = 40;
const DIGIT = 28;

/** The digits on a canvas, with their labels and boxes. */
export interface PlacedDigits {
  readonly x: tf.Tensor4D;
  readonly y: { readonly digit: tf.Tensor1D; readonly box: tf.Tensor2D };
}

/** Places each digit at a seeded random offset on a 40×40 canvas; its box is the bounding box of its ink (pixels > 0.25). */
export async function placeDigits(images: tf.Tensor4D, labels: tf.Tensor1D, seed: number): Promise<PlacedDigits> {
  const n = images.shape[0];
  const src = await images.data();
  const random = Random.fromSeed(seed);
  const canvas = new Float32Array(n * CANVAS * CANVAS);
  const boxes = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const dy = Math.floor(random.next() * (CANVAS - DIGIT + 1));
    const dx = Math.floor(random.next() * (CANVAS - DIGIT + 1));
    let top = CANVAS, left = CANVAS, bottom = 0, right = 0;
    for (let y = 0; y < DIGIT; y++) {
      for (let x = 0; x < DIGIT; x++) {
        const v = src[(i * DIGIT + y) * DIGIT + x]!;
        canvas[(i * CANVAS + y + dy) * CANVAS + x + dx] = v;
        if (v > 0.25) {
          top = Math.min(top, y + dy);
          left = Math.min(left, x + dx);
          bottom = Math.max(bottom, y + dy + 1);
          right = Math.max(right, x + dx + 1);
        }
      }
    }
    boxes.set([top / CANVAS, left / CANVAS, bottom / CANVAS, right / CANVAS], i * 4);
  }
  return { x: tf.tensor4d(canvas, [n, CANVAS, CANVAS, 1]), y: { digit: labels.clone(), box: tf.tensor2d(boxes, [n, 4]) } };
}

/** Intersection over union of boxes `[n, 4]` (top, left, bottom, right): `[n]`. */
export function boxIou(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const [at, al, ab, ar] = tf.unstack(a, 1) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const [bt, bl, bb, br] = tf.unstack(b, 1) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const h = tf.relu(tf.sub(tf.minimum(ab, bb), tf.maximum(at, bt)));
    const w = tf.relu(tf.sub(tf.minimum(ar, br), tf.maximum(al, bl)));
    const inter = tf.mul(h, w);
    const area = (t: tf.Tensor1D, l: tf.Tensor1D, bo: tf.Tensor1D, r: tf.Tensor1D) => tf.mul(tf.relu(tf.sub(bo, t)), tf.relu(tf.sub(r, l)));
    return tf.div(inter, tf.add(tf.sub(tf.add(area(at, al, ab, ar), area(bt, bl, bb, br)), inter), 1e-7)) as tf.Tensor1D;
  });
}

/** The box head's metric: mean IoU with the true box. */
export const iou = defineMetric('iou', (y, p) => boxIou(y, p));

const LOSS = { digit: 'sparseCategoricalCrossentropy', box: 'meanSquaredError' } as const;
/**
 * Metrics per head. The type arguments of `createTrainer` are spelled out below: inferred, a custom metric in one
 * head only does not compile (core infers the metric type from one head's list).
 */
const METRICS = { digit: ['accuracy'], box: ['mae', iou] } as const;

/** A shared convolutional body and two heads, `digit` and `box`. */
export function buildModel(seed: number): tf.LayersModel {
  return withSeed(seed, () => {
    const input = tf.input({ shape: [CANVAS, CANVAS, 1], name: 'canvas' });
    let h = tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    const shared = tf.layers.dense({ units: 64, activation: 'relu', name: 'shared' }).apply(h) as tf.SymbolicTensor;
    const digit = tf.layers.dense({ units: 10, activation: 'softmax', name: 'digit' }).apply(shared) as tf.SymbolicTensor;
    const box = tf.layers.dense({ units: 4, activation: 'sigmoid', name: 'box' }).apply(shared) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: [digit, box], name: 'digit_detector' });
  });
}

/** The test's run and the README's. */
export const RUNS = { quick: { epochs: 6 }, full: { epochs: 15 } } as const;

/** Options of {@link trainMultiTask}. */
export interface MultiTaskOptions {
  /** Where the run writes `metrics.csv` and `model/`. */
  readonly dir: string;
  readonly epochs: number;
  readonly seed?: number;
  /** Digits trained on; the rest of the 10 000 are the validation set. Default 8 500. */
  readonly trainSize?: number;
  /** Weight of the box loss (the digit loss has weight 1). Default 20: the box's squared errors are fractions of the canvas, small numbers. */
  readonly boxWeight?: number;
  readonly progress?: ProgressStream;
}

/** Trains the two-head model; call `selectBackend()` first. */
export async function trainMultiTask(options: MultiTaskOptions) {
  const seed = options.seed ?? 1;
  const trainSize = options.trainSize ?? 8500;
  const mnist = await loadMnist({ shuffle: seed });
  const placed = await placeDigits(mnist.x, mnist.y, seed);
  tf.dispose([mnist.x, mnist.y]);
  const n = placed.x.shape[0];
  const slice = (from: number, to: number) => ({
    x: placed.x.slice(from, to - from),
    y: { digit: placed.y.digit.slice(from, to - from), box: placed.y.box.slice(from, to - from) },
  });
  const train = slice(0, trainSize);
  const validation = slice(trainSize, n);
  tf.dispose([placed.x, placed.y.digit, placed.y.box]);

  const model = buildModel(seed);
  const trainer = createTrainer<'accuracy' | 'mae' | typeof iou, typeof LOSS, typeof METRICS>({
    model,
    optimizer: { name: 'adam', learningRate: 2e-3 },
    loss: LOSS,
    lossWeights: { digit: 1, box: options.boxWeight ?? 20 },
    metrics: METRICS,
    seed,
    log: null,
    backend: 'current',
  })
    .use(csvLogger({ path: join(options.dir, 'metrics.csv') }))
    .use(earlyStopping({ monitor: 'val_loss', patience: 3, restoreBestWeights: true }));
  if (options.progress) trainer.use(progressBar({ stream: options.progress }));
  let result: FitResult<'loss' | 'digit_loss' | 'box_loss' | 'digit_accuracy' | 'box_mae' | 'box_iou'>;
  try {
    result = await trainer.fit(train, { epochs: options.epochs, batchSize: 64, validation });
  } finally {
    trainer.dispose();
    tf.dispose([train.x, train.y.digit, train.y.box]);
  }
  await model.save(fileSystem(join(options.dir, 'model')));
  return { model, result, validation, dispose: () => (model.dispose(), tf.dispose([validation.x, validation.y.digit, validation.y.box])) };
}
