import * as tf from '@tensorflow/tfjs';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, provide, ResumeSource, selectBackend, withSeed, type Plugin, type TrainerEvent } from '../../index.js';
import { describeOnBackends } from '../../test-support/backends.js';
import { classificationData, mlp, regressionData, weightsOf } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fitstream-equivalence-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describeOnBackends('determinism and equivalence', (backend) => {
  beforeAll(async () => {
    await selectBackend({ prefer: backend, log: null });
  });

  const run = async (seed: number) => {
    const model = mlp(3, 16, 2, 5, 0.3); // dropout: its masks must be seeded too
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed, backend: 'current', log: null });
    const data = classificationData(64, 3, 2);
    const result = await trainer.fit(data, { epochs: 3, batchSize: 8, handleSignals: false });
    const weights = weightsOf(model);
    trainer.dispose();
    model.dispose();
    tf.dispose([data.x, data.y]);
    return { weights, logs: result.history.logs };
  };

  it('same seed → bit-identical final weights (shuffle and dropout included)', async () => {
    const a = await run(42);
    const b = await run(42);
    expect(b.weights).toEqual(a.weights);
    expect(b.logs).toEqual(a.logs);
    const c = await run(43);
    expect(c.weights).not.toEqual(a.weights);
  });

  it('same seed in two processes → bit-identical final weights and history', async () => {
    const script = fileURLToPath(new URL('../../test-support/seeded-run.ts', import.meta.url));
    const runInChild = () =>
      new Promise<string>((done, fail) => {
        execFile(process.execPath, ['--conditions=@fitstream/source', '--import', 'tsx', script, backend], { timeout: 120_000 }, (error, stdout) =>
          error ? fail(new Error(`seeded-run on ${backend}: ${error.message}`)) : done(stdout.trim().split('\n').pop()!),
        );
      });
    const [a, b] = await Promise.all([runInChild(), runInChild()]);
    expect(JSON.parse(a)).toMatchObject({ backend });
    expect(b).toBe(a);
  });

  it('accumulating 2 batches of b equals one batch of 2b (SGD)', async () => {
    const data = regressionData(64, 4);
    const train = async (batchSize: number, accumulateBatches: number) => {
      const model = withSeed(3, () => {
        const m = tf.sequential();
        m.add(tf.layers.dense({ inputShape: [4], units: 8, activation: 'tanh' }));
        m.add(tf.layers.dense({ units: 1 }));
        return m;
      });
      const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.05 }, loss: 'meanSquaredError', seed: 1, backend: 'current', log: null });
      const steps: number[] = [];
      trainer.events$.pipe(ofType('step:end')).subscribe((e) => steps.push(e.samples));
      await trainer.fit(data, { epochs: 2, batchSize, accumulateBatches, shuffle: false, handleSignals: false });
      const w = weightsOf(model);
      model.dispose();
      return { w, steps };
    };
    const big = await train(16, 1);
    const accumulated = await train(8, 2);
    expect(accumulated.steps).toEqual(big.steps);
    accumulated.w.forEach((layer, i) => layer.forEach((v, j) => expect(v).toBeCloseTo(big.w[i]![j]!, 5)));
  });

  it('a run interrupted mid-epoch and resumed equals an uninterrupted one, bit for bit', async () => {
    const data = classificationData(60, 3, 2, 9);
    const validation = classificationData(20, 3, 2, 10);
    const options = { epochs: 3, batchSize: 8, validation, handleSignals: false } as const;
    const make = () => {
      const model = mlp(3, 12, 2, 21, 0.2);
      const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 77, backend: 'current', log: null });
      return { model, trainer };
    };
    const whole = make();
    const wholeEpochs: unknown[] = [];
    whole.trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => wholeEpochs.push(e.metrics));
    const wholeResult = await whole.trainer.fit(data, options);

    const first = make();
    const checkpoint = join(dir, `resume-${backend}`);
    first.trainer.use({
      name: 'crash-at-step-11',
      attach: (e$, control) =>
        e$.pipe(ofType('step:end')).subscribe((e) => {
          if (e.step === 11) {
            // Step 11 is batch 3 of epoch 1 (8 batches per epoch): a mid-epoch interruption.
            void control.saveCheckpoint(checkpoint, 'test');
            control.stop('simulated crash');
          }
        }),
    });
    const interrupted = await first.trainer.fit(data, options);
    expect(interrupted).toMatchObject({ reason: 'stopped', step: 11 });

    const second = make(); // fresh model and optimizer: everything must come from the checkpoint
    const resumedEpochs: unknown[] = [];
    let start: TrainerEvent | undefined;
    second.trainer.events$.subscribe((e) => {
      if (e.type === 'fit:start') start = e;
      if (e.type === 'epoch:end') resumedEpochs.push(e.metrics);
    });
    const resumed = await second.trainer.resume(checkpoint, data, options);
    expect(start).toMatchObject({ initialEpoch: 1, step: 11, resumedFrom: checkpoint });
    expect(resumed.reason).toBe('completed');
    expect(weightsOf(second.model)).toEqual(weightsOf(whole.model));
    expect(resumedEpochs).toEqual(wholeEpochs.slice(1));
    expect(resumed.history).toEqual(wholeResult.history);
  });
});

