/**
 * The `backend` suite: fitstream's default backend (wasm + fitstream's kernels + fused optimizer updates, what
 * `selectBackend()` gives) driving fitstream's trainer, against stock tfjs `model.fit` on the stock cpu backend and on
 * stock wasm (fitstream's kernels uninstalled for that contender), plus the distance to the matMul floor, matMul
 * GFLOP/s per backend, and before/after micro rows for the kernels of this work (gather, slice, fused Adam).
 *
 * Per model (MLP 784-256-256-10, small CNN, LSTM(64) on 32×4; batch 64, Adam 1e-3), contenders are interleaved in
 * rounds (one untimed warm-up round), each round one epoch per contender, sized so that a round takes ≈0.3–3 s per
 * contender (the cpu contenders get few steps: a cpu CNN step takes seconds). A ratio is the median over rounds of
 * the per-round ratio, so machine drift hits both sides alike. The CNN has no stock-wasm contender: stock wasm cannot
 * train it (no Conv2DBackpropFilter).
 */
import * as tf from '@tensorflow/tfjs';
import { applyOptimizerUpdate, createTrainer, installWasmKernels, selectBackend, uninstallWasmKernels, withSeed } from '@fitstream/core';
import { median, round, type BenchRow, type SuiteResult } from '../rows.js';

export interface BackendSuiteOptions {
  /** Smoke run: one timed round, fewest steps, fewer matMul sizes. Checks that it works, not speed. */
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

const BATCH = 64;
const LEARNING_RATE = 1e-3;
const SEED = 7;

/** `matmul_floor`: the MLP step's matMuls alone (see {@link matMulFloorSeconds}), timed in the same rounds as the rest. */
type ContenderId = 'fitstream' | 'tfjs_cpu' | 'tfjs_wasm' | 'matmul_floor';

interface ModelSpec {
  readonly name: 'mlp' | 'cnn' | 'lstm';
  readonly inputShape: number[];
  readonly outputs: number;
  readonly loss: 'categoricalCrossentropy' | 'meanSquaredError';
  build(): tf.LayersModel;
  /** Steps per round of each contender (one epoch = steps × 64 samples). */
  readonly steps: Readonly<Partial<Record<ContenderId, number>>>;
}

const MODELS: readonly ModelSpec[] = [
  {
    name: 'mlp',
    inputShape: [784],
    outputs: 10,
    loss: 'categoricalCrossentropy',
    build: () =>
      tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
          tf.layers.dense({ units: 256, activation: 'relu' }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
      }),
    steps: { fitstream: 48, tfjs_cpu: 4, tfjs_wasm: 16, matmul_floor: 20 },
  },
  {
    name: 'cnn',
    inputShape: [28, 28, 1],
    outputs: 10,
    loss: 'categoricalCrossentropy',
    build: () =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.batchNormalization(),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ],
      }),
    steps: { fitstream: 16, tfjs_cpu: 1 },
  },
  {
    name: 'lstm',
    inputShape: [32, 4],
    outputs: 1,
    loss: 'meanSquaredError',
    build: () => tf.sequential({ layers: [tf.layers.lstm({ inputShape: [32, 4], units: 64 }), tf.layers.dense({ units: 1 })] }),
    steps: { fitstream: 16, tfjs_cpu: 2, tfjs_wasm: 8 },
  },
];

/** Makes the wasm registry stock (false) or fitstream's (true), and activates `backend`. */
async function useBackend(backend: 'wasm' | 'cpu', fitstreamKernels: boolean): Promise<void> {
  await tf.setBackend(backend);
  if (backend === 'wasm') {
    if (fitstreamKernels) installWasmKernels(tf);
    else uninstallWasmKernels(tf);
  }
}

