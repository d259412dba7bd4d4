// One training replica for the tests, configured by environment variables:
// ALGO dp|local|easgd, N samples, BATCH per replica, EPOCHS, PERIOD (local SGD), LR_WARMUP linear-scaling warm-up steps,
// LR_COSINE total steps of a cosine base schedule (core's LearningRateBase, PyTorch CosineAnnealingLR to 0),
// FAIL kind:rank:step (exit | hang | kill), STOP rank:step, CKPT checkpoint dir (rank 0 writes every epoch),
// SKIP rank:step (a pre-reduce guard on that rank skips that update), VAL_N validation samples (each rank validates its
// evaluationShard of them; VAL_RANKS=0,… : only those ranks validate, on all rows), STOP_BELOW_VAL (stop at an epoch whose
// val_loss is not below it), EVAL_N (after the fit every rank evaluates its evaluationShard of EVAL_N other samples
// with evaluateAcrossReplicas; EVAL_NONE=rank: that rank has none; EVAL_BAD=rank: that rank passes mismatched data).
// VAL_SAME=1: every rank passes all VAL_N rows and dataParallel shards them (shardValidation); FORCE_SHARD=1: it shards
// even though the ranks pass their own evaluationShard (a misuse it must refuse). Otherwise shardValidation is off.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { findCheckpoint, GradientTransform, LearningRateBase, ofType, provide, type Plugin } from '@fitstream/core';
import * as tf from '@tensorflow/tfjs';
import { evaluationShard } from '@fitstream/samplers';
import { dataParallel, easgd, evaluateAcrossReplicas, init, localSGD, rankZero } from '../index.js';
import { buildModel, flatWeights, lrRecorder, makeData, makeTrainer } from './train-fixture.js';

