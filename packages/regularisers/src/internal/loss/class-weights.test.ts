import * as tf from '@tensorflow/tfjs';
import { PluginConflictError } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { blobs, collect, contributions, cpu, expectClose, mlp, reportsOf, stepContext, trainer, values } from '../../test-support/fixtures.js';
import { balancedClassWeights, classCounts, classWeights, sampleWeightReduction } from './class-weights.js';
import { labelSmoothing } from './label-smoothing.js';

beforeAll(cpu);

const losses = () => tf.tensor1d([1, 2, 3, 4]);
const y = () => tf.tensor2d([[1, 0], [0, 1], [0, 1], [1, 0]]);

/** The batch loss a trainer would compute: mean of the transformed per-sample losses. */
function batchLoss(plugin: ReturnType<typeof classWeights>, options: { sampleWeight?: number[]; target?: tf.Tensor } = {}): number {
  const [t] = contributions(plugin).loss;
  const sw = options.sampleWeight ? tf.tensor1d(options.sampleWeight) : undefined;
  const weighted = sw ? (tf.mul(losses(), sw) as tf.Tensor1D) : losses(); // core multiplies sampleWeight first
  const target = options.target ?? y();
  const batchData = { x: tf.zeros([4, 1]), y: target, ...(sw ? { sampleWeight: sw } : {}) };
  const ctx = { ...stepContext(), batchData, output: undefined, outputs: ['output'], yTrue: target, yPred: tf.zeros([4, 2]), sampleWeight: sw, variables: [] };
  return values(tf.mean(t!.perSample!(weighted, ctx)))[0]!;
}

