import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, contributions, cpu, expectClose, fresh, linearModel, nanLossAt, reportsOf, stepContext, trainer, values } from '../../test-support/fixtures.js';
import { clipByGlobalNorm, clipByNormPerVariable, clipByValue, clipGradNorm, clipGradNormPerVariable, clipGradValue, globalNorm, skipNonFiniteGradients } from './clipping.js';

beforeAll(cpu);

const cosine = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);

describe('pure clipping (PyTorch / Keras semantics)', () => {
  it('global norm: returns the pre-clip norm, keeps the direction and bounds the norm', () => {
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) }; // total norm 13
    const { grads: out, norm, coefficient } = clipByGlobalNorm(grads, 1);
    expectClose(values(norm), [13]);
    expectClose(values(coefficient), [1 / (13 + 1e-6)]);
    const flat = [...values(out.a!), ...values(out.b!)];
    expect(Math.hypot(...flat)).toBeLessThanOrEqual(1 + 1e-6);
    expect(cosine(flat, [3, 4, 12])).toBeCloseTo(1, 6);
    // below the threshold: untouched
    const small = clipByGlobalNorm(grads, 100).grads;
    expect(values(small.a!)).toEqual([3, 4]);
  });

  it('p-norms: 1, 2, ∞', () => {
    const g = [tf.tensor1d([3, -4]), tf.tensor1d([1])];
    expectClose(values(globalNorm(g, 1)), [8]);
    expectClose(values(globalNorm(g, 2)), [Math.sqrt(26)]);
    expectClose(values(globalNorm(g, Number.POSITIVE_INFINITY)), [4]);
    expectClose(values(globalNorm(g, 3)), [Math.cbrt(27 + 64 + 1)], 1e-5);
  });

  it('per variable (Keras clipnorm) and by value', () => {
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor1d([0.3, 0.4]) };
    const perVar = clipByNormPerVariable(grads, 1);
    expectClose(values(perVar.a!), [0.6, 0.8]);
    expectClose(values(perVar.b!), [0.3, 0.4]);
    expectClose(values(clipByValue({ a: tf.tensor1d([-3, 0.2, 5]) }, 1).a!), [-1, 0.2, 1]);
  });
});

