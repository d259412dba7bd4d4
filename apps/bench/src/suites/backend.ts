/**
 * The `backend` suite: fitstream's wasm backend (wasm + fitstream's kernels + fused optimizer updates, what
 * `selectBackend({ prefer: 'wasm' })` gives) driving fitstream's trainer, against stock tfjs `model.fit` on the stock
 * cpu backend and on stock wasm (fitstream's kernels uninstalled for that contender) and against Keras 3 `model.fit`
 * on TensorFlow's CPU build (a Python peer, best of 1 and 2 threads; skipped with the reason when Python lacks
 * tensorflow or keras), plus the distance to the matMul floor, matMul GFLOP/s per backend, and before/after micro
 * rows for the kernels of this work (gather, slice, fused Adam).
 *
 * Per model (MLP 784-256-256-10, small CNN, LSTM(64) on 32×4, large CNN conv32-conv64-pool-dense128, GRU(64) on
 * 32×4; batch 64, Adam 1e-3), contenders are interleaved in rounds (one untimed warm-up round), each round one epoch
 * per contender, sized so that a round takes ≈0.3–3 s per contender (the cpu contenders get few steps: a cpu CNN step
 * takes seconds). A ratio is the median over rounds of the per-round ratio, so machine drift hits both sides alike.
 * The CNNs have no stock-wasm contender: stock wasm cannot train them (no Conv2DBackpropFilter); the large CNN has no
 * cpu contender either (a cpu step of its 1.4 GFLOP forward pass takes tens of seconds).
 *
 * Then a step profile per model (step-profile.ts): the share of one fitstream step spent outside kernels and the
 * kernels dispatched per step, measured apart from the timed rounds (the kernel timers cost a little).
 */
import * as tf from '@tensorflow/tfjs';
import { wasmMatMulThreads } from '@fitstream/backend-wasm';
import { applyOptimizerUpdate, selectBackend } from '@fitstream/core';
import { KERAS_STEPS, kerasContenders, startKerasPeers, type KerasContenderId } from '../keras/keras-contenders.js';
import type { KerasPeer } from '../keras/keras-peer.js';
import { median, pairedRatio, round, rowCollector, type BenchRow, type SuiteResult } from '../rows.js';
import { measureRounds, modelFitContender, quickSteps, trainerContender, useBackend, type Contender } from './contenders.js';
import { matMulRows, seconds } from './matmul.js';
import { BATCH, LEARNING_RATE, MODELS, type ModelName, type ModelSpec } from './models.js';
import { profileSteps } from './step-profile.js';

export interface BackendSuiteOptions {
  /** Smoke run: one timed round, fewest steps, fewer matMul sizes. Checks that it works, not speed. */
  readonly quick: boolean;
  /** Timed rounds per group of contenders (default {@link DEFAULT_ROUNDS}; one with `quick`). */
  readonly rounds?: number | undefined;
  readonly log: (line: string) => void;
}

/**
 * Timed rounds per model and group: five, because this 2-core VM has slow phases that move a round by up to ±15 %
 * within a minute (MLP rounds of one run: 277–316 steps/s); the median of three was at the mercy of one such round.
 */
export const DEFAULT_ROUNDS = 5;

/**
 * Seconds every contender trains in untimed warm-up rounds before the timed ones (one round with `quick`): Keras
 * traces its graph in its first round, and fitstream's MLP took ≈ 1000 steps in one process to settle (rounds of 96
 * steps climbed from ≈ 300 to ≈ 370 steps/s, which one round did not cover; not the young generation's size nor wasm
 * tiering: `--min-semi-space-size` and `--no-liftoff` changed nothing).
 */
export const WARM_UP_SECONDS = 2;

/**
 * `matmul_floor`: the MLP step's matMuls alone (see {@link matMulFloorSeconds}), timed in the same rounds as the rest.
 * `fitstream_xnnpack`: fitstream with its large matMuls on XNNPACK instead of the own GEMM (what the GEMM gains).
 */
type ContenderId = 'fitstream' | 'fitstream_xnnpack' | 'tfjs_cpu' | 'tfjs_wasm' | 'matmul_floor';

