import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createThreadGroup, failThreadGroup, threadGroupFailure } from '../comm/thread-group.js';
import { describe } from '../comm/communicator.js';
import { launchDefaults } from '../env/detect.js';
import { DistributedConfigError, MpiUnavailableError } from '../errors.js';
import { checkHeartbeatTimeoutMs, checkTimeoutMs, timeoutsFromEnv } from '../comm/timeouts.js';
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
  /**
   * Collective timeout for the replicas in ms (`FITSTREAM_TIMEOUT_MS`; default 1 800 000 = 30 min): it catches a
   * replica that is alive but stuck, and must outlast the longest legitimate wait at a collective (rank 0 writing a
   * checkpoint). Dead replicas are caught sooner: threads at once, MPI by `mpirun` or the heartbeat.
   */
  readonly timeoutMs?: number;
  /**
   * MPI: how long a rank may stay silent before its peers count it lost, in ms (`FITSTREAM_HEARTBEAT_TIMEOUT_MS`;
   * default 30 000; 0: no heartbeat). A rank whose process ends is seen at once. Threads need none.
   */
  readonly heartbeatTimeoutMs?: number;
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
  /** Extra `mpirun` arguments, passed through before the program, e.g. `['--oversubscribe', '--mca', 'btl', 'self,tcp']` (CLI: `--mpi-args`). */
  readonly mpirunArgs?: readonly string[];
  /**
   * Open MPI refuses to run as root unless `OMPI_ALLOW_RUN_AS_ROOT=1` and `OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1` are set
   * (its documented opt-in, e.g. in containers). Default `true`: as root, `launch` sets both for `mpirun` and says so in
   * the log; `false`: it refuses with a clear error instead of spending a restart on mpirun's refusal.
   */
  readonly allowRunAsRoot?: boolean;
  /** Threads: bytes per rank of shared memory for collectives (default 32 MiB; longer arrays run in chunks). */
  readonly bufferBytes?: number;
  /**
   * Threads: how long survivors may take to end after a replica died (to write an error backup, say), before they are
   * terminated (default 10 000 ms). A replica found hung by the collective timeout is terminated at once, without it.
   */
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
 * `FITSTREAM_BACKEND`, `FITSTREAM_RUN_ID`, `FITSTREAM_RESTART_COUNT`, `FITSTREAM_MAX_RESTARTS`, `FITSTREAM_TIMEOUT_MS`,
 * `FITSTREAM_HEARTBEAT_TIMEOUT_MS` (and `CUDA_VISIBLE_DEVICES` per local rank with `devices`). When a replica fails,
 * the others get `PeerLostError` (or, on MPI, are ended by `mpirun`), the group stops, and it restarts from the top up
 * to `maxRestarts` times (the script resumes from its checkpoint).
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
  if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, 'launch: timeoutMs');
  if (options.heartbeatTimeoutMs !== undefined) checkHeartbeatTimeoutMs(options.heartbeatTimeoutMs, 'launch: heartbeatTimeoutMs');
  // Checked here, before any replica starts, and forwarded explicitly: mpirun passes only named variables to other nodes.
  const envTimeouts = timeoutsFromEnv({ ...process.env, ...options.env });
  const timeoutMs = options.timeoutMs ?? envTimeouts.timeoutMs;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? envTimeouts.heartbeatTimeoutMs;
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
      ...(timeoutMs === undefined ? {} : { FITSTREAM_TIMEOUT_MS: String(timeoutMs) }),
      ...(heartbeatTimeoutMs === undefined ? {} : { FITSTREAM_HEARTBEAT_TIMEOUT_MS: String(heartbeatTimeoutMs) }),
      ...(process.env.FITSTREAM_HEARTBEAT_ADDR ? { FITSTREAM_HEARTBEAT_ADDR: process.env.FITSTREAM_HEARTBEAT_ADDR } : {}),
      ...(process.env.FITSTREAM_HEARTBEAT_PORT ? { FITSTREAM_HEARTBEAT_PORT: process.env.FITSTREAM_HEARTBEAT_PORT } : {}),
      ...(options.devices ? { FITSTREAM_DEVICES: options.devices.join(','), TF_FORCE_GPU_ALLOW_GROWTH: 'true' } : {}),
      ...options.env,
    };
    const attempt = backend === 'threads' ? await runThreads(options, nproc, timeoutMs, baseEnv) : await runMpi(options, worldSize, baseEnv, log);
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

