import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createThreadGroup, failThreadGroup } from '../comm/thread-group.js';
import { describe } from '../comm/communicator.js';
import { launchDefaults } from '../env/detect.js';
import { DistributedConfigError, MpiUnavailableError } from '../errors.js';
import { THREADS_KEY, type ThreadsWorkerData } from '../init.js';

/** Options of {@link launch}, modelled on torchrun's flags. */
export interface LaunchOptions {
  /** The training script every replica runs (an ES module path or `file:` URL); it calls `init()` to join the group. */
  readonly script: string | URL;
  /** Arguments for the script (`process.argv.slice(2)` in each replica). */
  readonly args?: readonly string[];
  /** `'threads'`: worker threads of this process (cpu/wasm backends, one machine). `'mpi'`: processes through `mpirun`. Default: threads on one node, MPI on several. */
  readonly backend?: 'threads' | 'mpi';
  /** Replicas per node (default `FITSTREAM_NPROC_PER_NODE`/`PET_NPROC_PER_NODE`, else 1). */
  readonly nprocPerNode?: number;
  /** Nodes (default `FITSTREAM_NNODES`/`PET_NNODES`, else 1). With MPI, node 0 starts every rank through `mpirun`. */
  readonly nnodes?: number;
  /** This node's rank (default `FITSTREAM_NODE_RANK`/`PET_NODE_RANK`, else 0). */
  readonly nodeRank?: number;
  /** Rendezvous address passed to replicas as `MASTER_ADDR` (default 127.0.0.1). */
  readonly masterAddr?: string;
  /** Rendezvous port passed to replicas as `MASTER_PORT` (default 29500). */
  readonly masterPort?: number;
  /** Restarts of the whole group after a failure (default 0). Replicas see `FITSTREAM_RESTART_COUNT` and resume from their last checkpoint. */
  readonly maxRestarts?: number;
  /** Collective timeout for the replicas in ms (`FITSTREAM_TIMEOUT_MS`; default 300 000). */
  readonly timeoutMs?: number;
  /** Extra environment for the replicas. */
  readonly env?: Readonly<Record<string, string>>;
  /** Modules each replica imports before the script (node's `--import`), e.g. `['tsx/esm']` for TypeScript scripts. */
  readonly import?: readonly string[];
  /** Node options for the replicas (threads: the workers' `execArgv`; mpi: before the script), e.g. `['--conditions=development']`. */
  readonly execArgv?: readonly string[];
  /** GPUs: replica with local rank `l` gets `CUDA_VISIBLE_DEVICES=devices[l % devices.length]` and `TF_FORCE_GPU_ALLOW_GROWTH=true`. */
  readonly devices?: readonly string[];
  /** MPI hosts with slots, `['node1:4', 'node2:4']` (`mpirun --host`). */
  readonly hosts?: readonly string[];
  /** The MPI launcher (default `mpirun`). */
  readonly mpirun?: string;
  /** Extra `mpirun` arguments, e.g. `['--oversubscribe']`. */
  readonly mpirunArgs?: readonly string[];
  /** Threads: bytes per rank of shared memory for collectives (default 32 MiB; longer arrays run in chunks). */
  readonly bufferBytes?: number;
  /** Threads: how long survivors may take to fail after a replica died, before they are terminated (default 10 000 ms). */
  readonly gracePeriodMs?: number;
  readonly runId?: string;
  /** Launcher messages (restarts, failures). Default `console.error`; `null` for none. */
  readonly log?: ((line: string) => void) | null;
}

/** One run of the group. */
export interface LaunchAttempt {
  readonly restartCount: number;
  readonly exitCode: number;
  readonly durationMs: number;
  /** Replicas that failed, with what they died of (threads), or the MPI launcher's exit (mpi). */
  readonly failures: readonly { readonly rank: number | undefined; readonly error: string }[];
}

/** What {@link launch} resolves with. */
export interface LaunchResult {
  readonly ok: boolean;
  /** 0 when every replica succeeded; otherwise the first failure's code (for `process.exitCode`). */
  readonly exitCode: number;
  readonly backend: 'threads' | 'mpi';
  readonly worldSize: number;
  readonly restarts: number;
  readonly attempts: readonly LaunchAttempt[];
  /** Threads: the last message each replica posted with `parentPort.postMessage` in the final attempt. */
  readonly results: readonly unknown[];
}