/**
 * Steps per round of each contender (one epoch = steps × 64 samples): ≈0.3–3 s a round; a cpu CNN step takes seconds.
 * fitstream's rounds have as many steps as the Keras peer's (KERAS_STEPS), so that each side's per-fit cost (set-up,
 * the first steps' warm-up) weighs alike in the ratio: with 16 steps against Keras's 48, an LSTM round measured ≈ 12 ms
 * a step where a longer run settles at ≈ 9.5.
 */
const STEPS: Readonly<Record<ModelName, Partial<Record<ContenderId, number>>>> = {
  mlp: { fitstream: KERAS_STEPS.mlp, fitstream_xnnpack: KERAS_STEPS.mlp, tfjs_cpu: 4, tfjs_wasm: 16, matmul_floor: 20 },
  cnn: { fitstream: KERAS_STEPS.cnn, tfjs_cpu: 1 },
  lstm: { fitstream: KERAS_STEPS.lstm, fitstream_xnnpack: KERAS_STEPS.lstm, tfjs_cpu: 2, tfjs_wasm: 8 },
  cnn_large: { fitstream: KERAS_STEPS.cnn_large, fitstream_xnnpack: KERAS_STEPS.cnn_large },
  gru: { fitstream: KERAS_STEPS.gru, tfjs_cpu: 2, tfjs_wasm: 8 },
};

/** Issue 18's goals for fitstream (wasm) ÷ Keras 3 `model.fit` on TensorFlow's CPU build. */
const KERAS_GOALS: Readonly<Record<ModelName, number>> = { mlp: 0.9, cnn: 1.0, lstm: 1.0, cnn_large: 1.0, gru: 1.0 };

/** Minimum fitstream ÷ stock tfjs `model.fit` per stock backend; models without one get an informational ratio row. */
const TFJS_TARGETS: Readonly<Record<'cpu' | 'wasm', Partial<Record<ModelName, number>>>> = {
  cpu: { mlp: 15, cnn: 30, lstm: 8 },
  wasm: { mlp: 3, lstm: 2 },
};

/** Steps of the profiled epoch per model (after an untimed warm-up epoch). */
const PROFILE_STEPS: Readonly<Record<ModelName, number>> = { mlp: 32, cnn: 8, lstm: 4, cnn_large: 2, gru: 4 };

/** fitstream's trainer on wasm with fitstream's kernels, or stock tfjs `model.fit` on cpu or stock wasm. */
function contender(id: Exclude<ContenderId, 'matmul_floor'>, spec: ModelSpec, steps: number): Promise<Contender<ContenderId>> {
  if (id === 'fitstream' || id === 'fitstream_xnnpack') return trainerContender(id, spec, steps, 'wasm', id === 'fitstream');
  return modelFitContender(id, spec, steps, id === 'tfjs_cpu' ? 'cpu' : 'wasm');
}

function matMulFloorContender(steps: number): Contender<ContenderId> {
  return {
    id: 'matmul_floor',
    async round() {
      await useBackend('wasm', true);
      return 1 / matMulFloorSeconds(steps);
    },
    dispose() {},
  };
}

/** Contenders whose rounds end the own GEMM's worker (stock kernels, or `ownGemm: false`): a new one starts after them. */
const RESTARTS_WORKER: ReadonlySet<ContenderId> = new Set(['fitstream_xnnpack', 'tfjs_wasm']);

/**
 * Interleaved rounds of one model's contenders, in two groups: fitstream against stock tfjs on cpu and Keras's peers,
 * then fitstream against the contenders that switch fitstream's kernels off (stock tfjs on wasm, fitstream with
 * `ownGemm: false`), where they exist. Returns per-round steps/s by contender; `fitstream_restarted` holds fitstream's
 * rounds of the second group (what its ratios to those contenders pair with).
 *
 * Why two groups: switching fitstream's kernels off and on ends the own GEMM's worker thread and starts a new one,
 * whose code then runs cold through the next round (an LSTM round of 48 steps ≈ 12 % slower, measured). Training
 * never pays that; a round of fitstream right after one of those would, and would be compared with Keras's warm
 * process.
 */
