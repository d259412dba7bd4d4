// A replica for the resume tests (threads and MPI), configured by environment variables:
// OPT sgd|momentum|adam|rmsprop|adagrad (default adam); MODEL mlp | same (zeta, eta, alpha: 4×4 kernels, no bias)
// | a JSON spec { input, layers: [{ name, units, bias }] } (the property test); N samples, BATCH per replica, EPOCHS.
// MODE split: an uninterrupted fit, then fit(SPLIT epochs) → rank 0 saves a checkpoint → a fresh model and trainer
// fit({ resumeFrom }) to EPOCHS; reports both weights. MODE backup: one fit with rankZero(ctx, backupAndRestore({ dir:
// BACKUP, everySteps: EVERY })) and no resumeFrom (after a launcher restart the backup's shared ResumeSource resumes every
// rank); FAIL kind:rank:step (exit | throw | kill | hang) on the first attempt; SHARED=1 puts backupAndRestore on every
// rank (refused); FAIL spin:rank:step busy-loops forever (a hung replica that never yields). PROBE dir: every step
// writes PROBE/rank-R.json ({ pid, step, restartCount, at }) for a test that kills or freezes a rank from outside;
// STEP_DELAY_MS sleeps after each step of the first attempt so that it can. A fit that fails writes
// BACKUP/../error-R-<restartCount>.json ({ name, message, lostRanks, reason, at }) before it rethrows.
// Writes its report to FITSTREAM_TEST_OUT/rank-R.json on MPI, posts it on threads.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { createTrainer, withSeed, type Plugin, type Trainer } from '@fitstream/core';
import { backupAndRestore } from '@fitstream/callbacks';
import { dataParallel, init, rankZero, type DistributedContext } from '../index.js';

const env = process.env;
const started = Date.now();
const ctx = await init();
const n = Number(env.N ?? 48);
const batch = Number(env.BATCH ?? 4);
const epochs = Number(env.EPOCHS ?? 4);

interface Spec {
  readonly input: number;
  readonly layers: readonly { readonly name: string; readonly units: number; readonly bias?: boolean }[];
}
const spec: Spec =
  env.MODEL === 'same'
    ? { input: 4, layers: ['zeta', 'eta', 'alpha'].map((name) => ({ name, units: 4, bias: false })) }
    : env.MODEL && env.MODEL !== 'mlp'
      ? (JSON.parse(env.MODEL) as Spec)
      : { input: 4, layers: [{ name: 'hidden', units: 8 }, { name: 'out', units: 3 }] };

function buildModel(): tf.LayersModel {
  return withSeed(11, () =>
    tf.sequential({
      layers: spec.layers.map((l, i) =>
        tf.layers.dense({ ...(i === 0 ? { inputShape: [spec.input] } : {}), units: l.units, useBias: l.bias ?? true, activation: i < spec.layers.length - 1 ? 'tanh' : 'linear', name: l.name }),
      ),
    }),
  );
}

function optimizer(): tf.Optimizer {
  switch (env.OPT ?? 'adam') {
    case 'sgd':
      return tf.train.sgd(0.1);
    case 'momentum':
      return tf.train.momentum(0.05, 0.9);
    case 'rmsprop':
      return tf.train.rmsprop(0.01, 0.9, 0.5);
    case 'adagrad':
      return tf.train.adagrad(0.1);
    default:
      return tf.train.adam(0.01);
  }
}

function data(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const out = spec.layers[spec.layers.length - 1]!.units;
  const x = Array.from({ length: n }, (_, i) => Array.from({ length: spec.input }, (_, j) => Math.sin(i * 1.3 + j * 0.7)));
  const y = x.map((row, i) => Array.from({ length: out }, (_, k) => Math.cos(row[k % spec.input]! * 2 + k + (i % 3))));
  return { x: tf.tensor2d(x), y: tf.tensor2d(y) };
}

function trainer(model: tf.LayersModel, c: DistributedContext): Trainer {
  return createTrainer({ model, optimizer: optimizer(), loss: 'meanSquaredError', seed: 5, backend: 'cpu', log: null }).use(dataParallel(c, { log: null }));
}

