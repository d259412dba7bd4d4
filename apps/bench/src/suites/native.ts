/**
 * The `native` suite: the backend suite's models on tfjs-node's native `tensorflow` backend (built against a
 * TensorFlow pip wheel by `npx fitstream native install`), to separate what the trainer gains from what the kernels
 * give. Per model, interleaved rounds of:
 *
 * - `fitstream_native`: fitstream's trainer on the native backend;
 * - `fitstream_wasm`: fitstream's trainer on wasm with fitstream's kernels (the backend suite's `fitstream`);
 * - `tfjs_native_fit`: stock tfjs `model.fit` on the native backend;
 * - Keras 3 `model.fit` (a Python peer, best of 1 and 2 threads), when Python has tensorflow and keras.
 *
 * Same trainer, other kernels: `native_vs_wasm_*`. Same kernels, other loop: `fitstream_native_vs_tfjs_native_*`.
 * Plus matMul GFLOP/s on the native backend. Without tfjs-node the suite says how to build it and returns no rows.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendSelection } from '@fitstream/core';
import { kerasContenders, startKerasPeers, type KerasContenderId } from '../keras/keras-contenders.js';
import { median, pairedRatio, rowCollector, type SuiteResult } from '../rows.js';
import { measureRounds, modelFitContender, quickSteps, trainerContender, useBackend } from './contenders.js';
import { matMulRows } from './matmul.js';
import { BATCH, LEARNING_RATE, MODELS, type ModelName } from './models.js';

export interface NativeSuiteOptions {
  /** Smoke run: one timed round, a quarter of the steps, one small matMul size. Checks that it works, not speed. */
  readonly quick: boolean;
  readonly log: (line: string) => void;
  /** Selects the native backend; a test replaces it to see the suite without tfjs-node. */
  readonly selectNative?: () => Promise<BackendSelection>;
}

type ContenderId = 'fitstream_native' | 'fitstream_wasm' | 'tfjs_native_fit';

/**
 * Steps per round (one epoch = steps × 64 samples), ≈0.3–1.5 s a round. Per-op dispatch makes the native CNN and LSTM
 * slow (issue 18: 40–49 and 11–13 steps/s), the MLP fast.
 */
const STEPS: Readonly<Record<ModelName, Record<ContenderId, number>>> = {
  mlp: { fitstream_native: 96, fitstream_wasm: 48, tfjs_native_fit: 96 },
  cnn: { fitstream_native: 32, fitstream_wasm: 16, tfjs_native_fit: 32 },
  lstm: { fitstream_native: 16, fitstream_wasm: 16, tfjs_native_fit: 16 },
  cnn_large: { fitstream_native: 8, fitstream_wasm: 2, tfjs_native_fit: 8 },
  gru: { fitstream_native: 16, fitstream_wasm: 16, tfjs_native_fit: 16 },
};

const SKIP_HINT = 'build it with `npx fitstream native install` (needs a Python with tensorflow-cpu: python3 -m pip install tensorflow-cpu)';

/** The TensorFlow version the native binding reports, when it does. */
function nativeTensorFlowVersion(): string | undefined {
  const binding = (tf.findBackend('tensorflow') as unknown as { binding?: { TF_Version?: unknown } } | null)?.binding;
  return typeof binding?.TF_Version === 'string' ? binding.TF_Version : undefined;
}

/** Runs the suite; leaves wasm active with fitstream's kernels installed, as the other suites expect. */
export async function nativeSuite(options: NativeSuiteOptions): Promise<SuiteResult> {
  const { log, quick } = options;
  // wasm first: it must be registered (and fitstream's kernels known) for the fitstream_wasm contender.
  await selectBackend({ prefer: 'wasm', log: null });
  try {
    // tfjs-node-gpu where it is built (scripts/native-gpu-check.sh), else tfjs-node: both register the `tensorflow` backend.
    await (options.selectNative ?? (() => selectBackend({ prefer: ['tensorflow-gpu', 'tensorflow'], log })))();
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^No tfjs backend could be initialised: /, '').replace(/\.$/, '');
    const line = `native suite: skipped, tfjs-node's native backend is not available here (${reason}); ${SKIP_HINT}.`;
    log(line);
    await useBackend('wasm', true);
    return { suite: 'native', rows: [], notes: [line] };
  }
  const tfVersion = nativeTensorFlowVersion();

  const out = rowCollector();
  const rounds = quick ? 1 : 3;
  const keras = await startKerasPeers('native', log);
  try {
    for (const spec of MODELS) {
      const steps = (id: ContenderId): number => quickSteps(STEPS[spec.name][id], quick);
      const perRound = await measureRounds<ContenderId | KerasContenderId>(
        `native suite: ${spec.name}`,
        [
          () => trainerContender('fitstream_native', spec, steps('fitstream_native'), 'tensorflow'),
          () => trainerContender('fitstream_wasm', spec, steps('fitstream_wasm'), 'wasm'),
          () => modelFitContender('tfjs_native_fit', spec, steps('tfjs_native_fit'), 'tensorflow'),
          ...kerasContenders(keras.peers, spec, quick),
        ],
        rounds,
        log,
      );
      const native = perRound.fitstream_native ?? [];
      const wasm = perRound.fitstream_wasm ?? [];
      const tfjsFit = perRound.tfjs_native_fit ?? [];
      out.add(`fitstream_native_steps_per_s_${spec.name}`, median(native), 'steps/s');
      out.add(`fitstream_wasm_steps_per_s_${spec.name}`, median(wasm), 'steps/s');
      out.add(`tfjs_native_fit_steps_per_s_${spec.name}`, median(tfjsFit), 'steps/s');
      out.add(`native_vs_wasm_${spec.name}`, pairedRatio(native, wasm), 'ratio', 'kernels: same trainer, native vs wasm');
      out.target(`fitstream_native_vs_tfjs_native_${spec.name}`, pairedRatio(native, tfjsFit), 1, 'trainer: same kernels; target');
      const best = keras.best(spec.name, perRound);
      if (!best) continue;
      const name = `fitstream_native_vs_keras_${spec.name}`;
      out.add(name, pairedRatio(native, best.perRound), 'ratio', `keras ${median(best.perRound).toFixed(1)} steps/s, ${best.remark}`);
    }
    await useBackend('tensorflow', false);
    out.rows.push(...matMulRows('native', quick ? [128] : [512, 1024]));
  } finally {
    await keras.close();
    await useBackend('wasm', true);
  }
  return out.result('native', [
    `native = tfjs-node's tensorflow backend${tfVersion ? ` (TensorFlow ${tfVersion})` : ''}, TensorFlow's default thread pools; wasm = fitstream's kernels, 1 thread`,
    'fitstream_* = createTrainer; tfjs_native_fit = stock tfjs model.fit on the native backend',
    `batch ${BATCH}, Adam ${LEARNING_RATE}; ${rounds} interleaved timed round(s) after a warm-up; ratios are medians of per-round ratios`,
    ...keras.notes,
  ]);
}
