/**
 * The page of the bundle check (bundle.test.ts builds it with Vite and opens it in headless Chromium): it uses core,
 * callbacks, samplers and regularisers as a web app would, and exposes `globalThis.fitstreamBundle` for the test to
 * drive: the backend report, what `'auto'` selects, and the bench's MLP trained for a fixed number of steps on a
 * chosen backend.
 */
import * as tf from '@tensorflow/tfjs';
// The optional WebGPU backend: a page that wants it imports it (it registers itself where navigator.gpu exists).
import '@tensorflow/tfjs-backend-webgpu';
import * as wasmKernels from '@fitstream/backend-wasm';
import { backendReport, createTrainer, ofType, selectBackend, withSeed, type BackendName, type BackendReport } from '@fitstream/core';
import { earlyStopping } from '@fitstream/callbacks';
import { shuffleSampler } from '@fitstream/samplers';
import { weightPenalty } from '@fitstream/regularisers';

/** The bench's MLP (apps/bench/src/suites/models.ts): 784-256-256-10, batch 64, Adam 1e-3, data seed 7. */
export const MLP = { inputs: 784, hidden: 256, classes: 10, batch: 64, learningRate: 1e-3, seed: 7 } as const;

/** Where the test's server puts tfjs-backend-wasm's binaries. */
export const WASM_PATHS = '/wasm/';

export interface AutoSelection {
  readonly backend: string;
  readonly fallbacks: readonly { backend: string; reason: string }[];
  readonly log: readonly string[];
}

export interface TrainRun {
  readonly requested: BackendName;
  /** The backend the trainer's `backend:selected` event named. */
  readonly selected: string;
  /** The wasm backend's threads; null on other backends. */
  readonly wasmThreads: number | null;
  /** Steps per second over the epochs after the first (which compiles shaders and warms caches). */
  readonly stepsPerSecond: number;
  readonly timedSteps: number;
  /** Mean training loss per epoch. */
  readonly losses: readonly number[];
  readonly reason: string;
  /** Tensors left after the run beyond those before it (model, data and optimizer disposed). */
  readonly leakedTensors: number;
  readonly log: readonly string[];
}

/**
 * What the wasm backend needs in a page: where its binaries are, fitstream's training kernels (a bundle cannot import
 * them by name as Node.js does) and, when given, the threads.
 */
const wasmOptions = (threads: number | undefined) => ({ wasmPaths: WASM_PATHS, wasmKernelsModule: wasmKernels, ...(threads === undefined ? {} : { threads }) });

/** Seeded inputs and learnable labels: the class is the index of the largest of the first 10 features. */
function makeData(samples: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return withSeed(MLP.seed, () =>
    tf.tidy(() => {
      const x = tf.randomNormal([samples, MLP.inputs]) as tf.Tensor2D;
      const y = tf.oneHot(tf.argMax(x.slice([0, 0], [samples, MLP.classes]), 1) as tf.Tensor1D, MLP.classes).toFloat() as tf.Tensor2D;
      return { x, y };
    }),
  );
}

function buildMlp(): tf.Sequential {
  return withSeed(MLP.seed, () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [MLP.inputs], units: MLP.hidden, activation: 'relu' }),
        tf.layers.dense({ units: MLP.hidden, activation: 'relu' }),
        tf.layers.dense({ units: MLP.classes, activation: 'softmax' }),
      ],
    }),
  );
}

/** Trains the MLP on `backend` for `epochs` epochs of `stepsPerEpoch` steps, with early stopping, a sampler and a penalty. */
async function train(backend: BackendName, stepsPerEpoch: number, epochs: number, threads?: number): Promise<TrainRun> {
  const log: string[] = [];
  // wasmPaths and threads go with the first selection of wasm: tfjs reads them when the backend initialises.
  const selection = await selectBackend({ prefer: backend, ...wasmOptions(threads), log: (l) => log.push(l) });
  const before = tf.memory().numTensors;
  const data = makeData(stepsPerEpoch * MLP.batch);
  const model = buildMlp();
  const optimizer = tf.train.adam(MLP.learningRate);
  const trainer = createTrainer({ model, optimizer, loss: 'categoricalCrossentropy', seed: MLP.seed, backend, log: (l) => log.push(l) })
    .use(earlyStopping({ monitor: 'loss', patience: 2 }))
    .use(shuffleSampler({ seed: 3 }))
    .use(weightPenalty({ l2: 1e-5 }));
  let selected = '';
  const epochMs: number[] = [];
  const epochBatches: number[] = [];
  trainer.events$.pipe(ofType('backend:selected')).subscribe((e) => (selected = e.backend));
  trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => {
    epochMs.push(e.durationMs);
    epochBatches.push(e.batches);
  });
  const result = await trainer.fit(data, { epochs, batchSize: MLP.batch, handleSignals: false });
  trainer.dispose();
  optimizer.dispose();
  model.dispose();
  tf.dispose([data.x, data.y]);
  const timedSteps = epochBatches.slice(1).reduce((a, b) => a + b, 0);
  const timedMs = epochMs.slice(1).reduce((a, b) => a + b, 0);
  return {
    requested: backend,
    selected,
    wasmThreads: selection.wasmThreads ?? null,
    stepsPerSecond: timedMs > 0 ? (1000 * timedSteps) / timedMs : 0,
    timedSteps,
    losses: [...(result.history.logs['loss'] ?? [])],
    reason: result.reason,
    leakedTensors: tf.memory().numTensors - before,
    log,
  };
}

/** What `selectBackend()` with `'auto'` picks in this page, with its fallbacks and log line. */
async function auto(threads?: number): Promise<AutoSelection> {
  const log: string[] = [];
  const selection = await selectBackend({ ...wasmOptions(threads), log: (l) => log.push(l) });
  return { backend: selection.backend, fallbacks: selection.fallbacks.map(({ backend, reason }) => ({ backend, reason })), log };
}

const report = (threads?: number): Promise<BackendReport> => backendReport({ wasmPaths: WASM_PATHS, ...(threads === undefined ? {} : { threads }) });
const api = { report, auto, train };
export type FitstreamBundle = typeof api;
(globalThis as { fitstreamBundle?: FitstreamBundle }).fitstreamBundle = api;
