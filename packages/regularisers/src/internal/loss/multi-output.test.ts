// The loss-side plugins on a model with two outputs: each refuses the model without `output`, and with `output` acts on
// that output alone (its `<output>_loss` changes as a hand computation says; the other output's does not).
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, PluginConflictError, createTrainer, resolveLoss, withSeed, type LossOption, type Plugin, type SampleWeights, type Targets } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { contributions, cpu, expectClose, stepContext, values } from '../../test-support/fixtures.js';
import { initOutputBias } from '../init/output-bias.js';
import { classWeights, sampleWeightReduction } from './class-weights.js';
import { distillation, distillationLoss } from './distillation.js';
import { categoricalFocalCrossentropy } from './focal.js';
import { labelSmoothing } from './label-smoothing.js';

beforeAll(cpu);

const N = 8;
/** Outputs: `a` (2 classes) and `b` (3 classes), softmax heads on a shared hidden layer. */
function twoHeads(seed = 3): tf.LayersModel {
  return withSeed(seed, () => {
    const input = tf.input({ shape: [3] });
    const hidden = tf.layers.dense({ units: 6, activation: 'tanh' }).apply(input) as tf.SymbolicTensor;
    const a = tf.layers.dense({ units: 2, activation: 'softmax', name: 'a' }).apply(hidden) as tf.SymbolicTensor;
    const b = tf.layers.dense({ units: 3, activation: 'softmax', name: 'b' }).apply(hidden) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: [a, b] });
  });
}

const classesA = [0, 1, 1, 0, 1, 0, 0, 1];
const classesB = [2, 0, 1, 2, 2, 1, 0, 2];
function data() {
  const x = withSeed(11, () => tf.randomNormal([N, 3]));
  const ya = tf.oneHot(tf.tensor1d(classesA, 'int32'), 2).toFloat();
  const yb = tf.oneHot(tf.tensor1d(classesB, 'int32'), 3).toFloat();
  return { x, ya, yb };
}

const cce = (y: tf.Tensor, p: tf.Tensor) => values(resolveLoss('categoricalCrossentropy').fn(y, p));
const mean = (v: readonly number[]) => v.reduce((s, e) => s + e, 0) / v.length;