describe('class weights', () => {
  it("'balanced' = n / (k · count) (scikit-learn)", () => {
    expectClose(balancedClassWeights([0, 0, 0, 1]), [4 / 6, 2]);
    expectClose(balancedClassWeights(tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0]])), [2, 4 / 6, 1]); // absent class → 1
    expect(classCounts(tf.tensor2d([[0], [1], [1]]))).toEqual([1, 2]);
  });

  it('weights of 1 equal the unweighted loss; a class weight scales its samples', () => {
    expectClose([batchLoss(classWeights({ 0: 1, 1: 1 }))], [2.5]);
    // class of each sample: 0, 1, 1, 0 → weights 3, 1, 1, 3
    expectClose([batchLoss(classWeights([3, 1]))], [(3 * 1 + 2 + 3 + 3 * 4) / 4]);
    expectClose([batchLoss(classWeights({ 0: 3 }))], [(3 * 1 + 2 + 3 + 3 * 4) / 4]); // missing class → 1
  });

  it('doubling every weight doubles the loss under sum_over_batch_size and leaves it under mean_with_weights', () => {
    const sum1 = batchLoss(classWeights([3, 1]));
    const sum2 = batchLoss(classWeights([6, 2]));
    expectClose([sum2], [2 * sum1]);
    const mean1 = batchLoss(classWeights([3, 1], { reduction: 'mean_with_weights' }));
    const mean2 = batchLoss(classWeights([6, 2], { reduction: 'mean_with_weights' }));
    expectClose([mean1, mean2], [(3 * 1 + 2 + 3 + 3 * 4) / 8, (3 * 1 + 2 + 3 + 3 * 4) / 8]);
  });

  it('multiplies with the data sampleWeight; mean_with_weights divides by Σ(class · sample weight)', () => {
    const sw = [1, 0.5, 2, 0];
    expectClose([batchLoss(classWeights([3, 1]), { sampleWeight: sw })], [(3 * 1 + 0.5 * 2 + 2 * 3 + 0) / 4]);
    expectClose([batchLoss(classWeights([3, 1], { reduction: 'mean_with_weights' }), { sampleWeight: sw })], [(3 + 1 + 6) / (3 + 0.5 + 2 + 0)]);
    expectClose([batchLoss(sampleWeightReduction('mean_with_weights'), { sampleWeight: sw })], [(1 + 1 + 6) / 3.5]);
    expectClose([batchLoss(sampleWeightReduction('mean_with_weights'), { sampleWeight: [0, 0, 0, 0] })], [0]); // Σw = 0 → 0, not NaN
  });

  it('reads binary and sparse targets by rounding', () => {
    expectClose([batchLoss(classWeights([1, 10]), { target: tf.tensor2d([[0], [1], [1], [0]]) })], [(1 + 20 + 30 + 4) / 4]);
    expectClose([batchLoss(classWeights([1, 10, 100]), { target: tf.tensor1d([2, 1, 0, 0]) })], [(100 + 20 + 3 + 4) / 4]);
  });

  it('refuses bad input and a second loss-weighting plugin, naming both', async () => {
    expect(() => classWeights('balanced')).toThrow(/needs the training labels/);
    expect(() => classWeights({ 0: -1 })).toThrow(/classWeights\[0\]: must be a finite number ≥ 0/);
    expect(() => classWeights([1], { reduction: 'mean' as 'mean_with_weights' })).toThrow(/reduction/);
    const t = trainer(mlp()).use(classWeights([1, 2])).use(sampleWeightReduction('mean_with_weights'));
    const { x, y: yy } = blobs(8);
    const error = await t.fit({ x, y: yy }, { epochs: 1, handleSignals: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginConflictError);
    expect(String(error)).toMatch(/class-weights.*sample-weight-reduction|sample-weight-reduction.*class-weights/);
  });

  it('in training: class weights of 1 give the unweighted run; reports the mean weight', async () => {
    const run = async (plugin?: ReturnType<typeof classWeights>) => {
      const model = mlp({ seed: 8 });
      const t = trainer(model);
      if (plugin) t.use(plugin);
      const seen = collect(t.events$);
      const { x, y: yy } = blobs(32);
      const { history } = await t.fit({ x, y: yy }, { epochs: 2, batchSize: 8, handleSignals: false });
      return { weights: model.getWeights().map((w) => values(w)), loss: history.logs.loss!, reports: seen.reports };
    };
    const base = await run();
    const ones = await run(classWeights({ 0: 1, 1: 1 }));
    expect(ones.weights).toEqual(base.weights);
    expect(ones.loss).toEqual(base.loss);
    const heavy = await run(classWeights({ 0: 1, 1: 5 }));
    expect(heavy.loss[0]).toBeGreaterThan(base.loss[0]!);
    expect(heavy.reports.at(-1)).toMatchObject({ kind: 'loss-weighting', reduction: 'sum_over_batch_size' });
    expect(reportsOf(heavy.reports, 'loss-weighting').at(-1)!.values.meanWeight).toBeGreaterThan(1);
  });
});

describe('labelSmoothing plugin', () => {
  it('smooths one-hot training targets, refuses binary ones', () => {
    const [t] = contributions(labelSmoothing(0.2)).batch;
    const batch = { x: tf.zeros([2, 1]), y: tf.tensor2d([[1, 0], [0, 1]]) };
    expectClose(values(t!.transform(batch, stepContext()).y as tf.Tensor), [0.9, 0.1, 0.1, 0.9]);
    expect(t!.transform(batch, stepContext({ training: false })).y).toBe(batch.y);
    expect(() => t!.transform({ x: tf.zeros([2, 1]), y: tf.tensor2d([[1], [0]]) }, stepContext())).toThrow(/binaryCrossentropy\(\{ labelSmoothing \}\)/);
  });

  it('trains with the built-in categorical loss; training accuracy stays exact', async () => {
    const model = mlp({ seed: 9 });
    const t = trainer(model, { optimizer: 'adam' }).use(labelSmoothing(0.1));
    const { x, y: yy } = blobs(64);
    const { history } = await t.fit({ x, y: yy }, { epochs: 8, batchSize: 16, handleSignals: false });
    expect(history.logs.loss!.at(-1)).toBeLessThan(history.logs.loss![0]!);
  });
});