async function measureModel(spec: ModelSpec, peers: readonly KerasPeer[], rounds: number, quick: boolean, log: (line: string) => void) {
  const factory = (id: ContenderId) => {
    const n = quickSteps(STEPS[spec.name][id]!, quick);
    return () => Promise.resolve(id === 'matmul_floor' ? matMulFloorContender(n) : contender(id, spec, n));
  };
  const ids = Object.keys(STEPS[spec.name]) as ContenderId[];
  const warm = ids.filter((id) => !RESTARTS_WORKER.has(id)).map(factory);
  const warmUp = quick ? 0 : WARM_UP_SECONDS;
  const perRound = await measureRounds<ContenderId | KerasContenderId>(`backend suite: ${spec.name}`, [...warm, ...kerasContenders(peers, spec, quick)], rounds, log, warmUp);
  const restarting = ids.filter((id) => RESTARTS_WORKER.has(id));
  if (restarting.length === 0) return { ...perRound, fitstream_restarted: undefined };
  const second = await measureRounds<ContenderId>(`backend suite: ${spec.name} (with fitstream's kernels off and on)`, ['fitstream' as const, ...restarting].map(factory), rounds, log, warmUp);
  return { ...perRound, ...second, fitstream: perRound.fitstream, fitstream_restarted: second.fitstream };
}

/** Seconds per step of the MLP step's matMuls alone (3 forward, 3 dW = Xᵀ·dY, 2 dX = dY·Wᵀ), on the active backend. */
function matMulFloorSeconds(perRound: number): number {
  const dims = [784, 256, 256, 10];
  // Every step gets operands it has never seen, as a training step does: its weights are new tensors after each update
  // and its activations and gradients are new too. Reusing one set would let the wasm backend reuse the XNNPACK
  // operators (and packed weights) it caches per right-hand operand — a speed no training step can have — and make the
  // floor unreachably fast. Operand sets are made before the timed loop, which times only the matMuls.
  const operands = () => ({
    acts: dims.slice(0, 3).map((d) => tf.randomNormal([BATCH, d])),
    weights: dims.slice(0, 3).map((d, i) => tf.randomNormal([d, dims[i + 1]!])),
    grads: dims.slice(1).map((d) => tf.randomNormal([BATCH, d])),
  });
  const step = ({ acts, weights, grads }: ReturnType<typeof operands>): void => {
    const out = tf.tidy(() => {
      const results: tf.Tensor[] = [];
      for (let i = 0; i < 3; i++) results.push(tf.matMul(acts[i]!, weights[i]!)); // forward
      for (let i = 0; i < 3; i++) results.push(tf.matMul(acts[i]!, grads[i]!, true, false)); // dW
      for (let i = 1; i < 3; i++) results.push(tf.matMul(grads[i]!, weights[i]!, false, true)); // dX (no dX for the input layer)
      return tf.addN(results.map((r) => tf.sum(r)));
    });
    out.dataSync();
    out.dispose();
  };
  const rounds = 2;
  const warmUp = operands(); // kernel setup, memory growth
  step(warmUp);
  tf.dispose([...warmUp.acts, ...warmUp.weights, ...warmUp.grads]);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const sets = Array.from({ length: perRound }, operands);
    const start = performance.now();
    for (const set of sets) step(set);
    times.push((performance.now() - start) / 1000 / perRound);
    for (const set of sets) tf.dispose([...set.acts, ...set.weights, ...set.grads]);
  }
  return median(times);
}

/** ms per call of `fn` on wasm with stock kernels and with fitstream's, interleaved. */
async function beforeAfter(name: string, make: () => { run: () => void; dispose: () => void }, quick: boolean): Promise<BenchRow[]> {
  const times: Record<'stock' | 'fitstream', number[]> = { stock: [], fitstream: [] };
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    for (const kind of ['stock', 'fitstream'] as const) {
      await useBackend('wasm', kind === 'fitstream');
      const { run, dispose } = make();
      const reps = quick ? 5 : 40;
      times[kind].push(
        (seconds(() => {
          for (let i = 0; i < reps; i++) run();
        }, 3) /
          reps) *
          1000,
      );
      dispose();
    }
  }
  const stock = median(times.stock);
  const ours = median(times.fitstream);
  return [
    { name: `${name}_ms_stock_wasm`, value: round(stock), unit: 'ms' },
    { name: `${name}_ms_fitstream`, value: round(ours), unit: 'ms' },
    { name: `${name}_speedup`, value: round(stock / ours), unit: 'ratio' },
  ];
}