/** One epoch of one batch (every sample): the epoch's training losses are those of the untrained model. */
async function epochLosses(model: tf.LayersModel, plugins: readonly Plugin[], y: Targets, options: { loss?: LossOption; sampleWeight?: SampleWeights } = {}) {
  const { x } = data();
  const trainer = createTrainer({ model, optimizer: 'sgd', loss: options.loss ?? 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
  for (const p of plugins) trainer.use(p);
  const result = await trainer.fit({ x, y, ...(options.sampleWeight ? { sampleWeight: options.sampleWeight } : {}) }, { epochs: 1, batchSize: N, handleSignals: false });
  const logs = result.history.logs as Record<string, number[]>;
  return { loss: logs['loss']![0]!, a: logs['a_loss']![0]!, b: logs['b_loss']![0]! };
}

/** The untrained model's predictions, per output. */
function predictions(model: tf.LayersModel): { pa: tf.Tensor; pb: tf.Tensor } {
  const [pa, pb] = model.predict(data().x) as tf.Tensor[];
  return { pa: pa!, pb: pb! };
}

async function refusal(plugin: Plugin, y?: Targets): Promise<FitstreamInputError> {
  const { ya, yb } = data();
  const error = await epochLosses(twoHeads(), [plugin], y ?? { a: ya, b: yb }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FitstreamInputError);
  return error as FitstreamInputError;
}

describe('loss plugins on a model with two outputs', () => {
  it('refuse the model without `output`, naming the plugin, the option and the outputs', async () => {
    expect((await refusal(classWeights([3, 1]))).message).toBe("classWeights: the model has 2 outputs (a, b); pass output: 'a' to weight one of them.");
    expect((await refusal(labelSmoothing(0.1))).message).toBe("labelSmoothing: the model has 2 outputs (a, b); pass output: 'a' to smooth one of them.");
    const teacher = (x: tf.Tensor) => tf.softmax(tf.matMul(x, tf.ones([3, 2])));
    expect((await refusal(distillation({ teacher }))).message).toBe("distillation: the model has 2 outputs (a, b); pass output: 'a' to distil into one of them.");
    // an output the model does not have
    expect((await refusal(classWeights([3, 1], { output: 'c' }))).message).toBe('classWeights: output: names "c", which the model does not output; its outputs are "a", "b".');
    expect((await refusal(labelSmoothing(0.1, { output: 'c' }))).argument).toBe('labelSmoothing: output');
    expect(() => classWeights([3, 1], { output: '' })).toThrow(/classWeights: output: must be the name/);
  });

  it('classWeights with output weights that output only: b_loss = mean(w[class] · ℓ_b), a_loss unchanged', async () => {
    const { ya, yb } = data();
    const model = twoHeads();
    const { pa, pb } = predictions(model);
    const w = [1, 4, 0.5];
    const out = await epochLosses(model, [classWeights(w, { output: 'b' })], { a: ya, b: yb });
    const expectedA = mean(cce(ya, pa));
    const expectedB = mean(cce(yb, pb).map((l, i) => w[classesB[i]!]! * l));
    expectClose([out.a, out.b, out.loss], [expectedA, expectedB, expectedA + expectedB], 1e-5);
    // the targets as an array in output order: the same
    const list = await epochLosses(twoHeads(), [classWeights(w, { output: 'b' })], [ya, yb]);
    expectClose([list.a, list.b], [expectedA, expectedB], 1e-5);
  });

  it('classWeights on each output: two plugins, one per output, weight both; two on one output conflict', async () => {
    const { ya, yb } = data();
    const model = twoHeads();
    const { pa, pb } = predictions(model);
    const out = await epochLosses(model, [classWeights([2, 1], { output: 'a' }), classWeights([1, 1, 3], { output: 'b' })], { a: ya, b: yb });
    expectClose(
      [out.a, out.b],
      [mean(cce(ya, pa).map((l, i) => [2, 1][classesA[i]!]! * l)), mean(cce(yb, pb).map((l, i) => [1, 1, 3][classesB[i]!]! * l))],
      1e-5,
    );
    const conflict = epochLosses(twoHeads(), [classWeights([2, 1], { output: 'a' }), sampleWeightReduction('mean_with_weights')], { a: ya, b: yb });
    await expect(conflict).rejects.toBeInstanceOf(PluginConflictError);
  });

  it('sampleWeightReduction reduces every output with its own weights, or only `output`', async () => {
    const { ya, yb } = data();
    const wa = [1, 2, 0, 1, 3, 1, 1, 2];
    const wb = [0.5, 1, 1, 2, 0, 1, 4, 1];
    const sampleWeight = { a: tf.tensor1d(wa), b: tf.tensor1d(wb) };
    const model = twoHeads();
    const { pa, pb } = predictions(model);
    const la = cce(ya, pa);
    const lb = cce(yb, pb);
    const sum = (v: readonly number[]) => v.reduce((s, e) => s + e, 0);
    const meanWithWeights = (l: number[], w: number[]) => sum(l.map((v, i) => v * w[i]!)) / sum(w);
    const overBatch = (l: number[], w: number[]) => sum(l.map((v, i) => v * w[i]!)) / N;
    const every = await epochLosses(model, [sampleWeightReduction('mean_with_weights')], { a: ya, b: yb }, { sampleWeight });
    expectClose([every.a, every.b], [meanWithWeights(la, wa), meanWithWeights(lb, wb)], 1e-5);
    const one = await epochLosses(twoHeads(), [sampleWeightReduction('mean_with_weights', { output: 'a' })], { a: ya, b: yb }, { sampleWeight });
    expectClose([one.a, one.b], [meanWithWeights(la, wa), overBatch(lb, wb)], 1e-5);
  });

  it('labelSmoothing with output smooths that output’s targets only, in a map or an array', async () => {
    const { ya, yb } = data();
    const model = twoHeads();
    const { pa, pb } = predictions(model);
    const smoothed = tf.add(tf.mul(ya, 0.8), 0.2 / 2); // y(1 − ε) + ε/K, ε = 0.2, K = 2
    const expected = [mean(cce(smoothed, pa)), mean(cce(yb, pb))];
    const map = await epochLosses(model, [labelSmoothing(0.2, { output: 'a' })], { a: ya, b: yb });
    expectClose([map.a, map.b], expected, 1e-5);
    const list = await epochLosses(twoHeads(), [labelSmoothing(0.2, { output: 'a' })], [ya, yb]);
    expectClose([list.a, list.b], expected, 1e-5);
    // smoothing b instead (K = 3) leaves a alone
    const onB = await epochLosses(twoHeads(), [labelSmoothing(0.3, { output: 'b' })], [ya, yb]);
    expectClose([onB.a, onB.b], [mean(cce(ya, pa)), mean(cce(tf.add(tf.mul(yb, 0.7), 0.1), pb))], 1e-5);
  });

  it('labelSmoothing called directly keeps the structure of the targets and changes only the chosen tensor', () => {
    const { ya, yb } = data();
    const [t] = contributions(labelSmoothing(0.2, { output: 'b' })).batch;
    const out = t!.transform({ x: tf.zeros([N, 3]), y: { a: ya, b: yb } }, stepContext()).y as Record<string, tf.Tensor>;
    expect(Object.keys(out)).toEqual(['a', 'b']);
    expect(out['a']).toBe(ya);
    expectClose(values(out['b']!), values(tf.add(tf.mul(yb, 0.8), 0.2 / 3)), 1e-6);
    // without output, several targets are refused
    const [unscoped] = contributions(labelSmoothing(0.2)).batch;
    expect(() => unscoped!.transform({ x: tf.zeros([N, 3]), y: { a: ya, b: yb } }, stepContext())).toThrow(/labelSmoothing: the model has 2 outputs \(a, b\); pass output: 'a'/);
    // one target in an array: smoothed, still an array
    const single = unscoped!.transform({ x: tf.zeros([N, 3]), y: [ya] }, stepContext()).y as tf.Tensor[];
    expectClose(values(single[0]!), values(tf.add(tf.mul(ya, 0.8), 0.1)), 1e-6);
  });

  it('distillation with output distils into that output only: a_loss = α·ℓ + (1 − α)·T²·KL, b_loss unchanged', async () => {
    const { x, ya, yb } = data();
    const teacherKernel = tf.tensor2d([[1, -1], [0.5, 0.2], [-0.3, 0.8]]);
    const teacher = (input: tf.Tensor) => tf.softmax(tf.matMul(input, teacherKernel));
    const model = twoHeads();
    const { pa, pb } = predictions(model);
    const out = await epochLosses(model, [distillation({ teacher, output: 'a', temperature: 2, alpha: 0.3 })], { a: ya, b: yb });
    const t = values(teacher(x));
    const p = values(pa);
    const soft = Array.from({ length: N }, (_, i) => {
      // softmax(log p / T) over the two classes, for teacher and student
      const q = (v: number[], j: number) => Math.exp(Math.log(v[2 * i + j]!) / 2) / (Math.exp(Math.log(v[2 * i]!) / 2) + Math.exp(Math.log(v[2 * i + 1]!) / 2));
      return 4 * [0, 1].reduce((s, j) => s + q(t, j) * (Math.log(q(t, j)) - Math.log(q(p, j))), 0);
    });
    const expectedA = mean(cce(ya, pa).map((l, i) => 0.3 * l + 0.7 * soft[i]!));
    expectClose([out.a, out.b], [expectedA, mean(cce(yb, pb))], 1e-5);
    expectClose([expectedA], [mean(values(distillationLoss(ya, pa, teacher(x), { temperature: 2, alpha: 0.3 })))], 1e-5);
  });

  it('focal loss is one output’s loss in a loss map: only its <output>_loss is focal', async () => {
    const { ya, yb } = data();
    const model = twoHeads();
    const { pa, pb } = predictions(model);
    const focal = categoricalFocalCrossentropy({ gamma: 2 });
    const out = await epochLosses(model, [], { a: ya, b: yb }, { loss: { a: focal, b: 'categoricalCrossentropy' } });
    const pav = values(pa);
    const hand = classesA.map((c, i) => {
      const pc = pav[2 * i + c]!;
      return -((1 - pc) ** 2) * Math.log(pc);
    });
    expectClose([out.a, out.b], [mean(hand), mean(cce(yb, pb))], 1e-5);
  });

  it('initOutputBias needs output on a model with several outputs and sets that output’s bias only', () => {
    const model = twoHeads();
    const biasOf = (name: string) => values(model.getLayer(name).getWeights()[1]!);
    const before = biasOf('a');
    expect(() => initOutputBias(model, { counts: [1, 2, 1] })).toThrow("initOutputBias: the model has 2 outputs (a, b); pass output: 'a' to initialise one of them.");
    expectClose(initOutputBias(model, { counts: [1, 2, 1], output: 'b' }), [Math.log(0.25), Math.log(0.5), Math.log(0.25)]);
    expectClose(biasOf('b'), [Math.log(0.25), Math.log(0.5), Math.log(0.25)]);
    expect(biasOf('a')).toEqual(before);
  });
});
