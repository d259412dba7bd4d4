import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend, withSeed, type FitOptions, type Plugin, type TrainerEvent } from '@fitstream/core';
import { updateBatchNormStatistics } from '@fitstream/transfer';
import { constantLr, ema, stepDecay, swa, type SwaOptions } from '../../index.js';
import { averagedList, blobs, mlp, trainerFor, weightsOf } from '../../test-support/fixtures.js';
import { swaLearningRate, swaStartEpoch } from './swa.js';

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-swa-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});


/** Each weight tensor within `rel` of the expected one, relative to the tensor's largest magnitude. */
function expectClose(got: number[][], expected: number[][], rel: number): void {
  expected.forEach((e, i) => {
    const scale = Math.max(...e.map(Math.abs));
    const err = Math.max(...e.map((v, j) => Math.abs(v - got[i]![j]!)));
    if (!(err <= rel * scale)) throw new Error(`weight ${i}: max error ${err} exceeds ${rel} × ${scale}`);
  });
}

/** The float64 mean of recorded weight lists. */
function mean(lists: readonly number[][][]): number[][] {
  return lists[0]!.map((w, i) => w.map((_, j) => lists.reduce((s, l) => s + l[i]![j]!, 0) / lists.length));
}

/** dense → batch norm → dense, seeded. */
function bnModel(): tf.Sequential {
  return withSeed(4, () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [3], units: 6, activation: 'relu' }));
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    return m;
  });
}

const isStatistic = (w: tf.LayerVariable) => /\/moving_(mean|variance)$/.test(w.originalName);

describe('swa: the average', () => {
  const data = blobs(48);

  it('is the mean of the weights at the end of epochs start, start + every, …', async () => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = swa({ start: 2, every: 2, finalize: false });
    const atEpochEnd: number[][][] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe(() => atEpochEnd.push(weightsOf(model)));
    await trainer.use(averaged).fit(data, { epochs: 7, batchSize: 8, handleSignals: false });
    expect(averaged.startEpoch).toBe(2);
    expect(averaged.models).toBe(3);
    expectClose(averagedList(model, averaged.averagedWeights()), mean([atEpochEnd[2]!, atEpochEnd[4]!, atEpochEnd[6]!]), 1e-5);
    expect(weightsOf(model)).toEqual(atEpochEnd[6]); // finalize: false
  });

  it('a fractional start is ⌊start · epochs⌋; finalize writes the average into the model and publishes the events', async () => {
    expect([swaStartEpoch(0.75, 100), swaStartEpoch(0.5, 6), swaStartEpoch(0.8, 4), swaStartEpoch(3, 10), swaStartEpoch(0, 10)]).toEqual([75, 3, 3, 3, 0]);
    const { model, trainer } = trainerFor(mlp());
    const atEpochEnd: number[][][] = [];
    const events: TrainerEvent[] = [];
    trainer.events$.subscribe((e) => {
      if (e.type === 'epoch:end') atEpochEnd.push(weightsOf(model));
      if (e.type === 'swa:started' || e.type === 'swa:finalized') events.push(e);
    });
    await trainer.use(swa({ start: 0.5 })).fit(data, { epochs: 6, batchSize: 8, handleSignals: false });
    expectClose(weightsOf(model), mean(atEpochEnd.slice(3)), 1e-5);
    expect(events).toMatchObject([
      { type: 'swa:started', epoch: 3, startEpoch: 3 },
      { type: 'swa:finalized', models: 3, batchNormLayers: [], reason: 'completed' },
    ]);
  });

  it('averages the parameters and recomputes the batch-norm statistics over batchNormData at the end (PyTorch update_bn)', async () => {
    const { model, trainer } = trainerFor(bnModel());
    const averaged = swa({ start: 1, batchNormData: data.x, batchNormBatchSize: 16 });
    const atEpochEnd: number[][][] = [];
    let atFitEnd: { live: number[][]; averaged: number[][] } | undefined;
    let finalized: TrainerEvent | undefined;
    trainer.events$.subscribe((e) => {
      if (e.type === 'epoch:end') atEpochEnd.push(weightsOf(model));
      // Runs before the plugin's own fit:end handler (subscribed before the fit).
      if (e.type === 'fit:end') atFitEnd = { live: weightsOf(model), averaged: averagedList(model, averaged.averagedWeights()) };
      if (e.type === 'swa:finalized') finalized = e;
    });
    await trainer.use(averaged).fit(data, { epochs: 4, batchSize: 8, handleSignals: false });
    const statistics = model.weights.map(isStatistic);
    const final = weightsOf(model);
    const expected = mean(atEpochEnd.slice(1));
    // Parameters (batch-norm gamma and beta included) are the mean of epochs 1–3; before finalizing, the
    // averaged model took its statistics from the live model.
    expectClose(final.filter((_, i) => !statistics[i]), expected.filter((_, i) => !statistics[i]), 1e-5);
    expect(atFitEnd!.averaged.filter((_, i) => statistics[i])).toEqual(atFitEnd!.live.filter((_, i) => statistics[i]));
    expect(final.filter((_, i) => statistics[i])).not.toEqual(atFitEnd!.live.filter((_, i) => statistics[i]));

    // The statistics are exactly what updateBatchNormStatistics computes for the averaged model.
    model.setWeights(atFitEnd!.averaged.map((w, i) => tf.tensor(w, model.weights[i]!.shape as number[])));
    expect(updateBatchNormStatistics(model, data.x, { batchSize: 16 })).toEqual([model.layers[1]!.name]);
    expect(weightsOf(model)).toEqual(final);
    expect(finalized).toMatchObject({ models: 3, batchNormLayers: [model.layers[1]!.name] });
  });

  it('without batchNormData, a model with batch-norm layers fails at fit start naming the option, the layers and the fix', async () => {
    const { model, trainer } = trainerFor(bnModel());
    const error = await trainer.use(swa({ start: 1 })).fit(data, { epochs: 2, batchSize: 8, handleSignals: false }).catch((e: unknown) => e);
    expect(String(error)).toMatch(new RegExp(`batch-normalization layers \\(${model.layers[1]!.name}\\).*batchNormData.*xTrain.*finalize: false`));
    // Frozen batch-norm layers keep their statistics (updateBatchNormStatistics skips them): no data needed.
    const frozen = trainerFor(bnModel());
    frozen.model.layers[1]!.trainable = false;
    await expect(frozen.trainer.use(swa({ start: 1 })).fit(data, { epochs: 2, batchSize: 8, handleSignals: false })).resolves.toMatchObject({ reason: 'completed' });
    const noFinalize = trainerFor(bnModel());
    await expect(noFinalize.trainer.use(swa({ start: 1, finalize: false })).fit(data, { epochs: 2, batchSize: 8, handleSignals: false })).resolves.toMatchObject({ reason: 'completed' });
  });
});

