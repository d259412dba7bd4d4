import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GradientTransform, LearningRateModifier, ofType, PluginConflictError, provide, type Plugin } from '@fitstream/core';
import { LocalCommunicator, contextFor, dataParallel, evaluateAcrossReplicas } from '../../index.js';
import { launchThreads } from '../../test-support/launch-helpers.js';
import { buildModel, flatWeights, lrRecorder, makeData, makeTrainer, maxRelativeDifference } from '../../test-support/train-fixture.js';

interface Report {
  rank: number;
  weights: number[];
  centre: number[] | null;
  step: number;
  reason: string;
  loss: number[];
  valLoss: number[];
  averaged: Record<string, number>[];
  lrs: number[];
  restartCount: number;
  resumedFrom: string | null;
}

/** One replica with the global batch: the run k replicas must reproduce. */
async function reference(n: number, globalBatch: number, epochs: number, lr?: { scaling: 'linear'; warmupSteps: number; baseBatchSize: number }, baseLr = 0.5, validationN = 0) {
  await tf.setBackend('cpu');
  const model = buildModel(42);
  const trainer = makeTrainer(model, baseLr);
  const lrs: number[] = [];
  trainer.use(dataParallel(contextFor(new LocalCommunicator()), { log: null, ...(lr ? { lr } : {}) })).use(lrRecorder(lrs));
  const validation = validationN > 0 ? makeData(validationN, 1000) : undefined;
  const result = await trainer.fit(makeData(n), { epochs, batchSize: globalBatch, handleSignals: false, ...(validation ? { validation, validationBatchSize: 4 } : {}) });
  if (validation) tf.dispose([validation.x, validation.y]);
  return { weights: flatWeights(model), step: result.step, lrs, loss: result.history.logs.loss ?? [], valLoss: result.history.logs.val_loss ?? [] };
}

