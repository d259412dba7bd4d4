/**
 * `wasm-kernels` suite: what fitstream's wasm kernels (`@fitstream/backend-wasm`) buy, measured side by
 * side in one process so the ratios are not skewed by run-to-run drift (±10–25 % on this 2-vCPU box).
 *
 * - matMul 512×512 NN / NT / TN GFLOP/s on wasm, stock kernels vs patched;
 * - training steps/s of an MLP, an LSTM and a small CNN on cpu, stock wasm (where it can train at all: the CNN
 *   cannot, Conv2DBackpropFilter is missing) and patched wasm, with ratio rows (value = ours ÷ theirs).
 *
 * Steps are `optimizer.minimize` custom loops on one pre-built batch (no data pipeline in the measurement), one
 * warm-up, then the median of a few timed repeats sized to ≈0.6 s each. The whole suite takes ≈60 s; the cpu CNN
 * (≈3 s/step) dominates.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { installWasmKernels, uninstallWasmKernels } from '@fitstream/backend-wasm';
import type { BenchRow } from '../rows.js';

type Tf = typeof tfjs;

interface KernelInstaller {
  installWasmKernels(tf: Tf): { registered: string[]; replaced: string[] };
  uninstallWasmKernels(tf: Tf): { registered: string[]; replaced: string[] };
}

type Mode = 'cpu' | 'wasm_unpatched' | 'wasm_patched';

const MATMUL_N = 512;
const BATCH = 64;
const REPEATS = 3;
const REPEAT_SECONDS = 0.6;

/** Runs the suite; leaves the backend and the wasm kernel registry as it found them. */
export async function wasmKernelSuite(tf: Tf): Promise<BenchRow[]> {
  await import('@tensorflow/tfjs-backend-wasm');
  const kernels: KernelInstaller = { installWasmKernels, uninstallWasmKernels };
  // Undefined when the caller never selected a backend; then the suite leaves wasm active.
  const previousBackend = tf.getBackend() as string | undefined;
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
  // Start from the stock registry; remember whether the caller had the kernels installed.
  const wasInstalled = kernels.uninstallWasmKernels(tf);
  const hadKernels = wasInstalled.registered.length + wasInstalled.replaced.length > 0;

  const rows: BenchRow[] = [];
  try {
    rows.push(...matMulRows(tf, kernels));
    for (const model of MODELS) {
      const stepsPerSecond: Partial<Record<Mode, number>> = {};
      for (const mode of ['cpu', 'wasm_unpatched', 'wasm_patched'] as const) {
        await tf.setBackend(mode === 'cpu' ? 'cpu' : 'wasm');
        if (mode === 'wasm_patched') kernels.installWasmKernels(tf);
        else kernels.uninstallWasmKernels(tf);
        const value = measureTraining(tf, model);
        if (value !== undefined) {
          stepsPerSecond[mode] = value;
          rows.push({ name: `train_${model.name}_${mode}`, value: round(value), unit: 'steps/s' });
        }
      }
      const { cpu, wasm_unpatched: stock, wasm_patched: patched } = stepsPerSecond;
      if (patched !== undefined && cpu !== undefined) {
        rows.push({ name: `wasm_patched_vs_cpu_${model.name}`, value: round(patched / cpu), unit: '×' });
      }
      if (patched !== undefined && stock !== undefined) {
        rows.push({ name: `wasm_patched_vs_wasm_${model.name}`, value: round(patched / stock), unit: '×' });
      }
    }
  } finally {
    await tf.setBackend('wasm');
    if (hadKernels) kernels.installWasmKernels(tf);
    else kernels.uninstallWasmKernels(tf);
    if (previousBackend) await tf.setBackend(previousBackend);
  }
  return rows;
}

