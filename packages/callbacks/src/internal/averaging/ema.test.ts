import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, fileSystem, GradientTransform, ofType, provide, readCheckpoint, selectBackend, type Plugin, type TrainerEvent } from '@fitstream/core';
import { ema, type EmaOptions } from '../../index.js';
import { averagedList, blobs, mlp, trainerFor, weightsOf } from '../../test-support/fixtures.js';
import { emaDecay } from './ema.js';

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-ema-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});


/** `model` with the given weights (in its weight order). */
function modelWith(model: tf.LayersModel, weights: number[][]): tf.LayersModel {
  model.setWeights(model.weights.map((w, i) => tf.tensor(weights[i]!, w.shape as number[])));
  return model;
}

/** Each weight tensor within `rel` of the expected one, relative to the tensor's largest magnitude. */
function expectClose(got: number[][], expected: number[][], rel: number): void {
  expected.forEach((e, i) => {
    const scale = Math.max(...e.map(Math.abs));
    const err = Math.max(...e.map((v, j) => Math.abs(v - got[i]![j]!)));
    if (!(err <= rel * scale)) throw new Error(`weight ${i}: max error ${err} exceeds ${rel} × ${scale}`);
  });
}

/** The EMA in float64 over recorded weights: `avg ← d·avg + (1 − d)·w` at each recorded update. */
function handEma(initial: number[][], updates: readonly number[][][], decayAt: (t: number) => number): number[][] {
  let avg = initial.map((w) => [...w]);
  updates.forEach((w, t) => {
    const d = decayAt(t);
    avg = avg.map((a, i) => a.map((v, j) => d * v + (1 - d) * w[i]![j]!));
  });
  return avg;
}

/** Skips the optimizer update of the given (0-based) steps, as a non-finite-gradient guard would. */
function skipSteps(steps: ReadonlySet<number>): Plugin {
  const transform: GradientTransform = { name: 'skip', transform: (g, ctx) => (steps.has(ctx.step) ? null : g) };
  return { name: 'skip-steps', register: (c) => provide(c, GradientTransform, transform) };
}

