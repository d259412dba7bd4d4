/**
 * The `trainer` suite: fitstream's trainer against `model.fit` and a bare `optimizer.minimize` loop, on the same
 * backend, the same MLP with the same initial weights, the same data, batch size and optimizer.
 *
 * Each contender trains one epoch per round; rounds interleave the contenders (rotating who goes first) so that drift
 * in the machine's speed hits all of them alike. One warm-up round is not timed. A contender's steps/s is the median
 * over the timed rounds; a ratio is the median of the per-round ratios (paired, so a slow round counts against both).
 */
import * as tf from '@tensorflow/tfjs';
import { installCpuKernels, installWasmKernels, uninstallCpuKernels, uninstallWasmKernels, type WasmKernelReport } from '@fitstream/backend-wasm';
import { createTrainer, ofType, selectBackend, withSeed, type Trainer } from '@fitstream/core';
import { median, round, type BenchRow, type SuiteResult } from '../rows.js';

export type TrainerBackend = 'wasm' | 'cpu';

export interface TrainerSuiteOptions {
  readonly backend: TrainerBackend;
  /** Short smoke run: few samples, two timed rounds, no time floor. */
  readonly quick: boolean;
  /** Timed rounds; default adaptive (at least 5 on wasm, 3 on cpu, and until every contender has run ≥ 3 s). */
  readonly rounds?: number | undefined;
  /** Training samples (default 2048; 256 with `quick`). */
  readonly samples?: number | undefined;
  /** Install fitstream's training kernels (`@fitstream/backend-wasm`: its wasm kernels on wasm, its cpu kernels on cpu; default true). */
  readonly fitstreamKernels: boolean;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
}

const INPUTS = 784;
const HIDDEN = 256;
const CLASSES = 10;
const BATCH = 64;
const LEARNING_RATE = 1e-3;
const SEED = 42;
const MIN_SECONDS = 3;
const MAX_ROUNDS = 30;

type ContenderId = 'trainer' | 'model_fit' | 'bare_loop';

interface Contender {
  readonly id: ContenderId;
  readonly label: string;
  /** Trains epoch `epoch` (one pass over the data) and returns when its work is done. */
  runEpoch(epoch: number): Promise<void>;
  dispose(): void;
}

/** The MLP 784-256-256-10 (relu, relu, softmax). */
function buildMlp(name: string): tf.Sequential {
  const model = tf.sequential({ name });
  model.add(tf.layers.dense({ inputShape: [INPUTS], units: HIDDEN, activation: 'relu' }));
  model.add(tf.layers.dense({ units: HIDDEN, activation: 'relu' }));
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax' }));
  return model;
}

/**
 * Seeded features in [0, 1) with labels from a random linear teacher (argmax of x·W), so the task is learnable and
 * the accuracy the subscriber reads means something. Speed does not depend on the values.
 */
function makeData(samples: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return withSeed(SEED, () =>
    tf.tidy(() => {
      const x = tf.randomUniform([samples, INPUTS], 0, 1, 'float32') as tf.Tensor2D;
      const teacher = tf.randomNormal([INPUTS, CLASSES]);
      const logits = tf.matMul(tf.sub(x, 0.5), teacher);
      const y = tf.oneHot(tf.argMax(logits, 1) as tf.Tensor1D, CLASSES).toFloat() as tf.Tensor2D;
      return { x, y };
    }),
  );
}

/** A fresh MLP holding `weights` (copied into its own variables). */
function cloneModel(name: string, weights: readonly tf.Tensor[]): tf.Sequential {
  const model = withSeed(SEED, () => buildMlp(name));
  model.setWeights(weights as tf.Tensor[]);
  return model;
}

/** (a) fitstream: a realistic configuration with an accuracy metric and one epoch:end subscriber. */
function trainerContender(model: tf.LayersModel, data: { x: tf.Tensor; y: tf.Tensor }, leaks: number[]): Contender {
  const trainer: Trainer<'accuracy'> = createTrainer({
    model,
    optimizer: { name: 'adam', learningRate: LEARNING_RATE },
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
    seed: SEED,
    backend: 'current',
    log: null,
  });
  let lastAccuracy = Number.NaN;
  const subscription = trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => {
    lastAccuracy = e.metrics.accuracy;
  });
  return {
    id: 'trainer',
    label: 'fitstream trainer',
    async runEpoch(epoch) {
      const before = tf.memory().numTensors;
      await trainer.fit(data, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: true, handleSignals: false });
      leaks.push(tf.memory().numTensors - before);
      if (!Number.isFinite(lastAccuracy)) throw new Error('trainer suite: the epoch:end subscriber saw no accuracy.');
    },
    dispose() {
      subscription.unsubscribe();
      trainer.dispose();
    },
  };
}

