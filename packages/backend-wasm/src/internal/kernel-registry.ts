/**
 * Installing kernels into one backend's entries of tfjs' kernel registry, and taking them out again exactly: what
 * {@link installWasmKernels} and {@link installCpuKernels} share. The registry is process-global (shared through tfjs'
 * global namespace), so each installer keeps its bookkeeping in one module-global {@link InstalledKernels}.
 */
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import type { Tf } from './kernels/wasm-kernel-types.js';

interface InstalledKernel {
  /** The config that was registered before ours, restored on uninstall; undefined if there was none. */
  readonly original: KernelConfig | undefined;
  readonly config: KernelConfig;
}

/** The kernels an installer put into one backend, by name, in install order. */
export type InstalledKernels = Map<string, InstalledKernel>;

/** What fitstream's kernels occupy in one backend's registry. */
export interface KernelReport {
  /** Kernels the backend did not have, now provided by fitstream. */
  registered: string[];
  /** The backend's own kernels fitstream has replaced (originals kept for uninstalling). */
  replaced: string[];
}

/**
 * Registers the kernel `create` builds under `name` for `backendName`, unless ours is still the one registered
 * (idempotent). `create` receives what is registered now (the kernel ours replaces, which it may delegate to); that
 * config is what uninstalling restores, and its setup/dispose hooks are kept (tfjs calls them on every `setBackend`,
 * and an original that ours delegates to relies on its setup).
 */
export function installKernel(
  tf: Tf,
  backendName: string,
  installed: InstalledKernels,
  name: string,
  create: (current: KernelConfig | undefined) => KernelFunc,
  extra: object = {},
): void {
  const current = tf.getKernel(name, backendName) as KernelConfig | undefined;
  const ours = installed.get(name);
  if (ours !== undefined && current?.kernelFunc === ours.config.kernelFunc) return;
  // Either never installed, or someone re-registered the name after us: what is registered now is what we wrap and
  // what uninstall must restore.
  const config: KernelConfig = { ...extra, kernelName: name, backendName, kernelFunc: create(current) };
  if (current?.setupFunc !== undefined) config.setupFunc = current.setupFunc;
  if (current?.disposeFunc !== undefined) config.disposeFunc = current.disposeFunc;
  if (current !== undefined) tf.unregisterKernel(name, backendName);
  tf.registerKernel(config);
  installed.set(name, { original: current, config });
}

/**
 * Takes every kernel in `installed` out of `backendName`'s registry, newest first, and re-registers the exact config
 * each replaced; a kernel someone else re-registered after us is left alone. Empties `installed`.
 */
export function uninstallKernels(tf: Tf, backendName: string, installed: InstalledKernels): void {
  for (const [name, { original, config }] of [...installed].reverse()) {
    const current = tf.getKernel(name, backendName) as KernelConfig | undefined;
    if (current?.kernelFunc === config.kernelFunc) {
      tf.unregisterKernel(name, backendName);
      if (original !== undefined) tf.registerKernel(original);
    }
    installed.delete(name);
  }
}

/** The kernels in `installed`, split into those the backend lacked and those it had. */
export function reportOf(installed: InstalledKernels): KernelReport {
  const registered: string[] = [];
  const replaced: string[] = [];
  for (const [name, { original }] of installed) (original === undefined ? registered : replaced).push(name);
  return { registered, replaced };
}

/** The registered config's kernel function, for a replacement that delegates to it. @throws if there is none. */
export function requireOriginal(installer: string, backendName: string, name: string, current: KernelConfig | undefined): KernelFunc {
  if (current === undefined) throw new Error(`${installer}: the ${backendName} backend has no '${name}' kernel to speed up`);
  return current.kernelFunc;
}
