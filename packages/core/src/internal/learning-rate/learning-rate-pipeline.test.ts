import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, LearningRateBase, LearningRateModifier, ofType, provide, selectBackend, setLearningRate, type Plugin } from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';
import { LearningRatePipeline, orderModifiers } from './learning-rate-pipeline.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-lr-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const base = (name: string, rate: (p: { step: number; epoch: number; initialLr: number }) => number): Plugin => ({ name, register: (c) => provide(c, LearningRateBase, { name, rate }) });
const modifier = (name: string, stage: 'warmup' | 'scale' | 'adapt' | 'override', factor: (i: { step: number; rate: number }) => number): Plugin => ({
  name,
  register: (c) => provide(c, LearningRateModifier, { name, stage, factor }),
});
const trainer = (lr = 0.1) => createTrainer({ model: mlp(3, 4, 2, 5), optimizer: { name: 'sgd', learningRate: lr }, loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
const fit = { epochs: 2, batchSize: 8, handleSignals: false, shuffle: false } as const;

describe('LearningRatePipeline', () => {
  it('orders modifiers by stage, stably within a stage', () => {
    const m = (name: string, stage?: 'warmup' | 'scale' | 'adapt' | 'override') => ({ name, ...(stage ? { stage } : {}), factor: () => 1 });
    expect(orderModifiers([m('a', 'override'), m('b'), m('c', 'warmup'), m('d', 'adapt'), m('e', 'scale')]).map((x) => x.name)).toEqual(['c', 'b', 'e', 'd', 'a']);
  });

  it('computes base × factors once per update, each modifier seeing the rate so far, and writes only changes', () => {
    const optimizer = tf.train.sgd(0.2);
    const pipeline = new LearningRatePipeline(optimizer);
    const seen: number[] = [];
    pipeline.begin({ name: 'halving', rate: (p) => p.initialLr / 2 ** p.step }, [
      { name: 'floor', stage: 'adapt', factor: (i) => { seen.push(i.rate); return Math.max(1, 0.05 / i.rate); } },
      { name: 'warm', stage: 'warmup', factor: (i) => Math.min(1, (i.step + 1) / 2) },
    ]);
    const rates = [0, 1, 2, 3].map((step) => pipeline.update({ step, epoch: 0, stepsPerEpoch: 4 }));
    // step 0: 0.2·0.5 = 0.1; step 1: 0.1·1 = 0.1; step 2: 0.05; step 3: 0.025 → floored to 0.05.
    expect(rates.map((r) => r.rate)).toEqual([0.1, 0.1, 0.05, 0.05]);
    expect(seen).toEqual([0.1, 0.1, 0.05, 0.025]);
    expect(rates[3]!.factors).toEqual({ warm: 1, floor: 2 });
    expect(Object.keys(rates[3]!.factors)).toEqual(['warm', 'floor']);
    // An unchanged set of factors is the same object (no allocation per step for observers).
    expect(rates[1]!.factors).not.toBe(rates[0]!.factors);
    expect(pipeline.record()).toEqual({ initialLr: 0.2, base: 0.025, factors: { warm: 1, floor: 2 } });
    optimizer.dispose();
  });

  it('refuses a rate that is not a finite number ≥ 0, naming the plugin', () => {
    const optimizer = tf.train.sgd(0.2);
    const pipeline = new LearningRatePipeline(optimizer);
    pipeline.begin(undefined, [{ name: 'broken', factor: () => Number.NaN }]);
    expect(() => pipeline.update({ step: 0, epoch: 0, stepsPerEpoch: undefined })).toThrow(/modifier "broken" returned NaN/);
    optimizer.dispose();
  });
});

describe('the trainer drives the learning rate', () => {
  it('applies the rate of each update, reports it and each factor in step/epoch events and the history', async () => {
    const t = trainer().use(base('step-halving', (p) => p.initialLr * 0.5 ** p.step)).use(modifier('double', 'scale', () => 2));
    const steps: { step: number; lr: number; factors: Readonly<Record<string, number>> }[] = [];
    t.events$.pipe(ofType('step:end')).subscribe((e) => steps.push({ step: e.step, lr: e.learningRate, factors: e.learningRateFactors }));
    const epochs: number[] = [];
    t.events$.pipe(ofType('epoch:end')).subscribe((e) => epochs.push(e.learningRate));
    const { history } = await t.fit(classificationData(16, 3, 2), fit);
    // step:end carries the rate the update used (events report the step count after it): 0.1·2, 0.05·2, …
    expect(steps.map((s) => s.lr)).toEqual([0.2, 0.1, 0.05, 0.025]);
    expect(steps.every((s) => s.factors.double === 2)).toBe(true);
    expect(epochs).toEqual([0.1, 0.025]);
    expect(history.learningRate).toEqual([0.1, 0.025]);
    expect(history.learningRateFactors).toEqual({ double: [2, 2] });
    t.dispose();
  });

  it('keeps the run base rate between fits, and adopts a rate the user sets between fits', async () => {
    const t = trainer(0.1).use(base('epoch-decay', (p) => p.initialLr / (1 + p.epoch)));
    const data = classificationData(16, 3, 2);
    // After a fit the rate in force is the next update's: epoch 1's after one epoch.
    await t.fit(data, { ...fit, epochs: 1 });
    expect(t.learningRate).toBe(0.05);
    await t.fit(data, { ...fit, epochs: 3, initialEpoch: 1 });
    expect(t.learningRate).toBeCloseTo(0.1 / 4, 12);
    setLearningRate(t.optimizer, 0.3);
    await t.fit(data, { ...fit, epochs: 1 });
    expect(t.learningRate).toBe(0.3 / 2);
    t.dispose();
  });

  it('saves the pipeline in the checkpoint and resumes the same rates and weights', async () => {
    const schedule = () => base('cosine', (p) => (p.initialLr * (1 + Math.cos((Math.PI * Math.min(p.step, 8)) / 8))) / 2);
    const data = classificationData(16, 3, 2);
    const full = trainer().use(schedule());
    const fullRates: number[] = [];
    full.events$.pipe(ofType('step:end')).subscribe((e) => fullRates.push(e.learningRate));
    await full.fit(data, { ...fit, epochs: 4 });

    const model = mlp(3, 4, 2, 5);
    const first = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.1 }, loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null }).use(schedule());
    await first.fit(data, { ...fit, epochs: 2 });
    const path = join(dir, 'ckpt');
    await first.saveCheckpoint(path);
    first.dispose();
    const resumedModel = mlp(3, 4, 2, 99);
    // The resumed trainer's optimizer starts at another rate: the checkpoint's base rate wins.
    const resumed = createTrainer({ model: resumedModel, optimizer: { name: 'sgd', learningRate: 0.7 }, loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null }).use(schedule());
    const resumedRates: number[] = [];
    resumed.events$.pipe(ofType('step:end')).subscribe((e) => resumedRates.push(e.learningRate));
    const result = await resumed.fit(data, { ...fit, epochs: 4, resumeFrom: path });
    expect(resumedRates).toEqual(fullRates.slice(4));
    expect(weightsOf(resumedModel)).toEqual(weightsOf(full.options.model as tf.LayersModel));
    expect(result.history.learningRate).toEqual([fullRates[1], fullRates[3], fullRates[5], fullRates[7]]);
    full.dispose();
    resumed.dispose();
  });
});