function makeData(spec: ModelSpec, samples: number): { x: tf.Tensor; y: tf.Tensor } {
  return withSeed(SEED, () =>
    tf.tidy(() => {
      const x = tf.randomNormal([samples, ...spec.inputShape]);
      const y =
        spec.loss === 'categoricalCrossentropy'
          ? tf.oneHot(tf.randomUniform([samples], 0, spec.outputs, 'int32') as tf.Tensor1D, spec.outputs).toFloat()
          : tf.randomNormal([samples, spec.outputs]);
      return { x, y };
    }),
  );
}

interface Contender {
  readonly id: ContenderId;
  /** Trains one epoch; returns steps/s. */
  round(epoch: number): Promise<number>;
  dispose(): void;
}

/** Builds a contender on its backend (its model and data live there). */
async function contender(id: ContenderId, spec: ModelSpec, steps: number): Promise<Contender> {
  if (id === 'matmul_floor') {
    return {
      id,
      async round() {
        await useBackend('wasm', true);
        return 1 / matMulFloorSeconds(steps);
      },
      dispose() {},
    };
  }
  const backend = id === 'tfjs_cpu' ? 'cpu' : 'wasm';
  await useBackend(backend, id === 'fitstream');
  const model = withSeed(SEED, () => spec.build());
  const data = makeData(spec, steps * BATCH);
  if (id === 'fitstream') {
    const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: LEARNING_RATE }, loss: spec.loss, seed: SEED, backend: 'current', log: null });
    return {
      id,
      async round(epoch) {
        await useBackend(backend, true);
        const start = performance.now();
        await trainer.fit(data, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: true, handleSignals: false });
        return steps / ((performance.now() - start) / 1000);
      },
      dispose() {
        trainer.dispose();
        model.dispose();
        tf.dispose([data.x, data.y]);
      },
    };
  }
  const optimizer = tf.train.adam(LEARNING_RATE);
  model.compile({ optimizer, loss: spec.loss });
  return {
    id,
    async round(epoch) {
      await useBackend(backend, false);
      const start = performance.now();
      await model.fit(data.x, data.y, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: true, verbose: 0 });
      return steps / ((performance.now() - start) / 1000);
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
      tf.dispose([data.x, data.y]);
    },
  };
}

/** Interleaved rounds of every contender of one model; returns per-round steps/s by contender. */
async function measureModel(spec: ModelSpec, rounds: number, quick: boolean, log: (line: string) => void): Promise<Partial<Record<ContenderId, number[]>>> {
  const contenders: Contender[] = [];
  for (const [id, steps] of Object.entries(spec.steps) as Array<[ContenderId, number]>) {
    contenders.push(await contender(id, spec, quick ? Math.max(1, Math.ceil(steps / 4)) : steps));
  }
  const results: Partial<Record<ContenderId, number[]>> = {};
  try {
    for (let r = 0; r <= rounds; r++) {
      // Rotate who goes first, so that order effects hit everyone alike.
      const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]!);
      for (const c of order) {
        const stepsPerSecond = await c.round(r);
        if (r > 0) (results[c.id] ??= []).push(stepsPerSecond);
      }
      if (r > 0) log(`backend suite: ${spec.name} round ${r}: ${contenders.map((c) => `${c.id} ${results[c.id]!.at(-1)!.toFixed(2)}`).join(', ')} steps/s`);
    }
  } finally {
    for (const c of contenders) c.dispose();
  }
  return results;
}

/** Median wall seconds of `fn` (after one warm-up), with fewer repeats for slow calls so the suite stays short. */
function seconds(fn: () => void, maxRepeats: number, budget = 1.5): number {
  fn();
  const times: number[] = [];
  let spent = 0;
  while (times.length < maxRepeats && (times.length === 0 || spent < budget)) {
    const start = performance.now();
    fn();
    const t = (performance.now() - start) / 1000;
    times.push(t);
    spent += t;
  }
  return median(times);
}