const env = process.env;
const ctx = await init();
const algo = env.ALGO ?? 'dp';
const n = Number(env.N ?? 40);
const batch = Number(env.BATCH ?? 4);
const epochs = Number(env.EPOCHS ?? 4);
const model = buildModel(env.DIFFERENT_INIT ? 42 + ctx.rank : 42);
const trainer = makeTrainer(model, Number(env.LR ?? 0.5));
const lr = env.LR_WARMUP ? { scaling: 'linear' as const, warmupSteps: Number(env.LR_WARMUP) } : undefined;
const common = { log: null, ...(lr ? { lr } : {}) };
const plugin = algo === 'local' ? localSGD(ctx, { period: Number(env.PERIOD ?? 1), ...common }) : algo === 'easgd' ? easgd(ctx, { tau: Number(env.PERIOD ?? 1), ...common }) : dataParallel(ctx, { ...common, bucketBytes: Number(env.BUCKET_BYTES ?? 25 * 2 ** 20), shardValidation: env.VAL_SAME === '1' || env.FORCE_SHARD === '1' });
trainer.use(plugin);
if (env.LR_COSINE) {
  const total = Number(env.LR_COSINE);
  const cosine = { name: 'cosine', rate: (p: { step: number; initialLr: number }) => (p.initialLr * (1 + Math.cos((Math.PI * Math.min(p.step, total)) / total))) / 2 };
  trainer.use({ name: 'cosine', register: (r) => provide(r, LearningRateBase, cosine) });
}
const lrs: number[] = [];
trainer.use(lrRecorder(lrs));
const averaged: Record<string, number>[] = [];
const fault: Plugin = {
  name: 'test-faults',
  attach: (events$, control) =>
    events$.pipe(ofType('step:end')).subscribe((e) => {
      const [kind, rank, step] = (env.FAIL ?? '::').split(':');
      if (kind && Number(rank) === ctx.rank && e.step === Number(step) && ctx.restartCount === 0) {
        if (kind === 'exit') process.exit(3);
        if (kind === 'kill') process.kill(process.pid, 'SIGKILL');
        if (kind === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      }
      const [stopRank, stopStep] = (env.STOP ?? ':').split(':');
      if (stopRank && Number(stopRank) === ctx.rank && e.step === Number(stopStep)) control.stop('test stop');
    }),
};
trainer.use(fault);
if (env.STOP_BELOW_VAL) {
  // A stand-in for early stopping: stop when the epoch's (group) val_loss is not below the threshold.
  const threshold = Number(env.STOP_BELOW_VAL);
  trainer.use({ name: 'stop-on-val', attach: (events$, control) => events$.pipe(ofType('epoch:end')).subscribe((e) => {
    const v = (e.metrics as Record<string, number | undefined>)['val_loss'];
    if (v !== undefined && !(v < threshold)) control.stop('val_loss not below threshold');
  }) });
}
if (env.SKIP) {
  const [skipRank, skipStep] = env.SKIP.split(':').map(Number);
  trainer.use({
    name: 'test-pre-reduce-skip',
    register: (c) => provide(c, GradientTransform, { name: 'test-pre-reduce-skip', stage: 'pre-reduce', transform: (g, gctx) => (ctx.rank === skipRank && gctx.step === skipStep ? null : g) }),
  });
}
trainer.use({ name: 'averaged', attach: (events$) => events$.pipe(ofType('distributed:epochEnd')).subscribe((e) => averaged.push({ ...e.metrics })) });
if (env.CKPT) trainer.use(rankZero(ctx, { name: 'checkpoint-every-epoch', attach: (events$, control) => events$.pipe(ofType('epoch:end')).subscribe(() => control.requestCheckpoint('epoch')) }));
const resumeFrom = env.CKPT && ctx.restartCount > 0 ? await findCheckpoint(env.CKPT) : undefined;
const data = makeData(n);
let validation: { x: tf.Tensor2D; y: tf.Tensor2D } | undefined;
if (env.VAL_N && (env.VAL_RANKS === undefined || env.VAL_RANKS.split(',').map(Number).includes(ctx.rank))) {
  const all = makeData(Number(env.VAL_N), 1000);
  // Every validating rank takes its evaluationShard; with VAL_RANKS, the listed ranks validate all rows.
  const rows = env.VAL_RANKS === undefined && env.VAL_SAME !== '1' ? evaluationShard(Number(env.VAL_N), { rank: ctx.rank, worldSize: ctx.worldSize }) : Int32Array.from({ length: Number(env.VAL_N) }, (_, i) => i);
  const mine = tf.tensor1d(rows, 'int32');
  validation = { x: tf.gather(all.x, mine), y: tf.gather(all.y, mine) };
  tf.dispose([all.x, all.y, mine]);
}
const validationBatchSize = Number(env.VAL_BATCH ?? 4);
const result = await trainer.fit(data, { epochs, batchSize: batch, handleSignals: false, ...(validation ? { validation, validationBatchSize } : {}), ...(env.CKPT ? { checkpointDir: env.CKPT } : {}), ...(resumeFrom ? { resumeFrom } : {}) });
let evaluated: Record<string, number> | null = null;
let evalError: string | null = null;
if (env.EVAL_N) {
  const all = makeData(Number(env.EVAL_N), 2000);
  const rows = tf.tensor1d(evaluationShard(Number(env.EVAL_N), ctx), 'int32');
  const part =
    Number(env.EVAL_NONE ?? -1) === ctx.rank ? undefined : Number(env.EVAL_BAD ?? -1) === ctx.rank ? { x: tf.gather(all.x, rows), y: tf.ones([1, 3]) } : { x: tf.gather(all.x, rows), y: tf.gather(all.y, rows) };
  try {
    evaluated = { ...(await evaluateAcrossReplicas(ctx, trainer, part)) };
  } catch (error) {
    evalError = (error as Error).message;
  }
  tf.dispose([all.x, all.y, rows, ...(part ? [part.x, part.y] : [])]);
}
const report = {
  evaluated,
  evalError,
  rank: ctx.rank,
  size: ctx.worldSize,
  restartCount: ctx.restartCount,
  resumedFrom: resumeFrom ?? null,
  weights: flatWeights(model),
  centre: algo === 'easgd' ? Array.from((plugin as ReturnType<typeof easgd>).centre() ?? []) : null,
  step: result.step,
  reason: result.reason,
  loss: result.history.logs.loss ?? [],
  valLoss: result.history.logs.val_loss ?? [],
  averaged,
  lrs,
  stats: 'stats' in plugin ? plugin.stats : null,
};
if (parentPort) parentPort.postMessage(report);
else {
  mkdirSync(env.FITSTREAM_TEST_OUT!, { recursive: true });
  writeFileSync(`${env.FITSTREAM_TEST_OUT}/rank-${ctx.rank}.json`, JSON.stringify(report));
}
ctx.close();