describe('dataParallel on thread replicas', () => {
  for (const k of [2, 3, 4]) {
    it(`${k} replicas × batch 4 equal one replica × batch ${4 * k} after 20 SGD steps (1e-5 relative), identical on every rank`, async () => {
      const n = 4 * k * 5; // 5 steps per epoch, 4 epochs
      const ref = await reference(n, 4 * k, 4);
      expect(ref.step).toBe(20);
      const result = await launchThreads('./train-worker.ts', k, { env: { ALGO: 'dp', N: String(n), BATCH: '4', EPOCHS: '4', DIFFERENT_INIT: '1', BUCKET_BYTES: '400' }, timeoutMs: 60_000 });
      expect(result.attempts[0]!.failures).toEqual([]);
      const reports = result.results as Report[];
      for (const r of reports) {
        expect(r.step).toBe(20);
        expect(r.weights).toEqual(reports[0]!.weights); // bitwise: same reduced gradients everywhere
      }
      expect(maxRelativeDifference(reports[0]!.weights, ref.weights)).toBeLessThan(1e-5);
      // Metrics averaged across replicas equal the single replica's epoch losses (same samples per epoch).
      const averagedLoss = reports[0]!.averaged.map((m) => m.loss!);
      expect(averagedLoss).toHaveLength(4);
      averagedLoss.forEach((l, i) => expect(Math.abs(l - ref.loss[i]!) / ref.loss[i]!).toBeLessThan(1e-4));
    });
  }

  it('exact distributed validation: each replica validates its evaluationShard (23 samples, uneven shards, partial batches) and the averaged val_loss equals one replica on all of them', async () => {
    for (const k of [2, 3]) {
      const n = 4 * k * 5;
      const ref = await reference(n, 4 * k, 2, undefined, 0.5, 23);
      const result = await launchThreads('./train-worker.ts', k, { env: { ALGO: 'dp', N: String(n), BATCH: '4', EPOCHS: '2', VAL_N: '23' }, timeoutMs: 60_000 });
      expect(result.attempts[0]!.failures).toEqual([]);
      const reports = result.results as Report[];
      const valLoss = reports[0]!.averaged.map((m) => m.val_loss!);
      expect(valLoss).toHaveLength(2);
      for (const r of reports) {
        expect(r.averaged.map((m) => m.val_loss)).toEqual(valLoss); // the same on every rank…
        expect(r.valLoss).toEqual(valLoss); // …and in every rank's own epoch:end events and history
      }
      valLoss.forEach((l, i) => expect(Math.abs(l - ref.valLoss[i]!) / ref.valLoss[i]!, `k = ${k}, epoch ${i}`).toBeLessThan(1e-5));
    }
  });

  it('shardValidation (default): every replica passes all 23 validation rows, scores its share of each batch, and val_loss equals one replica scoring every row', async () => {
    for (const [k, valBatch] of [[2, 4], [3, 4], [2, 11]] as const) {
      // 23 rows in batches of 4 end with 3 rows (≥ k), in batches of 11 with 1 row (< 2: one row counts twice).
      const n = 4 * k * 5;
      const ref = await reference(n, 4 * k, 2, undefined, 0.5, 23);
      const result = await launchThreads('./train-worker.ts', k, { env: { ALGO: 'dp', N: String(n), BATCH: '4', EPOCHS: '2', VAL_N: '23', VAL_SAME: '1', VAL_BATCH: String(valBatch) }, timeoutMs: 60_000 });
      expect(result.attempts[0]!.failures).toEqual([]);
      const reports = result.results as Report[];
      for (const r of reports) expect(r.valLoss).toEqual(reports[0]!.valLoss);
      // Exact, except when the last batch has fewer rows than replicas: then one row of 23 counts twice.
      const tolerance = 23 % valBatch >= k ? 1e-5 : 0.1;
      reports[0]!.valLoss.forEach((l, i) => expect(Math.abs(l - ref.valLoss[i]!) / ref.valLoss[i]!, `k = ${k}, epoch ${i}`).toBeLessThan(tolerance));
      expect(reports[0]!.valLoss).toHaveLength(2);
    }
  });

  it('shardValidation refuses replicas that pass their own evaluationShard, on every rank, naming the fix', async () => {
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '2', VAL_N: '23', FORCE_SHARD: '1' }, timeoutMs: 60_000 });
    const failures = result.attempts[0]!.failures;
    expect(failures.map((f) => f.rank)).toEqual([0, 1]);
    for (const f of failures) expect(f.error).toMatch(/passed different validation data \(rank 0: 12 rows, rank 1: 11 rows\).*shardValidation: false/);
  });

  it('evaluateAcrossReplicas: shards evaluated on 3 replicas (one with none) give one process’s evaluation of all rows; a failure on one rank fails all, at once', async () => {
    const n = 4 * 3 * 5;
    await tf.setBackend('cpu');
    const model = buildModel(42);
    const trainer = makeTrainer(model, 0.5);
    trainer.use(dataParallel(contextFor(new LocalCommunicator()), { log: null }));
    await trainer.fit(makeData(n), { epochs: 2, batchSize: 12, handleSignals: false });
    const test = makeData(31, 2000);
    // World size 1: the replica's own evaluation, unchanged.
    expect(await evaluateAcrossReplicas(contextFor(new LocalCommunicator()), trainer, test)).toEqual({ ...(await trainer.evaluate(test)) });
    // What the group below must report: rank 2 (rows 2, 5, 8, …) evaluates nothing, ranks 0 and 1 their shards.
    const kept = tf.tensor1d(Array.from({ length: 31 }, (_, i) => i).filter((i) => i % 3 !== 2), 'int32');
    const expected = await trainer.evaluate({ x: tf.gather(test.x, kept), y: tf.gather(test.y, kept) });
    tf.dispose([test.x, test.y, kept]);
    const result = await launchThreads('./train-worker.ts', 3, { env: { ALGO: 'dp', N: String(n), BATCH: '4', EPOCHS: '2', EVAL_N: '31', EVAL_NONE: '2' }, timeoutMs: 60_000 });
    expect(result.attempts[0]!.failures).toEqual([]);
    const reports = result.results as Array<Report & { evaluated: Record<string, number> | null; evalError: string | null }>;
    for (const r of reports) {
      expect(r.evalError).toBeNull();
      expect(r.evaluated).toEqual(reports[0]!.evaluated);
    }
    expect(reports[0]!.evaluated!.samples).toBe(21);
    expect(Math.abs(reports[0]!.evaluated!.loss! - expected.loss!) / expected.loss!).toBeLessThan(1e-5);
    const started = performance.now();
    const failed = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '1', EVAL_N: '31', EVAL_BAD: '1' }, timeoutMs: 60_000 });
    expect(performance.now() - started).toBeLessThan(30_000);
    const messages = (failed.results as Array<{ rank: number; evalError: string | null }>).sort((a, b) => a.rank - b.rank).map((r) => r.evalError);
    expect(messages[0]).toMatch(/the evaluation failed on 1 other replica/);
    expect(messages[1]).toMatch(/shape|rows|samples/i);
  });

  it('validation on rank 0 only: every rank gets rank 0’s val_loss (weight 0 from the others), and early stopping on it stops the group together', async () => {
    const n = 4 * 2 * 5;
    const ref = await reference(n, 8, 3, undefined, 0.5, 23);
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: String(n), BATCH: '4', EPOCHS: '3', VAL_N: '23', VAL_RANKS: '0' }, timeoutMs: 60_000 });
    expect(result.attempts[0]!.failures).toEqual([]);
    const reports = result.results as Report[];
    for (const r of reports) {
      expect(r.valLoss).toHaveLength(3);
      r.valLoss.forEach((l, i) => expect(Math.abs(l - ref.valLoss[i]!) / ref.valLoss[i]!).toBeLessThan(1e-5));
    }
    expect(reports[1]!.valLoss).toEqual(reports[0]!.valLoss);
    // Early stopping with patience 0 on the group's val_loss, against an impossible baseline: both ranks stop after epoch 0.
    const stopped = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: String(n), BATCH: '4', EPOCHS: '3', VAL_N: '23', VAL_RANKS: '1', STOP_BELOW_VAL: '0' }, timeoutMs: 60_000 });
    expect(stopped.attempts[0]!.failures).toEqual([]);
    for (const r of stopped.results as Report[]) expect([r.reason, r.valLoss.length]).toEqual(['stopped', 1]);
  });

  it('a pre-reduce guard that skips an update on one replica makes every replica skip it, without waiting for a timeout', async () => {
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '2', SKIP: '1:3' }, timeoutMs: 60_000 });
    expect(result.attempts[0]!.failures).toEqual([]);
    const reports = result.results as (Report & { stats: { skipped: number; steps: number } })[];
    for (const r of reports) {
      expect(r.weights).toEqual(reports[0]!.weights);
      expect(r.stats.skipped).toBe(1);
      expect(r.stats.steps).toBe(9); // 10 updates, one skipped everywhere
    }
    // One replica with the global batch that skips the same update.
    await tf.setBackend('cpu');
    const model = buildModel(42);
    const trainer = makeTrainer(model, 0.5);
    trainer.use(dataParallel(contextFor(new LocalCommunicator()), { log: null })).use({
      name: 'skip-step-3',
      register: (c) => provide(c, GradientTransform, { name: 'skip-step-3', stage: 'pre-reduce', transform: (g, gctx) => (gctx.step === 3 ? null : g) }),
    });
    await trainer.fit(makeData(40), { epochs: 2, batchSize: 8, handleSignals: false });
    expect(maxRelativeDifference(reports[0]!.weights, flatWeights(model))).toBeLessThan(1e-5);
  });

  it('linear LR scaling with warm-up (Goyal et al.): 2 replicas ramp from the base rate to 2× and match the formula', async () => {
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '2', LR: '0.1', LR_WARMUP: '4' }, timeoutMs: 60_000 });
    expect(result.attempts[0]!.failures).toEqual([]);
    const { lrs } = (result.results as Report[])[0]!;
    // step:end carries the rate used by that step: steps 0..3 warm up from 0.1 towards 0.2, then 0.2.
    expect(lrs.slice(0, 6).map((x) => Number(x.toFixed(6)))).toEqual([0.1, 0.125, 0.15, 0.175, 0.2, 0.2]);
    // It equals one replica with batch 8 and the same schedule (base batch 4 → factor 2).
    const ref = await reference(40, 8, 2, { scaling: 'linear', warmupSteps: 4, baseBatchSize: 4 }, 0.1);
    expect(ref.lrs.slice(0, 6).map((x) => Number(x.toFixed(6)))).toEqual([0.1, 0.125, 0.15, 0.175, 0.2, 0.2]);
  });

  it('linear LR scaling composes with a base schedule: 2 replicas run at cosine(t) × the warm-up ramp from 1 to 2 (hand-computed)', async () => {
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '2', LR: '0.1', LR_WARMUP: '4', LR_COSINE: '10' }, timeoutMs: 60_000 });
    expect(result.attempts[0]!.failures).toEqual([]);
    const reports = result.results as Report[];
    // cosine(t) = 0.05·(1 + cos(πt/10)); ramp(t) = 1 + t/4 for t < 4, then 2 (k = 2 replicas × batch 4 / batch 4).
    const expected = [0.1, 0.0975528 * 1.25, 0.0904508 * 1.5, 0.0793893 * 1.75, 0.0654508 * 2, 0.05 * 2, 0.0345492 * 2, 0.0206107 * 2, 0.0095492 * 2, 0.0024472 * 2];
    for (const r of reports) {
      expect(r.lrs).toHaveLength(10);
      r.lrs.forEach((lr, t) => expect(lr, `rank ${r.rank}, step ${t}`).toBeCloseTo(expected[t]!, 6));
    }
    expect(reports[0]!.weights).toEqual(reports[1]!.weights);
  });

  it('a stop on one replica stops every replica after the same step', async () => {
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4', STOP: '1:3' }, timeoutMs: 60_000 });
    expect(result.attempts[0]!.failures).toEqual([]);
    const reports = result.results as Report[];
    expect(reports.map((r) => r.step)).toEqual([3, 3]); // rank 1 stopped after step 3; rank 0 with it
    expect(reports[0]!.weights).toEqual(reports[1]!.weights);
  });
});