/** matMul GFLOP/s for NN/NT/TN, stock and patched, plus patched ÷ stock per layout. */
function matMulRows(tf: Tf, kernels: KernelInstaller): BenchRow[] {
  const rows: BenchRow[] = [];
  const layouts = [
    { name: 'nn', transposeA: false, transposeB: false },
    { name: 'nt', transposeA: false, transposeB: true },
    { name: 'tn', transposeA: true, transposeB: false },
  ] as const;
  const a = tf.randomNormal([MATMUL_N, MATMUL_N]);
  const b = tf.randomNormal([MATMUL_N, MATMUL_N]);
  const flops = 2 * MATMUL_N ** 3;
  const gflops: Record<string, number> = {};
  for (const patched of [false, true]) {
    if (patched) kernels.installWasmKernels(tf);
    else kernels.uninstallWasmKernels(tf);
    for (const layout of layouts) {
      const seconds = medianSeconds(() => {
        const c = tf.matMul(a, b, layout.transposeA, layout.transposeB);
        c.dataSync();
        c.dispose();
      }, 2, 5);
      const key = `matmul${MATMUL_N}_${layout.name}_wasm_${patched ? 'patched' : 'unpatched'}`;
      gflops[key] = flops / seconds / 1e9;
      rows.push({ name: key, value: round(gflops[key]), unit: 'GFLOP/s' });
    }
  }
  for (const layout of layouts) {
    const stock = gflops[`matmul${MATMUL_N}_${layout.name}_wasm_unpatched`];
    const patched = gflops[`matmul${MATMUL_N}_${layout.name}_wasm_patched`];
    if (stock !== undefined && patched !== undefined) {
      rows.push({ name: `matmul${MATMUL_N}_${layout.name}_patched_vs_unpatched`, value: round(patched / stock), unit: '×' });
    }
  }
  tf.dispose([a, b]);
  return rows;
}

interface BenchModel {
  readonly name: string;
  build(tf: Tf): tfjs.LayersModel;
  readonly inputShape: number[];
  readonly classes: number;
  readonly loss: 'softmax' | 'mse';
}

const MODELS: readonly BenchModel[] = [
  {
    name: 'mlp',
    inputShape: [784],
    classes: 10,
    loss: 'softmax',
    build: (tf) =>
      tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
          tf.layers.dense({ units: 256, activation: 'relu' }),
          tf.layers.dense({ units: 10 }),
        ],
      }),
  },
  {
    name: 'lstm',
    inputShape: [32, 4],
    classes: 1,
    loss: 'mse',
    build: (tf) =>
      tf.sequential({ layers: [tf.layers.lstm({ inputShape: [32, 4], units: 64 }), tf.layers.dense({ units: 1 })] }),
  },
  {
    name: 'cnn',
    inputShape: [28, 28, 1],
    classes: 10,
    loss: 'softmax',
    build: (tf) =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10 }),
        ],
      }),
  },
];

/**
 * Steps/s of Adam(1e-3) custom-loop training on the active backend, or undefined when the backend cannot compute
 * the model's gradients (a missing kernel).
 */
function measureTraining(tf: Tf, spec: BenchModel): number | undefined {
  const model = spec.build(tf);
  const x = tf.randomNormal([BATCH, ...spec.inputShape]);
  const y =
    spec.loss === 'softmax'
      ? tf.oneHot(tf.randomUniform([BATCH], 0, spec.classes, 'int32').as1D(), spec.classes)
      : tf.randomNormal([BATCH, spec.classes]);
  const optimizer = tf.train.adam(1e-3);
  const variables = model.trainableWeights.map((w) => w.read() as tfjs.Variable);
  const loss = (): tfjs.Scalar => {
    const out = model.apply(x, { training: true }) as tfjs.Tensor;
    return spec.loss === 'softmax' ? tf.losses.softmaxCrossEntropy(y, out) : tf.losses.meanSquaredError(y, out);
  };
  const step = (): void => {
    const value = optimizer.minimize(loss, true, variables);
    value?.dataSync();
    value?.dispose();
  };
  try {
    try {
      step();
    } catch (error) {
      if (error instanceof Error && /kernel .* not registered|not yet supported/i.test(error.message)) return undefined;
      throw error;
    }
    const warmup = medianSeconds(step, 0, 1);
    const stepsPerRepeat = Math.max(1, Math.min(100, Math.round(REPEAT_SECONDS / warmup)));
    const seconds = medianSeconds(() => {
      for (let i = 0; i < stepsPerRepeat; i++) step();
    }, 0, REPEATS);
    return stepsPerRepeat / seconds;
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
}

/** Median wall time in seconds of `fn` over `repeats` runs after `warmup` untimed runs. */
function medianSeconds(fn: () => void, warmup: number, repeats: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    times.push((performance.now() - start) / 1000);
  }
  times.sort((p, q) => p - q);
  return times[times.length >> 1] ?? Number.NaN;
}

function round(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(4)) : value;
}
