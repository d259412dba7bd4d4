import * as tf from '@tensorflow/tfjs';
import { createTrainer, type MetricSpec } from '@fitstream/core';
import type { Io, RecipeDefinition, TensorPair } from '../recipes/recipe.js';

/** A confusion matrix: `matrix[true][predicted]` counts. */
export interface Confusion {
  readonly classNames: readonly string[];
  readonly matrix: readonly (readonly number[])[];
}

/** What `evaluation.json` and `fitstream evaluate` report. */
export interface Evaluation {
  readonly samples: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly confusion?: Confusion;
}

/** `matrix[t][p]`: how many samples of class t were predicted as p. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes: number): number[][] {
  const matrix = Array.from({ length: classes }, () => Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) matrix[labels[i]!]![predictions[i]!]! += 1;
  return matrix;
}

/** Loss and metrics of `model` on `data` (inference mode), and a confusion matrix for classifiers. */
export async function evaluateModel(recipe: RecipeDefinition, model: tf.LayersModel, data: TensorPair, _io: Io, classNames: readonly string[]): Promise<Evaluation> {
  const trainer = createTrainer({ model, optimizer: 'adam', loss: recipe.loss, metrics: [...recipe.metrics] as MetricSpec[], backend: 'current', log: null });
  try {
    const logs = await trainer.evaluate(data, { batchSize: 256 });
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(logs)) if (k !== 'samples') metrics[k] = v as number;
    if (recipe.task !== 'classification') return { samples: logs.samples, metrics };
    const predicted = tf.tidy(() => tf.argMax(model.predict(data.x, { batchSize: 256 }) as tf.Tensor, -1).dataSync());
    const labels = data.y.dataSync();
    const classes = classNames.length > 0 ? classNames : Array.from({ length: (model.outputs[0]!.shape[1] as number) ?? 0 }, (_, i) => String(i));
    return { samples: logs.samples, metrics, confusion: { classNames: [...classes], matrix: confusionMatrix(labels, predicted, classes.length) } };
  } finally {
    trainer.dispose();
  }
}
