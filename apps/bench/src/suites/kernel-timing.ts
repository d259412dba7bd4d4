/**
 * Kernel timing for step profiles: how many kernels the tfjs engine dispatches and how long the kernel functions
 * themselves run, so that a step's wall time splits into "inside kernels" (arithmetic, plus the kernels' own
 * allocations) and "outside" (engine bookkeeping, the gradient tape, tensor tracking, the trainer's JavaScript).
 *
 * Why not `tf.profile`: it records shapes, byte counts and extra info per kernel and, on a backend without a timer,
 * reads every output back (`dataSync`) — far more than the few hundred nanoseconds a wasm kernel dispatch costs, so
 * the profile would mostly measure itself. Here each registered kernel's `kernelFunc` is wrapped in place (two
 * `performance.now()` calls and two additions), the engine still looks each kernel up per call and so runs the wrapper,
 * and {@link KernelTiming.stop} puts the original functions back.
 *
 * Wrapping mutates the registry's config objects rather than re-registering them: `installWasmKernels` recognises
 * its own registrations by their config, so a wrapped registry still counts as installed. Do not call
 * `tf.setBackend` while timing (kernel setup functions are left as they are, but nothing here is tested across a
 * backend switch).
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';

/** Totals since {@link startKernelTiming} (or the last {@link KernelTiming.reset}). */
export interface KernelTotals {
  /** Kernel calls dispatched by the engine (`runKernel`, tape clones, gradient kernels, fused updates). */
  readonly dispatches: number;
  /** Milliseconds spent inside kernel functions. */
  readonly kernelMs: number;
  /** Per kernel name: calls and milliseconds. */
  readonly byKernel: ReadonlyMap<string, { calls: number; ms: number }>;
}

export interface KernelTiming {
  /** The totals so far (a snapshot). */
  totals(): KernelTotals;
  /** Zeroes the totals. */
  reset(): void;
  /** Restores every kernel function this timing wrapped. Idempotent. */
  stop(): void;
}

/**
 * Wraps every kernel registered for `backend` with a timer and a counter.
 *
 * @example
 * ```ts
 * const timing = startKernelTiming(tf, 'wasm');
 * try { await trainer.fit(data, { epochs: 1 }); } finally { timing.stop(); }
 * const { dispatches, kernelMs } = timing.totals();
 * ```
 */
export function startKernelTiming(tf: typeof tfjs, backend: string): KernelTiming {
  let dispatches = 0;
  let kernelMs = 0;
  const byKernel = new Map<string, { calls: number; ms: number }>();
  const originals = new Map<KernelConfig, KernelFunc>();
  for (const config of tf.getKernelsForBackend(backend)) {
    const original = config.kernelFunc;
    const entry = { calls: 0, ms: 0 };
    byKernel.set(config.kernelName, entry);
    const timed: KernelFunc = (args) => {
      const start = performance.now();
      try {
        return original(args);
      } finally {
        const ms = performance.now() - start;
        dispatches += 1;
        kernelMs += ms;
        entry.calls += 1;
        entry.ms += ms;
      }
    };
    originals.set(config, original);
    (config as { kernelFunc: KernelFunc }).kernelFunc = timed;
  }
  return {
    totals: () => ({
      dispatches,
      kernelMs,
      byKernel: new Map([...byKernel].filter(([, e]) => e.calls > 0).map(([name, e]) => [name, { ...e }])),
    }),
    reset() {
      dispatches = 0;
      kernelMs = 0;
      for (const entry of byKernel.values()) {
        entry.calls = 0;
        entry.ms = 0;
      }
    },
    stop() {
      for (const [config, original] of originals) (config as { kernelFunc: KernelFunc }).kernelFunc = original;
      originals.clear();
    },
  };
}