describe('checkpoints asked for inside a step', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'cpu', log: null });
  });

  it('are written when the step ends, so a resume from one equals the uninterrupted run (accumulation)', async () => {
    const data = classificationData(48, 3, 2, 4);
    const options = { epochs: 2, batchSize: 4, accumulateBatches: 3, handleSignals: false } as const;
    const make = () => {
      const model = mlp(3, 8, 2, 8);
      return { model, trainer: createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 5, backend: 'current', log: null }) };
    };
    const whole = make();
    const wholeResult = await whole.trainer.fit(data, options);

    const first = make();
    const checkpoint = join(dir, 'mid-step');
    const saved: number[] = [];
    first.trainer.events$.pipe(ofType('checkpoint:saved')).subscribe((e) => saved.push(e.batch));
    first.trainer.use({
      name: 'save-mid-group',
      attach: (e$, control) =>
        e$.pipe(ofType('batch:end')).subscribe((e) => {
          // Batch 4 of epoch 1 is the middle of the group {3, 4, 5}: the save waits for that step to end.
          if (e.epoch === 1 && e.batch === 4) {
            control.await(control.saveCheckpoint(checkpoint, 'mid-group'));
            control.stop('crash');
          }
        }),
    });
    await first.trainer.fit(data, options);
    expect(saved).toEqual([6]);

    const second = make();
    const resumed = await second.trainer.resume(checkpoint, data, options);
    expect(weightsOf(second.model)).toEqual(weightsOf(whole.model));
    expect(resumed.history).toEqual(wholeResult.history);
  });
});

describe('ResumeSource', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'cpu', log: null });
  });

  it('lets a plugin name the checkpoint a plain fit resumes from; two sources conflict', async () => {
    const data = classificationData(32, 3, 2, 4);
    const options = { epochs: 3, batchSize: 8, handleSignals: false } as const;
    const checkpoint = join(dir, 'resume-source');
    const first = createTrainer({ model: mlp(3, 8, 2, 8), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 5, backend: 'current', log: null });
    first.use({ name: 'crash', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe((e) => { if (e.epoch === 0) { void c.saveCheckpoint(checkpoint); c.stop('crash'); } }) });
    await first.fit(data, options);

    const source = (name: string, path: string | undefined): Plugin => ({ name, register: (c) => provide(c, ResumeSource, { name, find: async () => path }) });
    const second = createTrainer({ model: mlp(3, 8, 2, 8), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 5, backend: 'current', log: null }).use(source('backup', checkpoint));
    let resumedFrom: string | undefined;
    second.events$.pipe(ofType('fit:start')).subscribe((e) => (resumedFrom = e.resumedFrom));
    const result = await second.fit(data, options);
    expect(resumedFrom).toBe(checkpoint);
    expect(result.history.epochs).toEqual([0, 1, 2]);
    expect(result.epochs).toBe(2);

    const fresh = createTrainer({ model: mlp(3, 8, 2, 8), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 5, backend: 'current', log: null }).use(source('empty', undefined));
    expect((await fresh.fit(data, options)).epochs).toBe(3);
    await expect(fresh.use(source('another', checkpoint)).fit(data, options)).rejects.toThrow(/"empty" and "another" both claim "resume-source"/);
  });
});

describe('memory', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: null });
  });

  it('numTensors is identical after epoch 2 and epoch 20 (validation, accumulation, dropout, lazy metrics read)', async () => {
    const model = mlp(3, 16, 2, 5, 0.3);
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    const data = classificationData(40, 3, 2);
    const counts: number[] = [];
    trainer.events$.subscribe((e) => {
      if (e.type === 'batch:end' && e.batch === 0) void e.metrics.loss;
      if (e.type === 'epoch:end') counts.push(tf.memory().numTensors);
    });
    await trainer.fit(data, { epochs: 20, batchSize: 8, accumulateBatches: 2, validation: data, handleSignals: false });
    expect(counts).toHaveLength(20);
    expect(counts[19]).toBe(counts[1]);
    expect(new Set(counts.slice(1)).size).toBe(1);
  });

  // Momentum too: tfjs 4.22's MomentumOptimizer.dispose leaves its −lr scalar behind, which the trainer frees.
  it.each(['adam', 'momentum'] as const)('a whole fit leaves only the optimizer state behind, and dispose() releases that too (%s)', async (optimizer) => {
    const model = mlp(3, 8, 2);
    const data = classificationData(40, 3, 2);
    const before = tf.memory().numTensors;
    const trainer = createTrainer({ model, optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    await trainer.fit(data, { epochs: 3, batchSize: 8, validation: data, handleSignals: false });
    await trainer.evaluate(data);
    expect(tf.memory().numTensors).toBeGreaterThan(before); // the optimizer's slots and scalars
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
