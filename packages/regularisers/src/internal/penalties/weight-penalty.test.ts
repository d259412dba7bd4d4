import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, cpu, expectClose, fresh, linearModel, mlp, trainer, values } from '../../test-support/fixtures.js';
import { isReportRead } from '../report/report-values.js';
import { l1, l1l2, l2, penaltyValue, weightPenalty } from './weight-penalty.js';

beforeAll(cpu);

const x = () => tf.tensor2d([[1, 2], [0.5, -1], [2, 0]]);
const y = () => tf.tensor2d([[1], [0], [2]]);

/** One SGD step on a linear model with/without a plugin; returns the new weights. */
async function oneStep(plugin: ReturnType<typeof l2> | undefined, lr = 0.1) {
  const model = linearModel([[0.5], [-1.5]], [0.25], fresh('pen'));
  const t = trainer(model, { optimizer: tf.train.sgd(lr), loss: 'meanSquaredError' });
  if (plugin) t.use(plugin);
  const seen = collect(t.events$);
  const readAtPublish: boolean[] = [];
  t.events$.subscribe((e) => e.type === 'regulariser:report' && readAtPublish.push(isReportRead(e.values)));
  await t.fit({ x: x(), y: y() }, { epochs: 1, batchSize: 3, handleSignals: false });
  return { w: values(model.w), b: values(model.b), seen, readAtPublish };
}

describe('penaltyValue', () => {
  it('is l1·Σ|w| + l2·Σw² (no ½), hand-computed', () => {
    const w = [tf.tensor2d([[1, -2], [3, 0]]), tf.tensor1d([-0.5])];
    expectClose(values(penaltyValue(w, { l1: 0.1, l2: 0.01 })), [0.1 * 6.5 + 0.01 * (1 + 4 + 9 + 0.25)]);
    expectClose(values(penaltyValue(w, { l2: 0.01 })), [0.01 * 14.25]); // an omitted term is 0, unlike tfjs l1l2()
    expectClose(values(penaltyValue(w, {})), [0]);
  });
});

describe('weightPenalty in training', () => {
  it('adds 2·l2·w to the kernel gradient and leaves the bias alone (SGD, hand-computed)', async () => {
    const base = await oneStep(undefined);
    const pen = await oneStep(l2(0.05));
    // w' = w − lr·(∇L + 2·λ·w): the difference is −lr·2λ·w, with w the initial kernel
    expectClose(pen.w.map((v, i) => v - base.w[i]!), [-0.1 * 2 * 0.05 * 0.5, -0.1 * 2 * 0.05 * -1.5]);
    expectClose(pen.b, base.b); // biases are excluded by default
    const report = pen.seen.reports.find((r) => r.kind === 'penalty')!;
    expect(report).toMatchObject({ name: 'l2', kind: 'penalty', l1: 0, l2: 0.05, step: 1, steps: 1 });
    expect(pen.readAtPublish).toEqual([false]); // published without a device sync
    expect(isReportRead(report.values)).toBe(true); // the fit's last report is settled when the fit ends
    expectClose([report.values.penalty], [0.05 * (0.25 + 2.25)]);
    expectClose([report.values.meanPenalty], [0.05 * (0.25 + 2.25)]);
  });

  it('L1 adds l1·sign(w); biases only when asked', async () => {
    const base = await oneStep(undefined);
    const pen = await oneStep(l1l2({ l1: 0.2, biases: true }));
    expectClose(pen.w.map((v, i) => v - base.w[i]!), [-0.1 * 0.2, 0.1 * 0.2]);
    expectClose(pen.b.map((v, i) => v - base.b[i]!), [-0.1 * 0.2]);
    expect([l1(0.1).name, l2(0.1).name, l1l2({}).name]).toEqual(['l1', 'l2', 'l1l2']);
  });

  it('selects by layer name or pattern', async () => {
    const run = async (plugin?: ReturnType<typeof l2>) => {
      const model = mlp({ seed: 3 });
      const t = trainer(model);
      if (plugin) t.use(plugin);
      await t.fit({ x: tf.ones([4, 3]), y: tf.tensor2d([[1, 0], [0, 1], [1, 0], [0, 1]]) }, { epochs: 1, batchSize: 4, handleSignals: false });
      return model.getWeights().map((w) => values(w));
    };
    const [base, byLayer, byPattern] = [await run(), await run(l2(0.5, { layers: ['head'] })), await run(l2(0.5, { match: /^hidden\//, biases: true }))];
    // weights: hidden/kernel, hidden/bias, head/kernel, head/bias
    expect(byLayer[0]).toEqual(base[0]);
    expect(byLayer[1]).toEqual(base[1]);
    expect(byLayer[2]).not.toEqual(base[2]);
    expect(byLayer[3]).toEqual(base[3]);
    expect(byPattern[0]).not.toEqual(base[0]);
    expect(byPattern[2]).toEqual(base[2]);
  });

  it('fails clearly when the selection matches nothing', async () => {
    const model = linearModel([[1], [1]], [0], fresh('none'));
    const t = trainer(model, { loss: 'meanSquaredError' }).use(weightPenalty({ l2: 1, layers: ['missing'] }));
    await expect(t.fit({ x: x(), y: y() }, { epochs: 1, handleSignals: false })).rejects.toThrow(/no trainable weight matches/);
  });

  it('refuses negative or non-finite coefficients', () => {
    expect(() => l2(-1)).toThrow(/l2: must be a finite number ≥ 0/);
    expect(() => weightPenalty({ l1: Number.NaN })).toThrow(/l1/);
  });
});
