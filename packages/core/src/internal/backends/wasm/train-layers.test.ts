import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onBackend, randomValues, relativeError, setUpWasmWithKernels, tf, WorstError } from './wasm-kernel-test-harness.js';

const TOLERANCE = 1e-4;
const worst = new WorstError();
const BATCH = 4;

interface LayerCase {
  readonly name: string;
  readonly inputShape: number[];
  /** Integer inputs in [0, vocabulary) instead of floats (for embedding). */
  readonly vocabulary?: number;
  readonly body: () => tf.layers.Layer[];
}

/** The layers of performance.md §3 that could not train on stock wasm, plus dense and lstm. */
const CASES: LayerCase[] = [
  { name: 'conv1d', inputShape: [10, 3], body: () => [tf.layers.conv1d({ filters: 4, kernelSize: 3, activation: 'relu' })] },
  {
    name: 'conv2d',
    inputShape: [8, 8, 2],
    body: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })],
  },
  {
    name: 'conv2d + maxPooling2d mid-network',
    inputShape: [8, 8, 1],
    body: () => [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
    ],
  },
  {
    name: 'conv2dTranspose',
    inputShape: [5, 5, 3],
    body: () => [tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' })],
  },
  {
    name: 'depthwiseConv2d (first layer)',
    inputShape: [8, 8, 3],
    body: () => [tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2 })],
  },
  {
    name: 'depthwiseConv2d (mid-network)',
    inputShape: [8, 8, 2],
    body: () => [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }),
    ],
  },
  {
    name: 'separableConv2d',
    inputShape: [8, 8, 3],
    body: () => [tf.layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2 })],
  },
  {
    name: 'embedding',
    inputShape: [6],
    vocabulary: 20,
    body: () => [tf.layers.embedding({ inputDim: 20, outputDim: 4 })],
  },
  { name: 'lstm', inputShape: [6, 4], body: () => [tf.layers.lstm({ units: 5 })] },
  { name: 'dense', inputShape: [10], body: () => [tf.layers.dense({ units: 8, activation: 'relu' })] },
];

interface Model {
  readonly model: tf.LayersModel;
  readonly x: tf.Tensor;
  readonly y: tf.Tensor;
}

function build(c: LayerCase, weights: tf.Tensor[] | undefined): Model {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: c.inputShape }));
  for (const layer of c.body()) model.add(layer);
  if ((model.outputs[0]?.shape.length ?? 0) > 2) model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 2 }));
  if (weights !== undefined) model.setWeights(weights);
  const size = BATCH * c.inputShape.reduce((a, b) => a * b, 1);
  const values = randomValues(size, 1);
  const x =
    c.vocabulary === undefined
      ? tf.tensor(values, [BATCH, ...c.inputShape])
      : tf.tensor(Int32Array.from(values, (u) => Math.floor(((u + 1) / 2) * (c.vocabulary ?? 1))), [BATCH, ...c.inputShape], 'int32');
  const y = tf.tensor(randomValues(BATCH * 2, 2), [BATCH, 2]);
  return { model, x, y };
}

function loss({ model, x, y }: Model): () => tf.Scalar {
  return () => tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor);
}

function disposeAll({ model, x, y }: Model): void {
  model.dispose();
  tf.dispose([x, y]);
}

describe('layers train on wasm with the kernels installed', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`layer gradients wasm vs cpu, worst relative error: ${worst.toString()}`);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: same gradients as cpu, and one Adam step changes every weight', async (name, c) => {
    // Build on cpu, then copy the initial weights into an identical model on wasm.
    const reference = await onBackend('cpu', () => {
      const m = build(c, undefined);
      const weights = m.model.getWeights().map((w) => ({ values: w.dataSync().slice(), shape: w.shape }));
      const { grads } = tf.variableGrads(loss(m));
      const gradients = m.model.trainableWeights.map((w) => grads[w.originalName]?.dataSync().slice());
      tf.dispose(grads);
      disposeAll(m);
      return { weights, gradients };
    });

    const m = build(
      c,
      reference.weights.map((w) => tf.tensor(w.values, w.shape)),
    );
    const variables = m.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(loss(m), variables);
    m.model.trainableWeights.forEach((w, i) => {
      const actual = grads[w.originalName]?.dataSync();
      const expected = reference.gradients[i];
      expect(actual, w.originalName).toBeDefined();
      expect(expected, w.originalName).toBeDefined();
      const error = relativeError(actual ?? [], expected ?? []);
      expect(worst.record(error, `${name} ${w.originalName}`), w.originalName).toBeLessThanOrEqual(TOLERANCE);
    });
    tf.dispose(grads);

    const before = variables.map((v) => v.dataSync().slice());
    const optimizer = tf.train.adam(0.01);
    optimizer.minimize(loss(m), true, variables)?.dispose();
    variables.forEach((v, i) => {
      const after = v.dataSync();
      expect(
        after.some((value, j) => value !== before[i]?.[j]),
        `${v.name} changed`,
      ).toBe(true);
    });
    optimizer.dispose();
    disposeAll(m);
  });
});