function runThreads(options: LaunchOptions, size: number, timeoutMs: number | undefined, baseEnv: Record<string, string>): Promise<AttemptOutcome> {
  const group = createThreadGroup(size, { ...(options.bufferBytes === undefined ? {} : { bufferBytes: options.bufferBytes }), ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  const script = toUrl(options.script);
  const imports = (options.import ?? []).map(moduleSpecifier);
  const results: unknown[] = Array.from({ length: size }, () => undefined);
  const failures: { rank: number; error: string }[] = [];
  const workers: Worker[] = [];
  let running = size;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const exited = new Set<number>();
  const hung = new Map<number, string>();
  // A replica the collective timeout found hung never ends by itself: end it as soon as a peer reports it (polling the
  // group's failure word), not after the grace period, so the group restarts right after the timeout.
  const watch = setInterval(() => {
    const failure = threadGroupFailure(group);
    if (!failure) return;
    if (failure.reason === 'timeout') {
      for (const r of failure.lost) {
        if (exited.has(r) || hung.has(r)) continue;
        hung.set(r, `terminated by the launcher: no answer within the ${group.timeoutMs} ms collective timeout (hung)`);
        void workers[r]?.terminate();
      }
    }
    clearInterval(watch);
  }, 20);
  watch.unref();
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
        exited.add(rank);
        const failed = code !== 0 || error !== undefined || hung.has(rank);
        if (failed) failures.push({ rank, error: hung.get(rank) ?? (error === undefined ? `exited with code ${code}` : describe(error)) });
        // Peers still inside collectives with this rank must not wait for it.
        failThreadGroup(group, 'exited', rank, failed ? `rank ${rank} failed (${error === undefined ? `exit code ${code}` : describe(error)})` : `rank ${rank} finished while its peers still ran collectives`);
        if (failed && graceTimer === undefined && running > 0) {
          graceTimer = setTimeout(() => {
            for (const w of workers) void w.terminate();
          }, options.gracePeriodMs ?? 10_000);
        }
        if (running === 0) {
          if (graceTimer) clearTimeout(graceTimer);
          clearInterval(watch);
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

/** The variables Open MPI documents for running as root (`mpirun --allow-run-as-root` as environment). */
const OMPI_ROOT_VARIABLES = { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' } as const;

/** What `mpirun` needs to run as root: the variables to add (logged), or a refusal; nothing when not root or not Open MPI. */
export function rootEnvironment(
  flavor: 'openmpi' | 'mpich',
  options: { readonly allowRunAsRoot?: boolean | undefined; readonly uid?: number | undefined; readonly env: Readonly<Record<string, string | undefined>>; readonly args?: readonly string[] },
): Record<string, string> {
  if (flavor !== 'openmpi' || options.uid !== 0) return {};
  if (options.args?.includes('--allow-run-as-root')) return {};
  const missing = Object.entries(OMPI_ROOT_VARIABLES).filter(([k]) => options.env[k] !== '1');
  if (missing.length === 0) return {};
  if (options.allowRunAsRoot === false) {
    throw new DistributedConfigError(
      'launch: this process runs as root, and Open MPI\'s mpirun refuses root unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set (or --allow-run-as-root is passed). Run as another user, set those variables, or drop allowRunAsRoot: false to let launch set them.',
    );
  }
  return Object.fromEntries(missing);
}

function runMpi(options: LaunchOptions, worldSize: number, baseEnv: Record<string, string>, log: (line: string) => void): Promise<AttemptOutcome> {
  const mpirun = options.mpirun ?? 'mpirun';
  const flavor = mpirunFlavor(mpirun);
  if (!flavor) {
    throw new MpiUnavailableError(`launch: "${mpirun}" was not found. Install MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), or use backend 'threads' on one machine.`);
  }
  const rootEnv = rootEnvironment(flavor, { allowRunAsRoot: options.allowRunAsRoot, uid: process.getuid?.(), env: { ...process.env, ...baseEnv }, args: options.mpirunArgs ?? [] });
  if (Object.keys(rootEnv).length > 0) {
    log(`fitstream launch: running as root; setting ${Object.keys(rootEnv).map((k) => `${k}=1`).join(' ')} for mpirun (Open MPI's documented opt-in; pass allowRunAsRoot: false to refuse instead).`);
  }
  const names = Object.keys(baseEnv);
  const forward = flavor === 'openmpi' ? names.flatMap((n) => ['-x', n]) : ['-genvlist', names.join(',')];
  const hosts = options.hosts?.length ? (flavor === 'openmpi' ? ['--host', options.hosts.join(',')] : ['-hosts', options.hosts.join(',')]) : [];
  const imports = (options.import ?? []).map(moduleSpecifier);
  const nodeArgs = [...(options.execArgv ?? []), ...imports.flatMap((m) => ['--import', m]), '--import', preloadUrl(), fileURLToPathSafe(options.script), ...(options.args ?? [])];
  const args = ['-np', String(worldSize), ...hosts, ...forward, ...(options.mpirunArgs ?? []), process.execPath, ...nodeArgs];
  return new Promise((resolve, reject) => {
    const child = spawn(mpirun, args, { stdio: 'inherit', env: { ...process.env, ...baseEnv, ...rootEnv } });
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