describe('swa: learning rate', () => {
  const data = blobs(32);
  const ratesOf = async (options: SwaOptions, epochs = 5, schedule?: Plugin) => {
    const { trainer } = trainerFor(mlp());
    const rates: number[] = [];
    const factors: (number | undefined)[] = [];
    trainer.events$.subscribe((e) => {
      if (e.type === 'epoch:start') rates.push(e.learningRate);
      if (e.type === 'epoch:end') factors.push(e.learningRateFactors.swa);
    });
    if (schedule) trainer.use(schedule);
    await trainer.use(swa({ finalize: false, ...options })).fit(data, { epochs, batchSize: 16, handleSignals: false });
    return { rates, factors };
  };

  it('switches to learningRate at the start epoch, or anneals to it as PyTorch SWALR', async () => {
    const constant = await ratesOf({ start: 2, learningRate: 0.01 });
    expect(constant.rates).toEqual([0.1, 0.1, 0.01, 0.01, 0.01]);
    // An 'override' modifier: its factor is the SWA rate over the rate that reaches it, reported in events and history.
    expect(constant.factors).toEqual([1, 1, 0.01 / 0.1, 0.01 / 0.1, 0.01 / 0.1]);
    const linear = await ratesOf({ start: 1, learningRate: 0.01, annealEpochs: 2, annealStrategy: 'linear' });
    [0.1, 0.055, 0.01, 0.01, 0.01].forEach((lr, i) => expect(linear.rates[i]).toBeCloseTo(lr, 12));
    const cos = await ratesOf({ start: 1, learningRate: 0.01, annealEpochs: 3 });
    // α = (1 − cos(π·k/3))/2 for k = 1, 2, 3: 0.25, 0.75, 1.
    [0.1, 0.0775, 0.0325, 0.01, 0.01].forEach((lr, i) => expect(cos.rates[i]).toBeCloseTo(lr, 12));
    expect(swaLearningRate(0, 0.1, 0.01, 0, 'cos')).toBe(0.01);
    // From epoch 0, the base is the optimizer's rate when the fit starts.
    expect((await ratesOf({ start: 0, learningRate: 0.02 }, 2)).rates).toEqual([0.02, 0.02]);
  });

  it('takes over from a base schedule at the start epoch, annealing from the rate the schedule reached', async () => {
    // Per epoch: 0.1, 0.05, 0.025, … until SWA starts at epoch 2 and anneals linearly over 2 epochs to 0.01.
    const { rates } = await ratesOf({ start: 2, learningRate: 0.01, annealEpochs: 2, annealStrategy: 'linear' }, 5, stepDecay({ stepSize: 1, gamma: 0.5, interval: 'epoch' }));
    // SWALR from 0.025 (the schedule's rate at epoch 2): k = 0 → α = 0.5: 0.0175; then 0.01.
    [0.1, 0.05, 0.0175, 0.01, 0.01].forEach((lr, i) => expect(rates[i]).toBeCloseTo(lr, 12));
    // Without learningRate, SWA leaves the rate to the schedule.
    const other = trainerFor(mlp());
    await expect(other.trainer.use(swa({ start: 1 })).use(constantLr()).fit(data, { epochs: 2, batchSize: 16, handleSignals: false })).resolves.toBeDefined();
  });
});