function microCases(): Array<[string, () => { run: () => void; dispose: () => void }]> {
  const gather = () => {
    const x = tf.randomNormal([2048, 784]);
    const indices = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 613) % 2048), 'int32');
    return { run: () => tf.gather(x, indices).dispose(), dispose: () => tf.dispose([x, indices]) };
  };
  const slice = () => {
    const x = tf.randomNormal([10000, 784]);
    let k = 0;
    return { run: () => tf.slice(x, [(k++ % 150) * BATCH, 0], [BATCH, 784]).dispose(), dispose: () => x.dispose() };
  };
  // One Adam update of the MLP's 269 k parameters (6 variables), as the trainer applies it.
  const adam = () => {
    const shapes = [[784, 256], [256], [256, 256], [256], [256, 10], [10]];
    const variables = shapes.map((s) => tf.variable(tf.randomNormal(s)));
    const grads = Object.fromEntries(variables.map((v) => [v.name, tf.randomNormal(v.shape)]));
    const optimizer = tf.train.adam(LEARNING_RATE);
    return {
      run: () => applyOptimizerUpdate(optimizer, grads),
      dispose: () => {
        optimizer.dispose();
        tf.dispose([...variables, ...Object.values(grads)]);
      },
    };
  };
  return [
    ['gather_64x784', gather],
    ['slice_64x784_of_10000', slice],
    ['adam_update_mlp', adam],
  ];
}