describe('clipping plugins', () => {
  const x = () => tf.tensor2d([[10, 20], [5, -10], [20, 0]]);
  const y = () => tf.tensor2d([[100], [0], [-50]]);

  async function step(plugin?: Parameters<ReturnType<typeof trainer>['use']>[0]) {
    const model = linearModel([[0.5], [-1.5]], [0.25], fresh('clip'));
    const before = [...values(model.w), ...values(model.b)];
    const t = trainer(model, { optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    if (plugin) t.use(plugin);
    const seen = collect(t.events$);
    await t.fit({ x: x(), y: y() }, { epochs: 1, batchSize: 3, handleSignals: false });
    const after = [...values(model.w), ...values(model.b)];
    return { delta: after.map((v, i) => (v - before[i]!) / -0.01), seen }; // = the applied gradient
  }

  it('clipGradNorm clips the applied update and reports the pre-clip norm', async () => {
    const raw = await step();
    const rawNorm = Math.hypot(...raw.delta);
    expect(rawNorm).toBeGreaterThan(10);
    const clipped = await step(clipGradNorm(1));
    expect(Math.hypot(...clipped.delta)).toBeLessThanOrEqual(1 + 1e-4);
    expect(cosine(clipped.delta, raw.delta)).toBeCloseTo(1, 5);
    const report = clipped.seen.reports.find((r) => r.kind === 'clip')!;
    expect(report).toMatchObject({ kind: 'clip', mode: 'global-norm', threshold: 1, name: 'clip-grad-norm' });
    expectClose([report.values.norm, report.values.maxNorm], [rawNorm, rawNorm], 1e-4);
    expectClose([report.values.ratio, report.values.clippedSteps], [1 / rawNorm, 1], 1e-4);
  });

  it('leaves gradients below the threshold untouched', async () => {
    const raw = await step();
    const big = await step(clipGradNorm(1e6));
    expect(big.delta).toEqual(raw.delta);
    expect(reportsOf(big.seen.reports, 'clip')[0]!.values.clippedSteps).toBe(0);
  });

  it('per-variable and value clipping bound each variable / element', async () => {
    const perVar = await step(clipGradNormPerVariable(0.5));
    expect(Math.hypot(perVar.delta[0]!, perVar.delta[1]!)).toBeLessThanOrEqual(0.5 + 1e-4);
    expect(Math.abs(perVar.delta[2]!)).toBeLessThanOrEqual(0.5 + 1e-4);
    const byValue = await step(clipGradValue(0.1));
    for (const d of byValue.delta) expect(Math.abs(d)).toBeLessThanOrEqual(0.1 + 1e-4); // float32 weights: Δw/lr is exact to ~1e-5
    expect(byValue.seen.reports[0]).toMatchObject({ mode: 'value', threshold: 0.1 });
    expect(reportsOf(byValue.seen.reports, 'clip')[0]!.values.ratio).toBeLessThan(1);
  });

  it("nonFinite: 'skip' skips the update with an event, 'throw' fails the fit, 'propagate' lets NaN through", async () => {
    const run = async (nonFinite: 'skip' | 'throw' | 'propagate') => {
      const model = linearModel([[0.5], [-1.5]], [0.25], fresh('nan'));
      const t = trainer(model, { optimizer: tf.train.sgd(0.001), loss: 'meanSquaredError' }).use(nanLossAt(new Set([1]))).use(clipGradNorm(1, { nonFinite }));
      const seen = collect(t.events$);
      const result = await t.fit({ x: x(), y: y() }, { epochs: 3, batchSize: 3, handleSignals: false }).then(() => 'ok', (e: Error) => e.message);
      return { result, seen, w: values(model.w) };
    };
    const skip = await run('skip');
    expect(skip.result).toBe('ok');
    expect(skip.w.every(Number.isFinite)).toBe(true);
    const skipped = skip.seen.events.filter((e) => e.type === 'regulariser:skipped');
    expect(skipped).toEqual([expect.objectContaining({ name: 'clip-grad-norm', step: 2, epoch: 1, reason: 'non-finite-gradients' })]);
    expect(skip.seen.events.filter((e) => e.type === 'step:end').map((e) => e.skipped)).toEqual([false, true, false]);
    expect((await run('throw')).result).toMatch(/clip-grad-norm: the gradients are not finite.*epoch 1, step 2/);
    expect((await run('propagate')).w.every(Number.isNaN)).toBe(true);
  });

  it('skipNonFiniteGradients guards without clipping', async () => {
    const model = linearModel([[0.5], [-1.5]], [0.25], fresh('guard'));
    const t = trainer(model, { optimizer: tf.train.sgd(0.001), loss: 'meanSquaredError' }).use(nanLossAt(new Set([0]))).use(skipNonFiniteGradients());
    const seen = collect(t.events$);
    await t.fit({ x: x(), y: y() }, { epochs: 2, batchSize: 3, handleSignals: false });
    expect(seen.events.filter((e) => e.type === 'regulariser:skipped')).toHaveLength(1);
    expect(values(model.w).every(Number.isFinite)).toBe(true);
    expect(() => skipNonFiniteGradients({ action: 'ignore' as 'skip' })).toThrow(/'skip' or 'throw'/);
  });

  it('runs after the all-reduce (stage post-reduce)', () => {
    for (const p of [clipGradNorm(1), clipGradNormPerVariable(1), clipGradValue(1)]) expect(contributions(p).gradient[0]!.stage).toBe('post-reduce');
    expect(contributions(clipGradNorm(1)).gradient[0]!.transform({ a: tf.tensor1d([3, 4]) }, { ...stepContext(), loss: tf.scalar(0), samples: 1, variables: [] })).not.toBeNull();
  });
});