describe('ema: the average', () => {
  const data = blobs(64);
  const run = async (options: EmaOptions, extra: Plugin[] = []) => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = ema({ evaluation: false, finalize: false, ...options });
    for (const p of extra) trainer.use(p);
    trainer.use(averaged);
    const initial = weightsOf(model);
    const steps: { step: number; skipped: boolean; weights: number[][] }[] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => steps.push({ step: e.step, skipped: e.skipped, weights: weightsOf(model) }));
    await trainer.fit(data, { epochs: 2, batchSize: 8, handleSignals: false });
    const got = averagedList(model, averaged.averagedWeights());
    return { model, averaged, initial, steps, got };
  };

  it('equals the hand-computed EMA of the weights after every step, from the weights at fit start', async () => {
    const { initial, steps, got, averaged } = await run({ decay: 0.9 });
    expect(steps).toHaveLength(16);
    expect(averaged.updates).toBe(16);
    expectClose(got, handEma(initial, steps.map((s) => s.weights), () => 0.9), 1e-5);
    // …and is far from the live weights: the test would notice a copy of them.
    expect(() => expectClose(got, steps.at(-1)!.weights, 1e-3)).toThrow();
  });

  it('with warmup, the decay follows min(decay, (1 + t)/(10 + t)) (TF ExponentialMovingAverage num_updates)', async () => {
    expect([0, 1, 2, 10, 10_000].map((t) => emaDecay(t, 0.999, true))).toEqual([0.1, 2 / 11, 3 / 12, 11 / 20, 0.999]);
    expect(emaDecay(3, 0.95, false)).toBe(0.95);
    const { initial, steps, got } = await run({ decay: 0.999, warmup: true });
    expectClose(got, handEma(initial, steps.map((s) => s.weights), (t) => Math.min(0.999, (1 + t) / (10 + t))), 1e-5);
  });

  it('every k updates at global steps k, 2k, …, and a skipped optimizer step is not averaged', async () => {
    const { initial, steps, got, averaged } = await run({ decay: 0.7, every: 3 }, [skipSteps(new Set([5]))]);
    expect(steps.find((s) => s.step === 6)?.skipped).toBe(true);
    const used = steps.filter((s) => s.step % 3 === 0 && !s.skipped);
    expect(used.map((s) => s.step)).toEqual([3, 9, 12, 15]);
    expect(averaged.updates).toBe(4);
    expectClose(got, handEma(initial, used.map((s) => s.weights), () => 0.7), 1e-5);
  });

  it("include 'trainable' leaves batch-norm statistics to the model; 'all' averages them too", async () => {
    const bnModel = () => {
      const m = tf.sequential();
      m.add(tf.layers.dense({ inputShape: [3], units: 6, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
      m.add(tf.layers.batchNormalization());
      m.add(tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
      return m;
    };
    for (const include of ['trainable', 'all'] as const) {
      const { model, trainer } = trainerFor(bnModel());
      const averaged = ema({ decay: 0.8, include, evaluation: false, finalize: false });
      await trainer.use(averaged).fit(data, { epochs: 1, batchSize: 16, handleSignals: false });
      const got = averaged.averagedWeights();
      const stats = model.weights.filter((w) => /moving_/.test(w.originalName));
      const live = stats.map((w) => Array.from(w.read().dataSync()));
      const averagedStats = stats.map((w) => Array.from(got.get(w.originalName)!.dataSync()));
      if (include === 'trainable') expect(averagedStats).toEqual(live);
      else expect(averagedStats).not.toEqual(live);
      tf.dispose([...got.values()]);
    }
  });
});

describe('ema: changing trainability and function models', () => {
  const data = blobs(32);

  it("with include 'trainable', a layer unfrozen mid-fit joins the average at its first update", async () => {
    const model = mlp();
    model.layers[0]!.trainable = false;
    const { trainer } = trainerFor(model);
    const averaged = ema({ decay: 0.8, evaluation: false, finalize: false });
    const kernel: number[][] = [];
    let frozenAverage: number[] | undefined;
    // model.weights lists frozen weights last, so read the kernel by name.
    const kernelName = model.layers[0]!.weights[0]!.originalName;
    const averagedKernel = () => {
      const all = averaged.averagedWeights();
      const out = Array.from(all.get(kernelName)!.dataSync());
      tf.dispose([...all.values()]);
      return out;
    };
    trainer.events$.subscribe((e) => {
      if (e.type === 'step:end' && e.epoch === 1) kernel.push(Array.from(model.layers[0]!.getWeights()[0]!.dataSync()));
      if (e.type === 'epoch:end' && e.epoch === 0) {
        frozenAverage = averagedKernel();
        model.layers[0]!.trainable = true; // unfrozen from the next step on
      }
    });
    const initialKernel = Array.from(model.layers[0]!.getWeights()[0]!.dataSync());
    await trainer.use(averaged).fit(data, { epochs: 2, batchSize: 8, handleSignals: false });
    // While frozen it was not averaged: the average shows the model's (constant) kernel.
    expect(frozenAverage).toEqual(initialKernel);
    const [first, ...rest] = kernel;
    expectClose([averagedKernel()], handEma([first!], rest.map((k) => [k]), () => 0.8), 1e-5);
  });

  it('averages a FunctionModel’s variables and leaves its nonTrainableVariables to the model', async () => {
    const w = tf.variable(tf.randomNormal([3, 2], 0, 0.5, 'float32', 1), true, 'ema-test/w');
    const b = tf.variable(tf.zeros([2]), true, 'ema-test/b');
    const stat = tf.variable(tf.zeros([2]), false, 'ema-test/stat');
    const model = {
      variables: [w, b],
      nonTrainableVariables: [stat],
      apply: (x: tf.Tensor | readonly tf.Tensor[], { training }: { training: boolean }) => {
        const logits = tf.add(tf.matMul(x as tf.Tensor2D, w), b);
        if (training) stat.assign(tf.add(tf.mul(stat, 0.5), tf.mul(tf.mean(logits, 0), 0.5)));
        return tf.softmax(logits);
      },
    };
    const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.1 }, loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const averaged = ema({ decay: 0.5, evaluation: false, finalize: false });
    const read = () => [w, b].map((v) => Array.from(v.dataSync()));
    const initial = read();
    const steps: number[][][] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe(() => steps.push(read()));
    await trainer.use(averaged).fit(data, { epochs: 1, batchSize: 8, handleSignals: false });
    const got = averaged.averagedWeights();
    expectClose([w, b].map((v) => Array.from(got.get(v.name)!.dataSync())), handEma(initial, steps, () => 0.5), 1e-5);
    expect(Array.from(got.get('ema-test/stat')!.dataSync())).toEqual(Array.from(stat.dataSync()));
    tf.dispose([...got.values(), w, b, stat]);
  });
});

describe('ema: evaluation, finalize', () => {
  const data = blobs(64, 3, 2, 5);
  const validation = blobs(32, 3, 2, 6);

  it('validation and trainer.evaluate use the averaged weights, and the trained weights come back bit for bit', async () => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = ema({ decay: 0.8, finalize: false });
    const { history } = await trainer.use(averaged).fit(data, { epochs: 3, batchSize: 8, validation, validationBatchSize: 16, handleSignals: false });
    const trained = weightsOf(model);
    const evaluated = await trainer.evaluate(validation, { batchSize: 16 });
    expect(weightsOf(model)).toEqual(trained);

    // The same loss from a second model holding the averaged weights, on a trainer without EMA.
    const reference = modelWith(mlp(), averagedList(model, averaged.averagedWeights()));
    const expected = await trainerFor(reference).trainer.evaluate(validation, { batchSize: 16 });
    const liveLoss = (await trainerFor(modelWith(mlp(), trained)).trainer.evaluate(validation, { batchSize: 16 })).loss;
    expect(evaluated.loss).toBe(expected.loss);
    expect(evaluated.accuracy).toBe(expected.accuracy);
    expect(history.logs.val_loss!.at(-1)).toBe(expected.loss);
    expect(Math.abs(liveLoss - expected.loss)).toBeGreaterThan(1e-4);
  });

  it('finalize writes the averaged weights into the model when the fit ends (and publishes ema:finalized)', async () => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = ema({ decay: 0.8 });
    let atEnd: { averaged: number[][]; trained: number[][] } | undefined;
    const events: TrainerEvent[] = [];
    // Subscribed before the fit, so this runs before the plugin's own fit:end handler.
    trainer.events$.subscribe((e) => {
      if (e.type === 'ema:finalized') events.push(e);
      if (e.type === 'fit:end') atEnd = { averaged: averagedList(model, averaged.averagedWeights()), trained: weightsOf(model) };
    });
    await trainer.use(averaged).fit(data, { epochs: 2, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).toEqual(atEnd!.averaged);
    expect(weightsOf(model)).not.toEqual(atEnd!.trained);
    expect(events).toMatchObject([{ type: 'ema:finalized', updates: 8, step: 8, reason: 'completed' }]);
    // After finalizing, the model is the average: averagedWeights() copies it.
    expect(averagedList(model, averaged.averagedWeights())).toEqual(weightsOf(model));
  });

  it('finalize survives a checkpoint that holds the averaged view while the fit ends', async () => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = ema({ decay: 0.8, checkpoints: true });
    let expected: number[][] | undefined;
    // Used before ema: its fit:end checkpoint applies the view before ema finalizes, and restores it after.
    trainer.use({
      name: 'save-at-end',
      attach: (e$, control) =>
        e$.pipe(ofType('fit:end')).subscribe(() => {
          expected = averagedList(model, averaged.averagedWeights());
          void control.saveCheckpoint(join(tmp, 'at-end'), 'end');
        }),
    });
    await trainer.use(averaged).fit(data, { epochs: 1, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).toEqual(expected);
  });

  it('finalize: false leaves the trained weights in the model', async () => {
    const { model, trainer } = trainerFor(mlp());
    let trained: number[][] | undefined;
    trainer.events$.pipe(ofType('fit:end')).subscribe(() => (trained = weightsOf(model)));
    await trainer.use(ema({ decay: 0.8, finalize: false })).fit(data, { epochs: 1, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).toEqual(trained);
  });
});

describe('ema: checkpoints and resume', () => {
  const data = blobs(60, 3, 2, 9);
  const validation = blobs(20, 3, 2, 10);
  const options = { epochs: 3, batchSize: 8, validation, handleSignals: false } as const;

  describe.each([true, false])('checkpoints: %s', (checkpoints) => {
    it('a fit resumed from a mid-epoch checkpoint ends with weights, average and history equal to an uninterrupted fit', async () => {
      const settings: EmaOptions = { decay: 0.9, checkpoints, finalize: false };
      const whole = trainerFor(mlp(), 'adam');
      const wholeEma = ema(settings);
      const wholeResult = await whole.trainer.use(wholeEma).fit(data, options);

      const first = trainerFor(mlp(), 'adam');
      const firstEma = ema(settings);
      const checkpoint = join(tmp, `resume-${String(checkpoints)}`);
      let savedAverage: number[][] | undefined;
      let savedTrained: number[][] | undefined;
      // Used before ema: it sees step:end first, so the checkpoint is written before ema's own step:end handler ran.
      first.trainer.use({
        name: 'crash-at-step-11',
        attach: (e$, control) =>
          e$.pipe(ofType('step:end')).subscribe((e) => {
            if (e.step !== 11) return;
            savedTrained = weightsOf(first.model);
            void control.saveCheckpoint(checkpoint, 'test');
            savedAverage = averagedList(first.model, firstEma.averagedWeights());
            control.stop('simulated crash');
          }),
      });
      expect(await first.trainer.use(firstEma).fit(data, options)).toMatchObject({ reason: 'stopped', step: 11 });
      expect(weightsOf(first.model)).toEqual(savedTrained);

      // The checkpoint's model.json holds the average with `checkpoints`, the trained weights otherwise.
      const loaded = await tf.loadLayersModel(fileSystem(checkpoint));
      expect(weightsOf(loaded)).toEqual(checkpoints ? savedAverage : savedTrained);
      const read = await readCheckpoint(checkpoint);
      expect(Object.keys(read.pluginTensors.ema!).some((k) => k.startsWith('trained/'))).toBe(checkpoints);
      tf.dispose([...Object.values(read.weights), ...read.optimizerWeights.map((w) => w.tensor), ...Object.values(read.pluginTensors.ema!)]);
      loaded.dispose();

      const second = trainerFor(mlp(), 'adam'); // a fresh model (other layer names) and optimizer: all from the checkpoint
      const secondEma = ema(settings);
      const resumed = await second.trainer.use(secondEma).resume(checkpoint, data, options);
      expect(resumed.reason).toBe('completed');
      expect(weightsOf(second.model)).toEqual(weightsOf(whole.model));
      expect(averagedList(second.model, secondEma.averagedWeights())).toEqual(averagedList(whole.model, wholeEma.averagedWeights()));
      expect(secondEma.updates).toBe(wholeEma.updates);
      expect(resumed.history).toEqual(wholeResult.history);
    });
  });
});

describe('ema: overlapping checkpoints', () => {
  it('two checkpoints written from one event both hold the average, and the trained weights come back once both are written', async () => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = ema({ decay: 0.9, checkpoints: true, evaluation: false, finalize: false });
    const dirs = [join(tmp, 'overlap-a'), join(tmp, 'overlap-b')];
    let atSave: { trained: number[][]; averaged: number[][] } | undefined;
    let afterSaves: number[][] | undefined;
    trainer.use(averaged).use({
      name: 'two-saves',
      attach: (e$, control) =>
        e$.subscribe((e) => {
          if (e.type === 'step:end' && e.step === 5) {
            atSave = { trained: weightsOf(model), averaged: averagedList(model, averaged.averagedWeights()) };
            for (const dir of dirs) void control.saveCheckpoint(dir, 'overlap');
          }
          if (e.type === 'batch:start' && e.step === 5) afterSaves = weightsOf(model);
        }),
    });
    await trainer.fit(blobs(32), { epochs: 1, batchSize: 4, handleSignals: false });
    for (const dir of dirs) {
      const loaded = await tf.loadLayersModel(fileSystem(dir));
      expect(weightsOf(loaded)).toEqual(atSave!.averaged);
      loaded.dispose();
    }
    expect(afterSaves).toEqual(atSave!.trained);
  });
});