describe('swa: evaluation, checkpoints and resume', () => {
  const data = blobs(60, 3, 2, 9);
  const validation = blobs(20, 3, 2, 10);
  const options = { epochs: 5, batchSize: 8, validation, handleSignals: false } as const;

  it('with evaluation, validation from the start epoch uses the average including that epoch', async () => {
    const { model, trainer } = trainerFor(mlp());
    const averaged = swa({ start: 2, evaluation: true, finalize: false });
    const validated: { loss: number; weights: number[][] }[] = [];
    trainer.events$.pipe(ofType('validation:end')).subscribe((e) => {
      validated.push({ loss: e.metrics.val_loss, weights: e.epoch >= 2 ? averagedList(model, averaged.averagedWeights()) : weightsOf(model) });
    });
    await trainer.use(averaged).fit(data, options);
    const reference = trainerFor(mlp());
    for (const { loss, weights } of validated) {
      reference.model.setWeights(weights.map((w, i) => tf.tensor(w, model.weights[i]!.shape as number[])));
      expect((await reference.trainer.evaluate(validation, { batchSize: 8 })).loss).toBe(loss);
    }
    expect(validated).toHaveLength(5);
  });

  describe.each([
    { checkpoints: true, where: 'epoch:end', validate: true },
    { checkpoints: false, where: 'epoch:end', validate: true },
    // Without validation the epoch is averaged at epoch:end, after the checkpoint: the resume catches up.
    { checkpoints: true, where: 'epoch:end', validate: false },
    { checkpoints: false, where: 'epoch:end', validate: false },
    { checkpoints: true, where: 'step:end', validate: true },
  ] as const)('checkpoints: $checkpoints, written at $where, validation: $validate', ({ checkpoints, where, validate }) => {
    it('a resumed fit ends with weights, average and history equal to an uninterrupted fit', async () => {
      const settings: SwaOptions = { start: 1, learningRate: 0.05, annealEpochs: 2, evaluation: true, checkpoints, finalize: false };
      const { validation: _, ...withoutValidation } = options;
      const fitOptions: FitOptions = validate ? options : withoutValidation;
      const whole = trainerFor(mlp());
      const wholeSwa = swa(settings);
      const wholeResult = await whole.trainer.use(wholeSwa).fit(data, fitOptions);

      const first = trainerFor(mlp());
      const checkpoint = join(tmp, `resume-${String(checkpoints)}-${where}-${String(validate)}`);
      // Used before swa: it sees the event first, so at an epoch end the checkpoint precedes that epoch's average.
      first.trainer.use({
        name: 'crash',
        attach: (e$, control) =>
          e$.subscribe((e) => {
            const due = where === 'epoch:end' ? e.type === 'epoch:end' && e.epoch === 2 : e.type === 'step:end' && e.step === 19;
            if (!due) return;
            void control.saveCheckpoint(checkpoint, 'test');
            control.stop('simulated crash');
          }),
      });
      await first.trainer.use(swa(settings)).fit(data, fitOptions);

      const second = trainerFor(mlp());
      const secondSwa = swa(settings);
      const resumed = await second.trainer.use(secondSwa).resume(checkpoint, data, fitOptions);
      expect(resumed.reason).toBe('completed');
      expect(weightsOf(second.model)).toEqual(weightsOf(whole.model));
      expect(averagedList(second.model, secondSwa.averagedWeights())).toEqual(averagedList(whole.model, wholeSwa.averagedWeights()));
      expect(secondSwa.models).toBe(4);
      expect(resumed.history).toEqual(wholeResult.history);
    });
  });
});

