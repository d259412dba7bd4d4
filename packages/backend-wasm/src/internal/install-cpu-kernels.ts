/**
 * Installs the kernels of this package that also pay on tfjs' `cpu` backend: the row-copying `GatherV2` (batch
 * assembly) and the fused optimizer updates, in their JavaScript form (the same code the wasm backend runs where
 * WebAssembly SIMD is missing). Both are exact: the gather copies values, and the updates are bit-identical to tfjs'
 * optimizers (fused-update-kernels.ts says how).
 *
 * Why on cpu: the cpu backend is what `@fitstream/distributed` replicas on threads train on, and there every cost that
 * does not shrink with a replica's batch is paid by each replica in full. Measured on MNIST (MLP 784-128-10, momentum,
 * global batch 128; 2 vCPUs): the stock momentum update of the 101 770 weights took 6.7 ms a step and the stock
 * gather of a batch 7 ms plus its garbage; with these kernels one replica reached 0.93 validation accuracy in 8.0–8.3 s
 * instead of 10.0–13.3 s, two replicas in 5.3–5.5 s instead of 7.4–9.4 s.
 */
import type { KernelConfig } from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelFunc, type FusedUpdateKernelConfig } from './fused-updates/fused-update-kernels.js';
import { installKernel, type InstalledKernels, type KernelReport, reportOf, requireOriginal, uninstallKernels } from './kernel-registry.js';
import { createGatherV2Kernel } from './kernels/gather-v2.js';
import type { Tf } from './kernels/wasm-kernel-types.js';

const BACKEND = 'cpu';

/** Which kernel groups {@link installCpuKernels} installs; each defaults to `true`. */
export interface CpuKernelOptions {
  /**
   * `GatherV2` copying whole rows (any axis and batchDims, int32 indices, float32/int32/bool values) instead of the
   * stock kernel's element-by-element index arithmetic, which allocates an array per element: ≈ 7 ms against
   * ≈ 0.1 ms for a batch of 128 MNIST digits.
   */
  readonly batchCopies?: boolean;
  /**
   * Fused Adam / RMSProp / momentum / SGD updates, one JavaScript pass per variable instead of ≈ 10 elementwise
   * kernels that each allocate: measured per update of 100 352 weights, momentum 5.3 → 1.9 ms, Adam 22 → 3.6 ms,
   * RMSProp 18.5 → 1.2 ms, SGD 2.6 → 0.3 ms (and faster at every size from 64 to 10⁶, so there is no size limit on
   * cpu). The trainer uses them through `applyOptimizerUpdate` (@fitstream/optimizers); bit-identical to tfjs.
   */
  readonly optimizerUpdates?: boolean;
}

/** What fitstream's kernels occupy in the cpu registry. */
export type CpuKernelReport = KernelReport;

type Group = keyof CpuKernelOptions;

const installed: InstalledKernels = new Map();

/** On cpu the fused JavaScript pass beats tfjs' own ops at every size measured (see {@link CpuKernelOptions}). */
const unlimited: Pick<FusedUpdateKernelConfig, 'maxElements'> = { maxElements: () => Number.POSITIVE_INFINITY };

const GROUPS: Record<Group, readonly { name: string; create: (current: KernelConfig | undefined) => KernelConfig['kernelFunc']; extra?: object }[]> = {
  batchCopies: [{ name: 'GatherV2', create: (current) => createGatherV2Kernel(requireOriginal('installCpuKernels', BACKEND, 'GatherV2', current)) }],
  optimizerUpdates: Object.values(FUSED_KERNELS).map((name) => ({ name, create: () => fusedKernelFunc(name), extra: unlimited })),
};

/**
 * Registers fitstream's cpu kernels (see {@link CpuKernelOptions}). `selectBackend()` from `@fitstream/core` calls it
 * when it picks cpu and this package is installed; call it yourself after `await tf.setBackend('cpu')` in other tfjs
 * code. Idempotent; options only ever add groups. Returns everything fitstream's kernels occupy on cpu after the call.
 *
 * @throws Error if the cpu backend is not registered (tfjs' `@tensorflow/tfjs` bundle registers it).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { installCpuKernels } from '@fitstream/backend-wasm';
 *
 * await tf.setBackend('cpu');
 * installCpuKernels(tf); // { registered: ['FitstreamAdamUpdate', …], replaced: ['GatherV2'] }
 * ```
 */
export function installCpuKernels(tf: Tf, options: CpuKernelOptions = {}): CpuKernelReport {
  if (tf.engine().registryFactory[BACKEND] === undefined) {
    throw new Error("installCpuKernels: no 'cpu' backend is registered; import '@tensorflow/tfjs' (or '@tensorflow/tfjs-backend-cpu') first");
  }
  for (const group of Object.keys(GROUPS) as Group[]) {
    if (options[group] === false) continue;
    for (const { name, create, extra } of GROUPS[group]) installKernel(tf, BACKEND, installed, name, create, extra);
  }
  return reportOf(installed);
}

/**
 * Removes fitstream's cpu kernels and re-registers the exact configs they replaced. Safe to call when nothing is
 * installed. @returns what was installed before the call.
 *
 * @example
 * ```ts
 * uninstallCpuKernels(tf); // stock cpu kernels from here on
 * ```
 */
export function uninstallCpuKernels(tf: Tf): CpuKernelReport {
  const before = reportOf(installed);
  uninstallKernels(tf, BACKEND, installed);
  return before;
}