const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  for (const m of workerData.__fitstreamImports) await import(m);
  await import(workerData.__fitstreamScript);
})().catch((error) => { process.nextTick(() => { throw error; }); });
`;

const toUrl = (script: string | URL): string => {
  if (script instanceof URL) return script.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(script) && !/^[a-z]:[\\/]/i.test(script)) return script;
  return pathToFileURL(isAbsolute(script) ? script : resolvePath(script)).href;
};

const moduleSpecifier = (m: string): string => (m.startsWith('.') || isAbsolute(m) ? pathToFileURL(resolvePath(m)).href : m);

/**
 * Starts `nprocPerNode × nnodes` replicas of `script` and supervises them, like torchrun: every replica gets
 * `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `GROUP_RANK`, `NNODES`, `MASTER_ADDR`, `MASTER_PORT`,
 * `FITSTREAM_BACKEND`, `FITSTREAM_RUN_ID`, `FITSTREAM_RESTART_COUNT`, `FITSTREAM_MAX_RESTARTS`, `FITSTREAM_TIMEOUT_MS`
 * (and `CUDA_VISIBLE_DEVICES` per local rank with `devices`). When a replica fails, the others get `PeerLostError`,
 * the group stops, and it restarts from the top up to `maxRestarts` times (the script resumes from its checkpoint).
 *
 * @example
 * ```ts
 * const result = await launch({ script: './train.js', nprocPerNode: 2, backend: 'threads', maxRestarts: 1 });
 * process.exitCode = result.exitCode;
 * ```
 */
export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const defaults = launchDefaults();
  const nnodes = options.nnodes ?? defaults.nnodes ?? 1;
  const nodeRank = options.nodeRank ?? defaults.nodeRank ?? 0;
  const nproc = options.nprocPerNode ?? defaults.nprocPerNode ?? 1;
  const maxRestarts = options.maxRestarts ?? defaults.maxRestarts ?? 0;
  const backend = options.backend ?? (nnodes > 1 ? 'mpi' : 'threads');
  for (const [name, value, min] of [['nprocPerNode', nproc, 1], ['nnodes', nnodes, 1], ['maxRestarts', maxRestarts, 0]] as const) {
    if (!Number.isInteger(value) || value < min) throw new DistributedConfigError(`launch: ${name} must be an integer ≥ ${min}, got ${String(value)}.`);
  }
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes) throw new DistributedConfigError(`launch: nodeRank must be in [0, ${nnodes - 1}], got ${String(nodeRank)}.`);
  if (backend === 'threads' && nnodes > 1) throw new DistributedConfigError("launch: the threads backend runs on one machine; use backend 'mpi' for several nodes.");
  if (backend === 'mpi' && nodeRank !== 0) {
    throw new DistributedConfigError(`launch: with backend 'mpi', node 0 starts all ${nnodes * nproc} ranks through mpirun (pass hosts); do not launch on node ${nodeRank}.`);
  }
  const log = options.log === null ? () => undefined : (options.log ?? ((line: string) => console.error(line)));
  const runId = options.runId ?? randomUUID();
  const worldSize = nnodes * nproc;
  const attempts: LaunchAttempt[] = [];
  let results: unknown[] = [];
  for (let restartCount = 0; ; restartCount++) {
    const started = performance.now();
    const baseEnv: Record<string, string> = {
      WORLD_SIZE: String(worldSize),
      LOCAL_WORLD_SIZE: String(nproc),
      NNODES: String(nnodes),
      MASTER_ADDR: options.masterAddr ?? defaults.masterAddr ?? '127.0.0.1',
      MASTER_PORT: String(options.masterPort ?? defaults.masterPort ?? 29500),
      FITSTREAM_BACKEND: backend,
      FITSTREAM_RUN_ID: runId,
      FITSTREAM_RESTART_COUNT: String(restartCount),
      FITSTREAM_MAX_RESTARTS: String(maxRestarts),
      ...(options.timeoutMs === undefined ? {} : { FITSTREAM_TIMEOUT_MS: String(options.timeoutMs) }),
      ...(options.devices ? { FITSTREAM_DEVICES: options.devices.join(','), TF_FORCE_GPU_ALLOW_GROWTH: 'true' } : {}),
      ...options.env,
    };
    const attempt = backend === 'threads' ? await runThreads(options, nproc, restartCount, baseEnv) : await runMpi(options, worldSize, baseEnv);
    results = attempt.results;
    const record: LaunchAttempt = { restartCount, exitCode: attempt.exitCode, durationMs: performance.now() - started, failures: attempt.failures };
    attempts.push(record);
    if (attempt.exitCode === 0) break;
    const summary = attempt.failures.map((f) => (f.rank === undefined ? f.error : `rank ${f.rank}: ${f.error}`)).join('; ');
    if (restartCount >= maxRestarts) {
      log(`fitstream launch: the group failed (${summary})${maxRestarts > 0 ? ` after ${maxRestarts} restart${maxRestarts === 1 ? '' : 's'}` : ''}.`);
      break;
    }
    log(`fitstream launch: the group failed (${summary}); restarting all ${worldSize} replicas (restart ${restartCount + 1} of ${maxRestarts}).`);
  }
  const last = attempts[attempts.length - 1]!;
  return { ok: last.exitCode === 0, exitCode: last.exitCode, backend, worldSize, restarts: attempts.length - 1, attempts, results };
}

interface AttemptOutcome {
  exitCode: number;
  failures: { rank: number | undefined; error: string }[];
  results: unknown[];
}

