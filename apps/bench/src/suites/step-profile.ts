/**
 * Step profiles of the backend suite's models: where one fitstream training step's time goes on wasm with fitstream's
 * kernels. A step is what lies between the trainer's `batch:start` and `step:end` events (forward, loss, gradients,
 * optimizer update, metrics); the batch assembly before it is not part of it. Inside it, {@link startKernelTiming}
 * counts the kernels the engine dispatches and sums the time spent inside them; the rest of the step's wall time is
 * spent outside kernels — the engine's bookkeeping per op, the gradient tape, tensor tracking, the trainer's own
 * JavaScript. That share is what fusing kernels (fewer dispatches) can remove; the kernel time is what faster
 * kernels can.
 */
import * as tf from '@tensorflow/tfjs';
import { createTrainer, withSeed } from '@fitstream/core';
import { median } from '../rows.js';
import { useBackend } from './contenders.js';
import { startKernelTiming } from './kernel-timing.js';
import { BATCH, LEARNING_RATE, SEED, makeData, type ModelSpec } from './models.js';

/** One model's step profile: medians over the profiled steps. */
export interface StepProfile {
  /** Wall milliseconds of a step. */
  readonly stepMs: number;
  /** Milliseconds inside kernels per step. */
  readonly kernelMs: number;
  /** Share of a step's wall time spent outside kernels, in [0, 1]. */
  readonly outsideShare: number;
  /** Kernels dispatched per step. */
  readonly dispatches: number;
  /** Per kernel name, calls and milliseconds per step (mean over the profiled steps), most expensive first. */
  readonly byKernel: ReadonlyArray<{ readonly name: string; readonly calls: number; readonly ms: number }>;
}

/**
 * Trains `spec` on wasm with fitstream's kernels for one untimed warm-up epoch and one profiled epoch of `steps`
 * steps, and returns the profile of the profiled steps. Leaves the kernel registry as it found it.
 */
export async function profileSteps(spec: ModelSpec, steps: number): Promise<StepProfile> {
  await useBackend('wasm', true);
  const model = withSeed(SEED, () => spec.build());
  const data = makeData(spec, steps * BATCH);
  const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: LEARNING_RATE }, loss: spec.loss, seed: SEED, backend: 'current', log: null });
  const fit = (epoch: number) => trainer.fit(data, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: true, handleSignals: false });
  try {
    await fit(0);
    const timing = startKernelTiming(tf, 'wasm');
    const perStep: Array<{ ms: number; kernelMs: number; dispatches: number }> = [];
    let open: { at: number; kernelMs: number; dispatches: number } | undefined;
    const subscription = trainer.events$.subscribe((e) => {
      if (e.type === 'batch:start') {
        const t = timing.totals();
        open = { at: performance.now(), kernelMs: t.kernelMs, dispatches: t.dispatches };
      } else if (e.type === 'step:end' && open) {
        const t = timing.totals();
        perStep.push({ ms: performance.now() - open.at, kernelMs: t.kernelMs - open.kernelMs, dispatches: t.dispatches - open.dispatches });
        open = undefined;
      }
    });
    let totals;
    try {
      await fit(1);
      totals = timing.totals();
    } finally {
      subscription.unsubscribe();
      timing.stop();
    }
    if (perStep.length === 0) throw new Error(`step profile of ${spec.name}: no step was seen`);
    const byKernel = [...totals.byKernel]
      .map(([name, e]) => ({ name, calls: e.calls / perStep.length, ms: e.ms / perStep.length }))
      .sort((a, b) => b.ms - a.ms);
    return {
      stepMs: median(perStep.map((s) => s.ms)),
      kernelMs: median(perStep.map((s) => s.kernelMs)),
      outsideShare: median(perStep.map((s) => Math.max(0, s.ms - s.kernelMs) / s.ms)),
      dispatches: median(perStep.map((s) => s.dispatches)),
      byKernel,
    };
  } finally {
    trainer.dispose();
    model.dispose();
    tf.dispose([data.x, data.y]);
  }
}