describe('swa: options and memory', () => {
  it('rejects bad options naming the option and the fix', async () => {
    expect(() => swa({ start: 1.5 })).toThrow(/swa: start must be an epoch index \(integer ≥ 0\) or a fraction of the epochs in \(0, 1\), got 1.5/);
    expect(() => swa({ start: -1 })).toThrow(/swa: start/);
    expect(() => swa({ every: 0 })).toThrow(/swa: every must be an integer ≥ 1/);
    expect(() => swa({ learningRate: 0 })).toThrow(/swa: learningRate must be a finite number > 0/);
    expect(() => swa({ annealEpochs: 3 })).toThrow(/give learningRate too/);
    expect(() => swa({ learningRate: 0.1, annealStrategy: 'exp' as 'cos' })).toThrow(/annealStrategy must be 'cos' or 'linear'/);
    expect(() => swa({ batchNormData: [[1, 2]] as unknown as tf.Tensor })).toThrow(/batchNormData must be the training inputs/);
    expect(() => swa().averagedWeights()).toThrow(/nothing is averaged yet/);
    const { trainer } = trainerFor(mlp());
    await expect(trainer.use(swa({ start: 4 })).fit(blobs(16), { epochs: 4, batchSize: 8, handleSignals: false })).rejects.toThrow(
      /swa: start is epoch 4 but the fit's last epoch is 3 \(epochs: 4 is exclusive\), so nothing would be averaged; use a start below 4/,
    );
  });

  it('keeps tf.memory().numTensors flat across epochs and fits, and frees everything on trainer.dispose()', async () => {
    const data = blobs(48);
    const validation = blobs(16, 3, 2, 8);
    const model = bnModel();
    const before = tf.memory().numTensors;
    const { trainer } = trainerFor(model);
    const averaged = swa({ start: 1, evaluation: true, checkpoints: true, finalize: false });
    const counts: number[] = [];
    // Counted after swa's own epoch:end handler, which frees the average its update at validation:start replaced.
    trainer.use(averaged).use({ name: 'count', attach: (e$) => e$.pipe(ofType('epoch:end')).subscribe((e) => e.epoch >= 1 && counts.push(tf.memory().numTensors)) });
    await trainer.fit(data, { epochs: 4, batchSize: 8, validation, handleSignals: false });
    await trainer.evaluate(validation);
    await trainer.saveCheckpoint(join(tmp, 'memory'));
    await trainer.fit(data, { epochs: 4, batchSize: 8, validation, handleSignals: false });
    expect(counts).toHaveLength(6);
    expect(new Set(counts).size).toBe(1);
    trainer.dispose(); // disposes the plugin too: the average kept for evaluate() is freed
    expect(tf.memory().numTensors).toBe(before);
    averaged.dispose(); // idempotent
  });
});

describe('weight averaging does not hurt on noisy data', () => {
  it('SWA and EMA reach a validation loss no worse than the last trained weights (SGD at a high rate, label noise)', async () => {
    // Overlapping classes with 15 % flipped labels: the iterates of a high-rate SGD bounce around the optimum.
    const noisy = (n: number, seed: number) => {
      const b = blobs(n, 3, 2, seed);
      const flip = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([n, 1], 0, 1, 'float32', seed), 0.15), 'float32'));
      const y = tf.tidy(() => tf.add(tf.mul(b.y, tf.sub(1, flip)), tf.mul(tf.sub(1, b.y), flip)));
      tf.dispose([b.y, flip]);
      return { x: b.x, y };
    };
    const train = noisy(256, 21);
    const validation = noisy(256, 22);
    const run = async (plugin: 'none' | 'swa' | 'ema') => {
      const model = mlp(3, 16, 2, 3);
      const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.5 }, loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
      if (plugin === 'swa') trainer.use(swa({ start: 0.5 }));
      if (plugin === 'ema') trainer.use(ema({ decay: 0.95, evaluation: false }));
      await trainer.fit(train, { epochs: 12, batchSize: 8, handleSignals: false });
      return (await trainer.evaluate(validation)).loss;
    };
    const [none, averagedSwa, averagedEma] = [await run('none'), await run('swa'), await run('ema')];
    expect(averagedSwa).toBeLessThanOrEqual(none);
    expect(averagedEma).toBeLessThanOrEqual(none);
  });
});