function runThreads(options: LaunchOptions, size: number, restartCount: number, baseEnv: Record<string, string>): Promise<AttemptOutcome> {
  const group = createThreadGroup(size, { ...(options.bufferBytes === undefined ? {} : { bufferBytes: options.bufferBytes }), ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
  const script = toUrl(options.script);
  const imports = (options.import ?? []).map(moduleSpecifier);
  const results: unknown[] = Array.from({ length: size }, () => undefined);
  const failures: { rank: number; error: string }[] = [];
  const workers: Worker[] = [];
  let running = size;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  return new Promise((resolve) => {
    for (let rank = 0; rank < size; rank++) {
      const data: ThreadsWorkerData = { group, rank };
      const device = options.devices && options.devices.length ? { CUDA_VISIBLE_DEVICES: options.devices[rank % options.devices.length]! } : {};
      const env = { ...process.env, ...baseEnv, RANK: String(rank), LOCAL_RANK: String(rank), GROUP_RANK: '0', ...device };
      const worker = new Worker(BOOTSTRAP, {
        eval: true,
        workerData: { [THREADS_KEY]: data, __fitstreamScript: script, __fitstreamImports: imports },
        env,
        argv: [...(options.args ?? [])],
        ...(options.execArgv ? { execArgv: [...options.execArgv] } : {}),
      });
      workers.push(worker);
      let error: unknown;
      worker.on('message', (m: unknown) => {
        results[rank] = m;
      });
      worker.on('error', (e) => {
        error = e;
      });
      worker.on('exit', (code) => {
        running -= 1;
        const failed = code !== 0 || error !== undefined;
        if (failed) failures.push({ rank, error: error === undefined ? `exited with code ${code}` : describe(error) });
        // Peers still inside collectives with this rank must not wait for it.
        failThreadGroup(group, 'exited', rank, failed ? `rank ${rank} failed (${error === undefined ? `exit code ${code}` : describe(error)})` : `rank ${rank} finished while its peers still ran collectives`);
        if (failed && graceTimer === undefined && running > 0) {
          graceTimer = setTimeout(() => {
            for (const w of workers) void w.terminate();
          }, options.gracePeriodMs ?? 10_000);
        }
        if (running === 0) {
          if (graceTimer) clearTimeout(graceTimer);
          failures.sort((a, b) => a.rank - b.rank);
          resolve({ exitCode: failures.length ? 1 : 0, failures, results });
        }
      });
    }
  });
}

function mpirunFlavor(mpirun: string): 'openmpi' | 'mpich' | undefined {
  const out = spawnSync(mpirun, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (out.error) return undefined;
  const text = `${out.stdout}${out.stderr}`;
  return /open mpi|open-rte|openrte/i.test(text) ? 'openmpi' : 'mpich';
}

/** Whether an MPI launcher is on the PATH (tests skip MPI cases without it). */
export function hasMpirun(mpirun = 'mpirun'): boolean {
  return mpirunFlavor(mpirun) !== undefined;
}

function preloadUrl(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './preload.ts' : './preload.js', here).href;
}

function runMpi(options: LaunchOptions, worldSize: number, baseEnv: Record<string, string>): Promise<AttemptOutcome> {
  const mpirun = options.mpirun ?? 'mpirun';
  const flavor = mpirunFlavor(mpirun);
  if (!flavor) {
    throw new MpiUnavailableError(`launch: "${mpirun}" was not found. Install MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), or use backend 'threads' on one machine.`);
  }
  const names = Object.keys(baseEnv);
  const forward = flavor === 'openmpi' ? names.flatMap((n) => ['-x', n]) : ['-genvlist', names.join(',')];
  const hosts = options.hosts?.length ? (flavor === 'openmpi' ? ['--host', options.hosts.join(',')] : ['-hosts', options.hosts.join(',')]) : [];
  const imports = (options.import ?? []).map(moduleSpecifier);
  const nodeArgs = [...(options.execArgv ?? []), ...imports.flatMap((m) => ['--import', m]), '--import', preloadUrl(), fileURLToPathSafe(options.script), ...(options.args ?? [])];
  const args = ['-np', String(worldSize), ...hosts, ...forward, ...(options.mpirunArgs ?? []), process.execPath, ...nodeArgs];
  return new Promise((resolve, reject) => {
    const child = spawn(mpirun, args, { stdio: 'inherit', env: { ...process.env, ...baseEnv } });
    child.once('error', (e) => reject(new MpiUnavailableError(`launch: could not start ${mpirun}: ${describe(e)}`)));
    child.once('exit', (code, signal) => {
      const exitCode = code ?? (signal ? 128 : 1);
      resolve({ exitCode, failures: exitCode === 0 ? [] : [{ rank: undefined, error: `${mpirun} exited with ${code === null ? `signal ${signal}` : `code ${code}`}` }], results: [] });
    });
  });
}

function fileURLToPathSafe(script: string | URL): string {
  const url = toUrl(script);
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}
