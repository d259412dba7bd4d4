import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launch, type LaunchOptions, type LaunchResult } from '../index.js';

/**
 * A module that registers tsx in the thread or process that imports it (tsx's own entry registers only on the main
 * thread): a data: URL importing tsx's API by absolute URL.
 */
export function tsxRegistration(): string {
  const api = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
  return `data:text/javascript,import { register } from ${JSON.stringify(pathToFileURL(api).href)}; register();`;
}

/** Runs a TypeScript test-support script as `n` thread replicas (tsx inside the workers, workspace sources). */
export function launchThreads(script: string, n: number, options: Partial<LaunchOptions> = {}): Promise<LaunchResult> {
  return launch({
    script: fileURLToPath(new URL(script, import.meta.url)),
    nprocPerNode: n,
    backend: 'threads',
    import: [tsxRegistration()],
    execArgv: ['--conditions=@fitstream/source'],
    log: null,
    ...options,
  });
}

/** The same as `n` MPI ranks on loopback, as root in CI. */
export function launchMpi(script: string, n: number, options: Partial<LaunchOptions> = {}): Promise<LaunchResult> {
  return launch({
    script: fileURLToPath(new URL(script, import.meta.url)),
    nprocPerNode: n,
    backend: 'mpi',
    import: [tsxRegistration()],
    execArgv: ['--conditions=@fitstream/source'],
    mpirunArgs: ['--oversubscribe', '--mca', 'btl', 'self,vader,tcp', '--mca', 'btl_tcp_if_include', 'lo'],
    log: null,
    ...options,
    env: { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_btl_vader_single_copy_mechanism: 'none', ...options.env },
  });
}