/** matMul GFLOP/s at `n` for NN/NT/TN on the active backend. */
function matMulRows(label: string, sizes: readonly number[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    for (const [layout, ta, tb] of [['nn', false, false], ['nt', false, true], ['tn', true, false]] as const) {
      const s = seconds(() => {
        const c = tf.matMul(a, b, ta, tb);
        c.dataSync();
        c.dispose();
      }, 5);
      rows.push({ name: `matmul${n}_${layout}_${label}`, value: round((2 * n ** 3) / s / 1e9), unit: 'GFLOP/s' });
    }
    tf.dispose([a, b]);
  }
  return rows;
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

/** Runs the suite; leaves wasm active with fitstream's kernels installed (what `selectBackend()` gives). */
export async function backendSuite(options: BackendSuiteOptions): Promise<SuiteResult> {
  const { log, quick } = options;
  const selection = await selectBackend({ log });
  if (selection.backend !== 'wasm') throw new Error(`backend suite: needs the wasm backend, selectBackend chose ${selection.backend}`);
  await tf.setBackend('cpu');
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  await tf.setBackend('wasm');
  const rows: BenchRow[] = [];
  const remarks: Record<string, string> = {};
  const target = (name: string, value: number, min: number): void => {
    rows.push({ name, value: round(value), unit: 'ratio' });
    remarks[name] = `target ≥ ${min}: ${value >= min ? 'met' : 'MISSED'}`;
  };
  const rounds = quick ? 1 : 3;
  const oursByModel: Partial<Record<string, number[]>> = {};
  const floorRounds: Partial<Record<string, number[]>> = {};
  try {
    for (const spec of MODELS) {
      const perRound = await measureModel(spec, rounds, quick, log);
      const ours = perRound.fitstream ?? [];
      oursByModel[spec.name] = ours;
      if (perRound.matmul_floor) floorRounds[spec.name] = perRound.matmul_floor;
      rows.push({ name: `fitstream_steps_per_s_${spec.name}`, value: round(median(ours)), unit: 'steps/s' });
      for (const [id, label] of [['tfjs_cpu', 'cpu'], ['tfjs_wasm', 'wasm']] as const) {
        const theirs = perRound[id];
        if (!theirs) continue;
        rows.push({ name: `tfjs_${label}_fit_steps_per_s_${spec.name}`, value: round(median(theirs)), unit: 'steps/s' });
        const ratio = median(ours.map((o, i) => o / theirs[i]!));
        const min = { cpu: { mlp: 15, cnn: 30, lstm: 8 }, wasm: { mlp: 3, cnn: 0, lstm: 2 } }[label][spec.name];
        target(`fitstream_vs_tfjs_${label}_${spec.name}`, ratio, min);
      }
    }

    const floor = floorRounds.mlp ?? [];
    rows.push({ name: 'matmul_floor_steps_per_s_mlp', value: round(median(floor)), unit: 'steps/s' });
    target('trainer_vs_matmul_floor_mlp', median((oursByModel.mlp ?? []).map((o, i) => o / floor[i]!)), 0.5);

    for (const [name, make] of microCases()) rows.push(...(await beforeAfter(name, make, quick)));

    const sizes = quick ? [128] : [512, 1024];
    await useBackend('cpu', false);
    rows.push(...matMulRows('cpu', sizes));
    await useBackend('wasm', false);
    rows.push(...matMulRows('stock_wasm', sizes));
    await useBackend('wasm', true);
    rows.push(...matMulRows('fitstream_wasm', sizes));
  } finally {
    await useBackend('wasm', true);
  }
  return {
    suite: 'backend',
    rows,
    notes: [
      'fitstream = createTrainer on selectBackend() default (wasm + fitstream kernels + fused optimizer updates); tfjs = model.fit on stock backends',
      `batch ${BATCH}, Adam ${LEARNING_RATE}; ${rounds} interleaved timed round(s) after a warm-up; ratios are medians of per-round ratios`,
      'matmul floor = the MLP step’s 8 matMuls (3 forward, 3 dW, 2 dX) with the same shapes on fitstream wasm, on operands new to every step as in training, timed in the same interleaved rounds as the trainer (ratio = median of per-round ratios)',
    ],
    remarks,
  };
}
