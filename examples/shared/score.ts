import type * as tf from '@tensorflow/tfjs';
import type { DigitClassifier } from './digit-classifier.js';

/** How the judge sees generated digits. */
export interface SampleScore {
  /** Mean probability of the predicted class: high when the digits are recognisable. */
  readonly meanConfidence: number;
  /** Share of images predicted as each digit 0–9. */
  readonly shares: readonly number[];
  /** Digits predicted for at least 2 % of the images: 10 when the generator draws every digit. */
  readonly distinctDigits: number;
  /** With `requested` (conditional generation): the share classified as the digit asked for. */
  readonly accuracy?: number;
}

/** Classifies `images` with the judge; `requested` gives the digit asked for each image. */
export async function scoreSamples(classifier: DigitClassifier, images: tf.Tensor4D, requested?: ArrayLike<number>): Promise<SampleScore> {
  const { classes, confidence } = await classifier.classify(images);
  const n = classes.length;
  const counts = new Array<number>(10).fill(0);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    counts[classes[i]!]! += 1;
    if (requested && requested[i] === classes[i]) correct += 1;
  }
  const shares = counts.map((c) => c / n);
  return {
    meanConfidence: confidence.reduce((a, b) => a + b, 0) / n,
    shares,
    distinctDigits: shares.filter((s) => s >= 0.02).length,
    ...(requested ? { accuracy: correct / n } : {}),
  };
}