/** Runs the suite; leaves wasm active with fitstream's kernels installed (what `selectBackend({ prefer: 'wasm' })` gives). */
export async function backendSuite(options: BackendSuiteOptions): Promise<SuiteResult> {
  const { log, quick } = options;
  // Explicitly wasm: with tfjs-node built, the automatic choice is the native backend (the `native` suite's subject).
  const selection = await selectBackend({ prefer: 'wasm', log });
  if (selection.backend !== 'wasm') throw new Error(`backend suite: needs the wasm backend, selectBackend chose ${selection.backend}`);
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  await tf.setBackend('wasm');
  const gemm = await wasmMatMulThreads();
  log(`backend suite: matMuls on the own GEMM, large ones on ${gemm.threads} thread(s)${gemm.reason === undefined ? '' : ` (${gemm.reason})`}`);
  const out = rowCollector();
  const rounds = quick ? 1 : (options.rounds ?? DEFAULT_ROUNDS);
  const oursByModel: Partial<Record<string, number[]>> = {};
  const floorRounds: Partial<Record<string, number[]>> = {};
  const keras = await startKerasPeers('backend', log);
  try {
    for (const spec of MODELS) {
      const perRound = await measureModel(spec, keras.peers, rounds, quick, log);
      const ours = perRound.fitstream ?? [];
      oursByModel[spec.name] = ours;
      if (perRound.matmul_floor) floorRounds[spec.name] = perRound.matmul_floor;
      out.add(`fitstream_steps_per_s_${spec.name}`, median(ours), 'steps/s');
      const xnnpack = perRound.fitstream_xnnpack;
      const restarted = perRound.fitstream_restarted ?? [];
      if (xnnpack) out.add(`own_gemm_gain_${spec.name}`, pairedRatio(restarted, xnnpack), 'ratio', 'fitstream with its large matMuls on the own two-thread GEMM ÷ on XNNPACK (ownGemm: false), paired rounds of the second group');
      for (const [id, label] of [['tfjs_cpu', 'cpu'], ['tfjs_wasm', 'wasm']] as const) {
        const theirs = perRound[id];
        if (!theirs) continue;
        out.add(`tfjs_${label}_fit_steps_per_s_${spec.name}`, median(theirs), 'steps/s');
        const min = TFJS_TARGETS[label][spec.name];
        const ratio = pairedRatio(RESTARTS_WORKER.has(id) ? restarted : ours, theirs);
        if (min === undefined) out.add(`fitstream_vs_tfjs_${label}_${spec.name}`, ratio, 'ratio', 'informational');
        else out.target(`fitstream_vs_tfjs_${label}_${spec.name}`, ratio, min);
      }
      const best = keras.best(spec.name, perRound);
      if (!best) continue;
      out.add(`keras_steps_per_s_${spec.name}`, median(best.perRound), 'steps/s', best.remark);
      out.target(`fitstream_vs_keras_${spec.name}`, pairedRatio(ours, best.perRound), KERAS_GOALS[spec.name], 'goal (issue 18)');
    }

    for (const spec of MODELS) {
      const profile = await profileSteps(spec, quickSteps(PROFILE_STEPS[spec.name], quick));
      const top = profile.byKernel.slice(0, 3).map((k) => `${k.name} ${k.ms.toFixed(2)} ms × ${round(k.calls, 3)}`).join(', ');
      log(`backend suite: step profile ${spec.name}: ${profile.stepMs.toFixed(2)} ms/step, ${profile.kernelMs.toFixed(2)} ms in ${profile.dispatches} kernels; top: ${top}`);
      out.add(`step_ms_${spec.name}`, profile.stepMs, 'ms');
      out.add(`step_outside_kernels_share_${spec.name}`, profile.outsideShare, 'share', `kernels ${profile.kernelMs.toFixed(2)} ms of ${profile.stepMs.toFixed(2)} (medians); costliest kernels, mean per step over the epoch incl. batch assembly: ${top}`);
      out.add(`step_dispatches_${spec.name}`, profile.dispatches, 'kernels/step');
    }

    const floor = floorRounds.mlp ?? [];
    out.add('matmul_floor_steps_per_s_mlp', median(floor), 'steps/s');
    out.target('trainer_vs_matmul_floor_mlp', pairedRatio(oursByModel.mlp ?? [], floor), 0.5);

    for (const [name, make] of microCases()) out.rows.push(...(await beforeAfter(name, make, quick)));

    const sizes = quick ? [128] : [512, 1024];
    await useBackend('cpu', false);
    out.rows.push(...matMulRows('cpu', sizes));
    await useBackend('wasm', false);
    out.rows.push(...matMulRows('stock_wasm', sizes));
    await useBackend('wasm', true);
    out.rows.push(...matMulRows('fitstream_wasm', sizes));
  } finally {
    await keras.close();
    await useBackend('wasm', true);
  }
  return out.result('backend', [
    "fitstream = createTrainer on selectBackend({ prefer: 'wasm' }) (wasm + fitstream kernels + fused optimizer updates); tfjs = model.fit on stock backends",
    `batch ${BATCH}, Adam ${LEARNING_RATE}; ${rounds} interleaved timed round(s) after untimed warm-up rounds (each contender ≥ ${quick ? 0 : WARM_UP_SECONDS} s, at least one round); ratios are medians of per-round ratios`,
    'step profile = fitstream on wasm, batch:start → step:end of one epoch after a warm-up epoch (medians over its steps); outside kernels = step wall time − time inside the kernel functions (engine, tape, JavaScript); kernels = dispatches through the engine',
    'matmul floor = the MLP step’s 8 matMuls (3 forward, 3 dW, 2 dX) with the same shapes on fitstream wasm, on operands new to every step as in training, timed in the same interleaved rounds as the trainer (ratio = median of per-round ratios)',
    `own GEMM: fitstream's unbatched matMuls in place, the large ones (≥ 2²² multiply-adds, ≥ 32 per float copied) split on ${gemm.threads} thread(s)${gemm.reason === undefined ? '' : ` (${gemm.reason})`}; own_gemm_gain = fitstream ÷ fitstream with them on XNNPACK`,
    "rounds in two groups per model: fitstream with tfjs cpu, the matmul floor and Keras; then fitstream with the contenders that switch fitstream's kernels off (tfjs wasm, ownGemm: false), whose ratios pair with this group's fitstream rounds — switching them back on restarts the own GEMM's worker, which runs cold through the next round (a cost training does not pay)",
    ...keras.notes,
  ]);
}