describe('ema: options and memory', () => {
  it('rejects bad options naming the option and the fix', () => {
    expect(() => ema({ decay: 1 })).toThrow(/ema: decay must be a number in \(0, 1\) such as 0\.999, got 1/);
    expect(() => ema({ decay: 0 })).toThrow(/decay/);
    expect(() => ema({ every: 0 })).toThrow(/ema: every must be an integer ≥ 1/);
    expect(() => ema({ include: 'some' as 'all' })).toThrow(/include must be 'trainable' or 'all'/);
    expect(() => ema().averagedWeights()).toThrow(/no fit has run yet/);
  });

  it('keeps tf.memory().numTensors flat across epochs and fits, and frees everything on trainer.dispose()', async () => {
    const data = blobs(48);
    const validation = blobs(16, 3, 2, 8);
    const model = mlp();
    const before = tf.memory().numTensors;
    const { trainer } = trainerFor(model);
    const averaged = ema({ decay: 0.9, finalize: false, checkpoints: true });
    trainer.use(averaged);
    const counts: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe(() => counts.push(tf.memory().numTensors));
    await trainer.fit(data, { epochs: 4, batchSize: 8, validation, handleSignals: false });
    await trainer.evaluate(validation);
    await trainer.saveCheckpoint(join(tmp, 'memory'));
    await trainer.fit(data, { epochs: 4, batchSize: 8, validation, handleSignals: false });
    expect(new Set(counts).size).toBe(1);
    trainer.dispose(); // disposes the plugin too: the average kept for evaluate() is freed
    expect(tf.memory().numTensors).toBe(before);
    averaged.dispose(); // idempotent
  });
});
