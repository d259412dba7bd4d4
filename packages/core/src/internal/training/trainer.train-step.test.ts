import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, fileSystem, getLearningRate, LearningRateBase, ofType, provide, resolveLoss, selectBackend, withSeed, type TrainStep } from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-step-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A small GAN on 2-D points: a generator from 4-D noise, a discriminator with a logit. */
function gan(seed = 1) {
  return withSeed(seed, () => {
    const generator = tf.sequential({ name: 'generator', layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
    const discriminator = tf.sequential({ name: 'discriminator', layers: [tf.layers.dense({ inputShape: [2], units: 8, activation: 'relu' }), tf.layers.dense({ units: 1 })] });
    return { generator, discriminator };
  });
}

const bce = resolveLoss({ name: 'binaryCrossentropy', fromLogits: true }).fn;

const ganStep: TrainStep<'d_loss' | 'g_loss'> = {
  name: 'gan',
  metrics: ['d_loss', 'g_loss'],
  run: (batch, ctx) => {
    const real = batch.x as tf.Tensor;
    const n = real.shape[0]!;
    const generator = ctx.models.model as tf.LayersModel;
    const discriminator = ctx.models.discriminator as tf.LayersModel;
    const noise = tf.randomNormal([n, 4]);
    const d_loss = ctx.minimize('discriminator', () => {
      const fake = generator.apply(noise, { training: true }) as tf.Tensor;
      const onReal = discriminator.apply(real, { training: true }) as tf.Tensor;
      const onFake = discriminator.apply(fake, { training: true }) as tf.Tensor;
      return tf.add(tf.mean(bce(tf.onesLike(onReal), onReal)), tf.mean(bce(tf.zerosLike(onFake), onFake))) as tf.Scalar;
    });
    const g_loss = ctx.minimize('generator', () => {
      const onFake = discriminator.apply(generator.apply(tf.randomNormal([n, 4]), { training: true }) as tf.Tensor, { training: true }) as tf.Tensor;
      return tf.mean(bce(tf.onesLike(onFake), onFake)) as tf.Scalar;
    });
    return { loss: tf.add(d_loss, g_loss), d_loss, g_loss };
  },
  evaluate: (batch, ctx) => {
    const real = batch.x as tf.Tensor;
    const onReal = (ctx.models.discriminator as tf.LayersModel).apply(real, { training: false }) as tf.Tensor;
    const d_loss = tf.mean(bce(tf.onesLike(onReal), onReal)) as tf.Scalar;
    return { loss: d_loss, d_loss, g_loss: tf.scalar(0) };
  },
};

/** 2-D points on a ring (the data the GAN learns); y is unused by the step. */
function ring(n: number) {
  const angles = Array.from({ length: n }, (_, i) => (2 * Math.PI * i) / n);
  return { x: tf.tensor2d(angles.map((a) => [Math.cos(a), Math.sin(a)])), y: tf.zeros([n]) };
}

function ganTrainer(seed = 1) {
  const { generator, discriminator } = gan(seed);
  const trainer = createTrainer({
    model: generator,
    models: { discriminator },
    optimizer: { generator: { name: 'adam', learningRate: 0.01 }, discriminator: { name: 'adam', learningRate: 0.005 } },
    trainStep: ganStep,
    seed: 9,
    backend: 'current',
    log: null,
  });
  return { trainer, generator, discriminator };
}

const fit = { epochs: 4, batchSize: 16, handleSignals: false } as const;

describe('custom train steps', () => {
  it('train two models with two optimizers, reporting the step values with typed names', async () => {
    const { trainer, generator, discriminator } = ganTrainer();
    const before = [weightsOf(generator), weightsOf(discriminator)];
    const dLosses: number[] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => dLosses.push(e.metrics.d_loss));
    const { history } = await trainer.fit(ring(64), { ...fit, validation: ring(16) });
    expect(Object.keys(history.logs).sort()).toEqual(['d_loss', 'g_loss', 'loss', 'val_d_loss', 'val_g_loss', 'val_loss']);
    expect(dLosses).toHaveLength(16);
    expect(history.logs.loss!.every((v, i) => Math.abs(v - history.logs.d_loss![i]! - history.logs.g_loss![i]!) < 1e-5)).toBe(true);
    expect(weightsOf(generator)).not.toEqual(before[0]);
    expect(weightsOf(discriminator)).not.toEqual(before[1]);
    trainer.dispose();
  });

  it('checkpoint every model and optimizer, and resume bit-identically mid-epoch', async () => {
    const full = ganTrainer();
    const expected = await full.trainer.fit(ring(64), fit);

    const first = ganTrainer();
    const path = join(dir, 'gan');
    first.trainer.use({ name: 'stop-mid-epoch', attach: (e$, control) => e$.pipe(ofType('step:end')).subscribe((e) => e.step === 6 && control.stop('test')) });
    first.trainer.use({ name: 'save', attach: (e$, control) => e$.pipe(ofType('fit:end')).subscribe(() => control.await(control.saveCheckpoint(path))) });
    await first.trainer.fit(ring(64), fit);
    expect((await readdir(join(path, 'models'))).sort()).toEqual(['discriminator']);
    expect((await readdir(join(path, 'optimizers'))).sort()).toEqual(['discriminator']);

    const resumed = ganTrainer(77); // other initial weights: the checkpoint's must win
    const result = await resumed.trainer.fit(ring(64), { ...fit, resumeFrom: path });
    expect(weightsOf(resumed.generator)).toEqual(weightsOf(full.generator));
    expect(weightsOf(resumed.discriminator)).toEqual(weightsOf(full.discriminator));
    expect(result.history).toEqual(expected.history);
    // Each model's files are stock tfjs layers format.
    const loaded = await tf.loadLayersModel(fileSystem(join(path, 'models', 'discriminator')));
    expect(loaded.name).toBe('discriminator');
    loaded.dispose();
    [full, first, resumed].forEach((t) => t.trainer.dispose());
  });

  it('a step written like the default one trains bit-identically to it', async () => {
    const data = classificationData(48, 3, 2);
    const lossFn = resolveLoss('categoricalCrossentropy').fn;
    const defaultModel = mlp(3, 6, 2, 4);
    const byDefault = createTrainer({ model: defaultModel, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
    await byDefault.fit(data, { epochs: 3, batchSize: 8, handleSignals: false });
    const customModel = mlp(3, 6, 2, 4);
    const custom = createTrainer({
      model: customModel,
      optimizer: 'adam',
      seed: 2,
      backend: 'current',
      log: null,
      trainStep: {
        name: 'plain',
        metrics: [],
        run: (batch, ctx) => ({ loss: ctx.minimize('default', () => tf.mean(lossFn(batch.y as tf.Tensor, (ctx.model as tf.LayersModel).apply(batch.x as tf.Tensor, { training: true }) as tf.Tensor)) as tf.Scalar) }),
      },
    });
    await custom.fit(data, { epochs: 3, batchSize: 8, handleSignals: false });
    expect(weightsOf(customModel)).toEqual(weightsOf(defaultModel));
    byDefault.dispose();
    custom.dispose();
  });

  it('give each optimizer its own learning-rate pipeline', async () => {
    const { trainer } = ganTrainer();
    trainer.use({ name: 'halve-d', register: (r) => provide(r, LearningRateBase, { name: 'halve-d', optimizer: 'discriminator', rate: (p) => p.initialLr / 2 ** p.step }) });
    await trainer.fit(ring(32), { ...fit, epochs: 1 });
    // 2 steps: the discriminator's rate was 0.005 then 0.0025; after the fit it is the next update's, 0.00125.
    const rates = Object.fromEntries(Object.entries(trainer.optimizers).map(([name, o]) => [name, getLearningRate(o)]));
    expect(rates).toEqual({ generator: 0.01, discriminator: 0.00125 });
    trainer.dispose();
  });

  it('refuse what a custom step cannot do, naming the fix', async () => {
    const { trainer } = ganTrainer();
    await expect(trainer.fit(ring(32), { ...fit, accumulateBatches: 2 })).rejects.toThrow(/options\.accumulateBatches: a custom trainStep \("gan"\) applies its own updates/);
    const noEvaluate = createTrainer({ model: gan().generator, models: { discriminator: gan(2).discriminator }, optimizer: { generator: 'adam', discriminator: 'adam' }, trainStep: { ...ganStep, evaluate: undefined } as unknown as TrainStep<'d_loss' | 'g_loss'>, backend: 'current', log: null });
    await expect(noEvaluate.fit(ring(32), { ...fit, validation: ring(8) })).rejects.toThrow(/options\.validation: trainStep "gan" has no evaluate/);
    const wrongName = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', backend: 'current', log: null, trainStep: { name: 'typo', metrics: [], run: (_b, ctx) => ({ loss: ctx.minimize('adam', () => tf.scalar(0)) }) } });
    await expect(wrongName.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/ctx\.minimize: no optimizer "adam"; the trainer has "default"/);
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: { a: 'sgd', b: 'adam' }, loss: 'categoricalCrossentropy', backend: 'current' })).toThrow(/optimizer: names 2 optimizers but the default step uses one/);
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', backend: 'current', trainStep: { name: 'x', metrics: ['loss'], run: () => ({ loss: tf.scalar(0) }) } })).toThrow(/trainStep\.metrics: must list the names run\(\) returns besides "loss"/);
    [trainer, noEvaluate, wrongName].forEach((t) => t.dispose());
  });
});
