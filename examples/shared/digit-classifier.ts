import * as tf from '@tensorflow/tfjs';
import { createTrainer, withSeed } from '@fitstream/core';
import { loadMnist } from '@fitstream/datasets';

/** A small CNN trained on real MNIST digits: the judge of the generative examples' samples. */
export interface DigitClassifier {
  readonly model: tf.LayersModel;
  /** Accuracy on the held-out real digits (the images it did not train on). */
  readonly heldOutAccuracy: number;
  /** Predicted class and its probability for each image `[n, 28, 28, 1]` in [0, 1]. */
  classify(images: tf.Tensor4D): Promise<{ classes: Int32Array; confidence: Float32Array }>;
  dispose(): void;
}

/** Options of {@link trainDigitClassifier}. */
export interface DigitClassifierOptions {
  readonly seed?: number;
  readonly epochs?: number;
  /** How many of the 10 000 digits it trains on; the rest are held out (default 8 500). */
  readonly trainSize?: number;
}

function classifierModel(seed: number): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      name: 'digit_classifier',
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    }),
  );
}

/**
 * Trains the judge with fitstream's default step (seeded), and measures it on the held-out digits. Call
 * `selectBackend()` first.
 */
export async function trainDigitClassifier(options: DigitClassifierOptions = {}): Promise<DigitClassifier> {
  const seed = options.seed ?? 7;
  const trainSize = options.trainSize ?? 8500;
  const mnist = await loadMnist({ shuffle: seed });
  const n = mnist.x.shape[0];
  const [xTrain, xTest] = tf.split(mnist.x, [trainSize, n - trainSize]);
  const [yTrain, yTest] = tf.split(mnist.y, [trainSize, n - trainSize]);
  tf.dispose([mnist.x, mnist.y]);
  const model = classifierModel(seed);
  const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: 0.003 }, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed, log: null, backend: 'current' });
  const { history } = await trainer.fit({ x: xTrain!, y: yTrain! }, { epochs: options.epochs ?? 3, batchSize: 64, validation: { x: xTest!, y: yTest! }, validationEvery: options.epochs ?? 3, handleSignals: false });
  trainer.dispose();
  tf.dispose([xTrain!, yTrain!, xTest!, yTest!]);
  const heldOutAccuracy = history.logs.val_accuracy?.at(-1) ?? Number.NaN;

  return {
    model,
    heldOutAccuracy,
    async classify(images) {
      const probs = tf.tidy(() => model.predict(images, { batchSize: 256 }) as tf.Tensor2D);
      const classes = tf.argMax(probs, 1);
      const confidence = tf.max(probs, 1);
      const result = { classes: (await classes.data()) as Int32Array, confidence: (await confidence.data()) as Float32Array };
      tf.dispose([probs, classes, confidence]);
      return result;
    },
    dispose: () => model.dispose(),
  };
}