/** (b) tfjs `model.fit` with the accuracy metric. */
function modelFitContender(model: tf.LayersModel, data: { x: tf.Tensor; y: tf.Tensor }): Contender {
  const optimizer = tf.train.adam(LEARNING_RATE);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return {
    id: 'model_fit',
    label: 'tfjs model.fit',
    async runEpoch(epoch) {
      await model.fit(data.x, data.y, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, verbose: 0, shuffle: true });
    },
    dispose() {
      optimizer.dispose();
    },
  };
}

/** (c) A bare loop: pre-sliced batches, `optimizer.minimize`, no metric readback, no events, no shuffle. */
function bareLoopContender(model: tf.LayersModel, data: { x: tf.Tensor; y: tf.Tensor }): Contender {
  const optimizer = tf.train.adam(LEARNING_RATE);
  const samples = data.x.shape[0]!;
  const batches: { x: tf.Tensor; y: tf.Tensor }[] = [];
  for (let start = 0; start < samples; start += BATCH) {
    const size = Math.min(BATCH, samples - start);
    batches.push({ x: data.x.slice(start, size), y: data.y.slice(start, size) });
  }
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    id: 'bare_loop',
    label: 'bare minimize loop',
    async runEpoch() {
      for (const b of batches) {
        optimizer.minimize(
          () => tf.mean(tf.metrics.categoricalCrossentropy(b.y, model.apply(b.x, { training: true }) as tf.Tensor)) as tf.Scalar,
          false,
          variables,
        );
      }
      // One tiny read per epoch (as fit and the trainer do) so that asynchronous backends finish the epoch's work.
      const probe = tf.tidy(() => tf.sum(variables[variables.length - 1]!));
      await probe.data();
      probe.dispose();
    },
    dispose() {
      optimizer.dispose();
      tf.dispose(batches.flatMap((b) => [b.x, b.y]));
    },
  };
}

/**
 * Makes the kernel registry what was asked: fitstream's training kernels (what `selectBackend` installs by default:
 * on wasm its wasm kernels, on cpu its cpu kernels) or stock tfjs (`--kernels native`). Returns a description for the
 * table.
 */
function settleKernels(wanted: boolean, selection: { wasmKernels: WasmKernelReport | undefined; cpuKernels?: WasmKernelReport | undefined }): string {
  if (tf.getBackend() === 'cpu') {
    if (!wanted) {
      uninstallCpuKernels(tf);
      return 'stock tfjs cpu (--kernels native)';
    }
    const report = selection.cpuKernels ?? installCpuKernels(tf);
    return `fitstream cpu kernels (replaced: ${report.replaced.join(', ') || 'none'}; added: ${report.registered.length})`;
  }
  const installedBySelect = selection.wasmKernels;
  if (!wanted) {
    uninstallWasmKernels(tf);
    return 'stock tfjs-backend-wasm (--kernels native)';
  }
  // selectBackend installed them (the bench depends on @fitstream/backend-wasm); installing again is a no-op.
  const report = installedBySelect ?? installWasmKernels(tf);
  return `fitstream (replaced: ${report.replaced.join(', ') || 'none'}; added: ${report.registered.length})`;
}