describe('linear LR scaling in the learning-rate pipeline', () => {
  const warmupModifier: Plugin = { name: 'my-warmup', register: (r) => provide(r, LearningRateModifier, { name: 'my-warmup', stage: 'warmup', shapesWarmup: true, factor: (p) => Math.min(1, (p.step + 1) / 2) }) };

  it('reports its factor in events and publishes distributed:learningRatePlan with the first rate of the fit', async () => {
    await tf.setBackend('cpu');
    const trainer = makeTrainer(buildModel(42), 0.1);
    const plans: { learningRate: number; target: number; warmupSteps: number }[] = [];
    const factors: number[] = [];
    trainer.events$.pipe(ofType('distributed:learningRatePlan')).subscribe((e) => plans.push(e));
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => factors.push(e.learningRateFactors['data-parallel (linear LR scaling)']!));
    // Base batch 4, batch 8 on one replica: k = 2, reached over 2 steps.
    trainer.use(dataParallel(contextFor(new LocalCommunicator()), { log: null, lr: { warmupSteps: 2, baseBatchSize: 4 } }));
    await trainer.fit(makeData(32), { epochs: 1, batchSize: 8, handleSignals: false });
    expect(factors).toEqual([1, 1.5, 2, 2]);
    expect(plans).toMatchObject([{ learningRate: 0.1, target: 0.2, warmupSteps: 2 }]);
    trainer.dispose();
  });

  it('with a warm-up it refuses a second warm-up, naming both; without one it combines with it', async () => {
    await tf.setBackend('cpu');
    const refused = makeTrainer(buildModel(42), 0.1).use(dataParallel(contextFor(new LocalCommunicator()), { log: null, lr: { warmupSteps: 2 } })).use(warmupModifier);
    const error = await refused.fit(makeData(16), { epochs: 1, batchSize: 8, handleSignals: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginConflictError);
    expect(String(error)).toMatch(/"data-parallel \(linear LR scaling\)" and "my-warmup" both claim "learning-rate warm-up"/);
    refused.dispose();
    const combined = makeTrainer(buildModel(42), 0.1).use(dataParallel(contextFor(new LocalCommunicator()), { log: null, lr: { baseBatchSize: 4 } })).use(warmupModifier);
    const rates: number[] = [];
    combined.events$.pipe(ofType('step:end')).subscribe((e) => rates.push(e.learningRate));
    await combined.fit(makeData(32), { epochs: 1, batchSize: 8, handleSignals: false });
    // 0.1 × k = 2 × warm-up (t + 1)/2.
    expect(rates.map((r) => Number(r.toFixed(9)))).toEqual([0.1, 0.2, 0.2, 0.2]);
    combined.dispose();
  });
});
