import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { BackendSelection } from '@fitstream/core';

const requireHere = createRequire(import.meta.url);

/** Every fitstream package, in the order `environment.json` and `fitstream doctor` list them. */
const FITSTREAM_PACKAGES = ['cli', 'core', 'util', 'checkpoint', 'backends', 'backend-wasm', 'optimizers', 'losses', 'callbacks', 'samplers', 'regularisers', 'datasets', 'time-series', 'distributed', 'transfer'] as const;

/** Resolves from the core's own directory too: its dependencies (util, checkpoint, …) need not be hoisted next to the CLI. */
function requireFromCore(): NodeJS.Require | undefined {
  try {
    return createRequire(requireHere.resolve('@fitstream/core/package.json'));
  } catch {
    return undefined;
  }
}

/** The installed version of a package, or `undefined` when it is not installed. */
export function packageVersion(name: string): string | undefined {
  for (const load of [requireHere, requireFromCore()]) {
    try {
      if (load) return (load(`${name}/package.json`) as { version: string }).version;
    } catch {
      // not resolvable from there: try the next place
    }
  }
  return undefined;
}

/** Whether a package can be resolved from here, without loading it. */
export function packageDirectory(name: string): string | undefined {
  try {
    return requireHere.resolve(`${name}/package.json`).replace(/[/\\]package\.json$/, '');
  } catch {
    return undefined;
  }
}

/** Versions of everything that shapes a run's numbers. */
export function versions(): { node: string; tfjs: Record<string, string | null>; fitstream: Record<string, string | null> } {
  const v = (name: string) => packageVersion(name) ?? null;
  return {
    node: process.version,
    tfjs: {
      '@tensorflow/tfjs': tf.version.tfjs,
      '@tensorflow/tfjs-core': tf.version['tfjs-core'] ?? null,
      '@tensorflow/tfjs-layers': tf.version['tfjs-layers'] ?? null,
      '@tensorflow/tfjs-backend-cpu': tf.version['tfjs-backend-cpu'] ?? null,
      '@tensorflow/tfjs-backend-wasm': v('@tensorflow/tfjs-backend-wasm'),
      '@tensorflow/tfjs-node': v('@tensorflow/tfjs-node'),
      '@tensorflow/tfjs-node-gpu': v('@tensorflow/tfjs-node-gpu'),
    },
    fitstream: Object.fromEntries(FITSTREAM_PACKAGES.map((name) => [`@fitstream/${name}`, v(`@fitstream/${name}`)])),
  };
}

/** What the wasm backend runs with, when it is the active backend. */
export async function wasmFeatures(): Promise<{ simd: boolean; threads: boolean } | undefined> {
  if (tf.getBackend() !== 'wasm') return undefined;
  const flag = async (name: string) => {
    try {
      return Boolean(await tf.env().getAsync(name));
    } catch {
      return false;
    }
  };
  return { simd: await flag('WASM_HAS_SIMD_SUPPORT'), threads: await flag('WASM_HAS_MULTITHREAD_SUPPORT') };
}

/** `environment.json` of a run. */
export async function environmentRecord(selection: BackendSelection, requested: string): Promise<Record<string, unknown>> {
  return {
    ...versions(),
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    backend: {
      requested,
      name: selection.backend,
      candidate: selection.candidate,
      fallbacks: selection.fallbacks,
      wasm: (await wasmFeatures()) ?? null,
    },
    argv: process.argv.slice(2),
    startedAt: new Date().toISOString(),
  };
}