/** Weights in the model's order (names get suffixes when one thread builds several models); float32 values survive JSON exactly. */
const weights = (model: tf.LayersModel): number[][] => model.weights.map((w) => Array.from(w.read().dataSync()));

let report: Record<string, unknown>;
const train = data();
const fitOptions = { batchSize: batch, handleSignals: false } as const;
if ((env.MODE ?? 'split') === 'split') {
  const full = buildModel();
  await trainer(full, ctx).fit(train, { ...fitOptions, epochs });
  const dir = join(env.CKPT!, 'split');
  const first = buildModel();
  const t1 = trainer(first, ctx);
  await t1.fit(train, { ...fitOptions, epochs: Number(env.SPLIT ?? 2) });
  if (ctx.isMain) await t1.saveCheckpoint(dir);
  ctx.comm.barrier();
  const resumed = buildModel(); // a fresh process would start here
  const r = await trainer(resumed, ctx).fit(train, { ...fitOptions, epochs, resumeFrom: dir });
  report = { rank: ctx.rank, full: weights(full), resumed: weights(resumed), step: r.step, names: first.weights.map((w) => w.name) };
} else {
  const model = buildModel();
  const t = trainer(model, ctx);
  const backup = backupAndRestore({ dir: env.BACKUP!, everySteps: Number(env.EVERY ?? 3) });
  t.use(env.SHARED ? backup : rankZero(ctx, backup));
  let resumedFrom: string | null = null;
  let firstStepAt: number | null = null;
  const [kind, failRank, failStep] = (env.FAIL ?? '::').split(':');
  const probe: Plugin = {
    name: 'test-probe',
    attach: (events$) =>
      events$.subscribe((e) => {
        if (e.type === 'fit:start') resumedFrom = e.resumedFrom ?? null;
        if (e.type !== 'step:end') return;
        firstStepAt ??= Date.now();
        if (env.PROBE) writeFileSync(join(env.PROBE, `rank-${ctx.rank}.json`), JSON.stringify({ pid: process.pid, step: e.step, restartCount: ctx.restartCount, at: Date.now() }));
        if (kind && Number(failRank) === ctx.rank && e.step === Number(failStep) && ctx.restartCount === 0) {
          writeFileSync(join(env.BACKUP!, `..`, `fault-at-${ctx.rank}`), String(Date.now()));
          if (kind === 'exit') process.exit(3);
          if (kind === 'kill') process.kill(process.pid, 'SIGKILL');
          if (kind === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
          if (kind === 'throw') throw new Error(`injected fault at step ${e.step}`);
          if (kind === 'spin') for (let i = 0; ; i++) void i;
        }
        if (env.STEP_DELAY_MS && ctx.restartCount === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(env.STEP_DELAY_MS));
      }),
  };
  t.use(probe);
  if (env.PROBE) mkdirSync(env.PROBE, { recursive: true });
  const r = await t.fit(train, { ...fitOptions, epochs }).catch((error: unknown) => {
    const e = error as { name?: string; message?: string; lostRanks?: readonly number[]; reason?: string };
    const record = { name: e.name, message: e.message, lostRanks: e.lostRanks ?? null, reason: e.reason ?? null, at: Date.now() };
    mkdirSync(join(env.BACKUP!, '..'), { recursive: true });
    writeFileSync(join(env.BACKUP!, '..', `error-${ctx.rank}-${ctx.restartCount}.json`), JSON.stringify(record));
    throw error;
  });
  report = { rank: ctx.rank, restartCount: ctx.restartCount, resumedFrom, step: r.step, reason: r.reason, weights: weights(model), startedAt: started, firstStepAt };
}
if (parentPort) parentPort.postMessage(report);
else {
  mkdirSync(env.FITSTREAM_TEST_OUT!, { recursive: true });
  writeFileSync(`${env.FITSTREAM_TEST_OUT}/rank-${ctx.rank}.json`, JSON.stringify(report));
}
ctx.close();