/** Runs the trainer suite. */
export async function trainerSuite(options: TrainerSuiteOptions): Promise<SuiteResult> {
  const { log } = options;
  const selection = await selectBackend({ prefer: options.backend, log, wasmKernels: options.fitstreamKernels, cpuKernels: options.fitstreamKernels });
  if (selection.backend !== options.backend) {
    throw new Error(`trainer suite: asked for backend ${options.backend} but got ${selection.backend}.`);
  }
  const kernels = settleKernels(options.fitstreamKernels, selection);

  const samples = options.samples ?? (options.quick ? 256 : 2048);
  const stepsPerEpoch = Math.ceil(samples / BATCH);
  const fixedRounds = options.rounds ?? (options.quick ? 2 : undefined);
  const minRounds = fixedRounds ?? (options.backend === 'cpu' ? 3 : 5);
  const maxRounds = fixedRounds ?? MAX_ROUNDS;
  const minSeconds = fixedRounds !== undefined ? 0 : MIN_SECONDS;

  const data = makeData(samples);
  const reference = withSeed(SEED, () => buildMlp('reference'));
  const initial = reference.getWeights().map((w) => w.clone());
  reference.dispose();

  const trainerLeaks: number[] = [];
  const contenders: Contender[] = [
    trainerContender(cloneModel('trainer', initial), data, trainerLeaks),
    modelFitContender(cloneModel('model_fit', initial), data),
    bareLoopContender(cloneModel('bare_loop', initial), data),
  ];
  tf.dispose(initial);

  const perRound: Record<ContenderId, number[]> = { trainer: [], model_fit: [], bare_loop: [] };
  const totalSeconds: Record<ContenderId, number> = { trainer: 0, model_fit: 0, bare_loop: 0 };
  try {
    log(
      `trainer suite: backend ${selection.backend}, kernels ${kernels}; MLP ${INPUTS}-${HIDDEN}-${HIDDEN}-${CLASSES}, ` +
        `${samples} samples, batch ${BATCH} (${stepsPerEpoch} steps/epoch), Adam ${LEARNING_RATE}`,
    );
    // Round 0 warms up every contender (kernel setup, optimizer slots, JIT) and is not timed.
    for (let round = 0; ; round++) {
      const timed = round > 0;
      const first = round % contenders.length;
      const order = [...contenders.slice(first), ...contenders.slice(0, first)];
      const parts: string[] = [];
      for (const c of order) {
        const started = performance.now();
        await c.runEpoch(round);
        const seconds = (performance.now() - started) / 1000;
        parts.push(`${c.label} ${(stepsPerEpoch / seconds).toFixed(1)}`);
        if (timed) {
          perRound[c.id].push(stepsPerEpoch / seconds);
          totalSeconds[c.id] += seconds;
        }
      }
      log(`  ${timed ? `round ${round}` : 'warm-up'}: ${parts.join(', ')} steps/s`);
      const done = round >= minRounds && Object.values(totalSeconds).every((s) => s >= minSeconds);
      if (done || round >= maxRounds) break;
    }
  } finally {
    for (const c of contenders) c.dispose();
    tf.dispose([data.x, data.y]);
  }

  const timedRounds = perRound.trainer.length;
  const pairedRatio = (theirs: ContenderId) => median(perRound.trainer.map((ours, i) => ours / perRound[theirs][i]!));
  const leakedPerEpoch = trainerLeaks.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, trainerLeaks.length - 1);
  const rows: BenchRow[] = [
    { name: 'trainer_steps_per_s', value: round(median(perRound.trainer)), unit: 'steps/s' },
    { name: 'model_fit_steps_per_s', value: round(median(perRound.model_fit)), unit: 'steps/s' },
    { name: 'bare_loop_steps_per_s', value: round(median(perRound.bare_loop)), unit: 'steps/s' },
    { name: 'trainer_vs_model_fit', value: round(pairedRatio('model_fit'), 3), unit: 'ratio' },
    { name: 'trainer_vs_bare_loop', value: round(pairedRatio('bare_loop'), 3), unit: 'ratio' },
    { name: 'tensors_leaked_per_epoch', value: round(leakedPerEpoch), unit: 'tensors/epoch' },
  ];
  const target = (name: string, min: number) => {
    const value = rows.find((r) => r.name === name)!.value;
    return `target ≥ ${min.toFixed(1)}: ${value >= min ? 'met' : 'MISSED'}`;
  };
  return {
    suite: 'trainer',
    rows,
    notes: [
      `backend ${selection.backend}; kernels: ${kernels}`,
      `MLP ${INPUTS}-${HIDDEN}-${HIDDEN}-${CLASSES} (relu, softmax), same initial weights; ${samples} samples, batch ${BATCH} ` +
        `(${stepsPerEpoch} steps/epoch), Adam ${LEARNING_RATE}`,
      `${timedRounds} timed epochs per contender after 1 warm-up, interleaved; steps/s = median epoch; ratio = median of per-round ratios`,
    ],
    remarks: {
      trainer_vs_model_fit: target('trainer_vs_model_fit', 1.0),
      trainer_vs_bare_loop: target('trainer_vs_bare_loop', 0.9),
      tensors_leaked_per_epoch: leakedPerEpoch === 0 ? 'must be 0: ok' : 'must be 0: LEAK',
    },
  };
}
