/**
 * A float32 GEMM on two threads: the main JS thread and one `worker_threads` Worker run the same hand-assembled
 * WebAssembly SIMD module (gemm-module.ts) on one shared `WebAssembly.Memory`, each on its half of C, and meet through
 * `Atomics.wait`/`Atomics.notify` on a control block in that memory (gemm-worker-source.ts). tfjs-backend-wasm cannot
 * run its own threads under Node (docs/decisions/0002-wasm-threads.md); the `BatchMatMul`/`_FusedMatMul` kernels run
 * their large products on this (gemm-mat-mul.ts), on the calling thread until the worker is ready
 * ({@link createSharedGemm}).
 *
 * One call: copy A and B into the shared memory (`load`: tfjs' heap is not shared, so the worker cannot read it), post
 * the job and work on it on both threads (`compute`), copy C out (`read`). The threads take chunks of C — column panels (both share one packed B, each packing the panels
 * it takes) or rows (each packs all of B for itself) — from a counter in the shared memory, so a worker that wakes late
 * or is preempted takes fewer chunks instead of holding the main thread up.
 *
 * Every wait is bounded (`timeoutMs`): a worker that claimed a job and does not finish it makes `compute` throw; one
 * that claims no job (all of them done by the main thread alone meanwhile) throws once that has lasted `timeoutMs`; the
 * instance then refuses further work. The worker is `unref`'d (it never keeps the process alive) and `dispose` stops and terminates it.
 * The second thread needs Node (worker_threads, `Atomics.wait` on the main thread); one thread runs anywhere with
 * WebAssembly SIMD and shared memory.
 */
// Types only: `node:worker_threads` comes from `#platform/threads`, which is empty in a browser build.
import type { MessagePort, Worker } from 'node:worker_threads';
import { workerThreadsModule } from '#platform/threads';
import { assertPositiveInteger, FitstreamInputError } from '@fitstream/util';
import { COLUMNS_PER_PANEL, Descriptor, GEMM_EXPORT_NAMES, gemmModuleBytes, ROWS_PER_TILE, type GemmExports } from './gemm-module.js';
import { CONTROL_BYTES, ControlSlot, GEMM_WORKER_SOURCE, TASK_CLOSED, TaskField, type GemmWorkerData } from './gemm-worker-source.js';

/** The parts of the WebAssembly JS API used here (the project's TypeScript lib has no WebAssembly types). */
interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => SharedMemory;
}

// Constants, then an interface of readonly numbers: the same shape as apps/bench's keras-peer.ts opening, nothing shared.
const PAGE = 65536;
/** Largest shared memory this GEMM grows to (1 GiB: A, B, C and packed B of a 4096³ product fit). */
const MAX_PAGES = 16384;
/** Bytes read past the end of A and B by design (see gemm-module.ts), kept zeroed between regions. */
const SLACK = 64;

/** The shape of one product C[m, n] = op(A)·op(B): op(A) is `[m, k]`, op(B) `[k, n]`. */
export interface GemmShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** A is stored `[k, m]` and used transposed. */
  readonly transposeA?: boolean;
  /** B is stored `[n, k]` and used transposed. */
  readonly transposeB?: boolean;
}

/** Options of {@link createTwoThreadGemm}. */
export interface TwoThreadGemmOptions {
  /** Bound on every wait for the worker, in milliseconds (default 10 000): starting it and each job. */
  readonly timeoutMs?: number;
  /**
   * How long each thread spins on the other before it waits, in microseconds (default 100): the main thread then blocks
   * in `Atomics.wait`, the worker dozes ({@link dozeMicros}). Spinning saves the futex wake-up (tens of µs) on
   * back-to-back products; it occupies a core while it lasts.
   */
  readonly spinMicros?: number;
  /**
   * How long the worker dozes after spinning before it sleeps, in microseconds (default 5000): it looks at the job
   * counter in short timed waits (gemm-worker-source.ts `DOZE_STEP_MS`), so a job posted meanwhile needs no
   * `Atomics.notify`, which costs the posting thread ≈ 28 µs per wake-up on this 2-core VM. An MLP training step posts
   * five products and found the worker asleep at two of them (55–65 µs of notifies a step); dozing, none: MLP rounds
   * 2.9–3.8 % faster, paired against rounds without it in one process (CNN, LSTM, GRU unchanged). The worker uses a
   * little of its core while it dozes, and sleeps after.
   */
  readonly dozeMicros?: number;
  /** The worker's source (default the real one, gemm-worker-source.ts). A test seam: tests pass a worker that stalls. */
  readonly workerSource?: string;
}

/** A two-thread GEMM bound to its worker and shared memory; {@link TwoThreadGemm.dispose} ends both. */
export interface TwoThreadGemm {
  /**
   * C = op(A)·op(B), row-major, on `threads` threads (default 2): `load`, `compute`, `read` in one call. `a` holds
   * `m·k` floats (`[m, k]`, or `[k, m]` with `transposeA`), `b` `k·n` (`[k, n]`, or `[n, k]` with `transposeB`).
   * Returns `out` (or a new array) holding the `m·n` floats of C.
   */
  matMul(a: Float32Array, b: Float32Array, shape: GemmShape, threads?: 1 | 2, out?: Float32Array): Float32Array;
  /** Copies A and B into the shared memory (growing it if needed) and lays out the job for `shape`. */
  load(a: Float32Array, b: Float32Array, shape: GemmShape): void;
  /** Multiplies the loaded operands on one or two threads; throws when the worker fails or does not answer in time. */
  compute(threads?: 1 | 2): void;
  /** Copies the last computed C (`m·n` floats) into `out` (or a new array) and returns it. */
  read(out?: Float32Array): Float32Array;
  /**
   * How many chunks of the last `compute` each thread took (the worker's 0 on one thread). A worker that takes few
   * chunks was late or preempted: on a machine whose second core is busy, two threads do not pay.
   */
  lastChunks(): { readonly main: number; readonly worker: number };
  /** Whether the worker thread is running (false once it exited: after `dispose`, or if it died). */
  workerRunning(): boolean;
  /** Stops and terminates the worker; later calls throw. Resolves when the worker has exited. */
  dispose(): Promise<void>;
}

/**
 * A function both threads run on the shared memory, one chunk at a time (see {@link SharedGemm.runTask}): `gemm` is the
 * GEMM module's functions and `calls` the task's own WebAssembly module's, both on the shared memory; `ints` views the
 * whole memory, `params` is the byte offset of the task's parameters in it. The worker evaluates the function's source
 * text, so it must be self-contained: a plain `function` that refers to nothing outside its parameters and declares no
 * nested functions.
 */
export type SharedTaskFunction<Calls extends object> = (gemm: GemmExports, calls: Calls, ints: Int32Array, params: number, chunk: number) => void;

/** A task: its id (≥ 1, unique per function) and its function. */
export interface SharedTask<Calls extends object> {
  readonly id: number;
  readonly run: SharedTaskFunction<Calls>;
}

/** A WebAssembly module a task calls: its id (≥ 1), the compiled module (posted to the worker) and its instance here. */
export interface SharedTaskModule<Calls extends object> {
  readonly id: number;
  readonly compiled: object;
  readonly calls: Calls;
}

/**
 * A GEMM on the shared memory that runs on the calling thread from the start and on two threads once
 * {@link SharedGemm.startWorker} has resolved: until then `compute(2)` runs on one. Each element of C is summed in the
 * same order whichever thread computes it, so C is bit-identical on one thread and on two.
 */
export interface SharedGemm extends TwoThreadGemm {
  /** Starts the worker (once; later calls return the same promise). Rejects as {@link createTwoThreadGemm} does. */
  startWorker(): Promise<void>;
  /** Whether `compute(2)` runs on two threads now (the worker is attached and the instance usable). */
  twoThreads(): boolean;
  /**
   * Lays out a job whose B the caller packs (gemm-module.ts `pack`'s layout: panel p at p·k·32 bytes, 8 columns each,
   * ⌈n/8⌉ panels): `writeA(floats, at)` writes op(A)'s m·k floats at float index `at` ([m, k], or [k, m] with
   * `transposeA`), then `packedB` (or what it returns: the caller may pack it just then) is copied as it is. The
   * copies wait for the next {@link computeAlongside}, which makes them after it has posted the job (`compute`,
   * `result` and `read` make them first). A `packedB` of the wrong length throws then, or here for an array.
   * {@link computeAlongside} (or `compute`) then only multiplies; {@link result} views C.
   */
  loadPacked(shape: GemmShape, writeA: (floats: Float32Array, at: number) => void, packedB: Float32Array | (() => Float32Array)): void;
  /**
   * Posts the loaded job with its chunks closed, makes the copies {@link loadPacked} left and opens the chunks: a
   * sleeping worker's wake-up (≈ 50–70 µs here) passes while this thread copies. Then runs `mainPart` on this thread
   * (work of the caller's own, e.g. the rest of a product in place on another memory) while the worker takes the
   * job's chunks, takes whatever chunks are left itself and waits for the worker's. A worker that has not woken by
   * then leaves the whole job to this thread; a failure of `mainPart` is rethrown once the job is done, a failure of
   * the copies at once (no chunk is left to take).
   */
  computeAlongside(mainPart: () => void): void;
  /** C of the last job (`m·n` floats, row-major) as a view of the shared memory, valid until the next load. */
  result(): Float32Array;
  /** The shared `WebAssembly.Memory` (a task's module is instantiated on it). */
  readonly memory: { readonly buffer: SharedArrayBuffer };
  /** The GEMM module's functions on the calling thread (byte offsets into the shared memory). */
  readonly exports: GemmExports;
  /**
   * Reserves `bytes` of the shared memory for a task's data and returns their byte offset (64-aligned, always the
   * same; the bytes keep whatever they held). The region is valid until the next `load` or `workspace`; views of the
   * memory made before this call may be stale (it may grow the memory): take them from {@link floats} and
   * {@link ints} afterwards. The deferred copies run first unless `keepDeferred` (a task that reads their data where
   * it lies, past which its own region starts).
   */
  workspace(bytes: number, keepDeferred?: boolean): number;
  /**
   * Counts the calls that may overwrite the shared memory (`load`, `loadPacked`, `workspace`): what a task left there
   * is intact while this is unchanged.
   */
  readonly generation: number;
  /**
   * Registers a copy out of the shared memory that may wait until someone needs it: `flush` runs at the next `load`,
   * `loadPacked` or `workspace` (before it overwrites anything; a `workspace` that keeps the deferred copies leaves them
   * pending), at {@link flushDeferred} and at `dispose` — whichever comes first — once.
   */
  defer(flush: () => void): void;
  /** Runs the deferred copies now. */
  flushDeferred(): void;
  /** Whether a {@link workspace} of `bytes` fits in the shared memory's maximum (1 GiB). */
  fits(bytes: number): boolean;
  /** The whole shared memory as float32 (renewed when the memory grows). */
  floats(): Float32Array;
  /** The whole shared memory as int32 (renewed when the memory grows). */
  ints(): Int32Array;
  /**
   * Runs `task` on chunks 0 … `chunks` − 1, which this thread and the worker take from a shared counter (this thread
   * alone while there is no worker), with its parameters at byte `params` and `module`'s functions; returns when every
   * chunk is done. Throws as `compute` does when the worker fails or does not finish in time.
   *
   * `prepare` (e.g. copying the task's data into the workspace) runs after the job is posted and before any chunk is
   * taken: the worker wakes meanwhile (a wake-up from `Atomics.wait` costs tens to hundreds of µs) and waits for the
   * chunks to open. If `prepare` throws, no chunk runs and the error is rethrown once the worker has let go of the job.
   */
  runTask<Calls extends object>(task: SharedTask<Calls>, params: number, chunks: number, module: SharedTaskModule<Calls>, prepare?: () => void): void;
}

function wasmApi(): WasmApi {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) throw new Error('two-thread GEMM: this engine has no WebAssembly.');
  return api;
}

let compiled: object | undefined;

/** The GEMM module compiled once per process; throws when the engine rejects it (no SIMD or no threads support). */
function gemmModule(api: WasmApi): object {
  if (compiled === undefined) {
    const bytes = gemmModuleBytes();
    if (!api.validate(bytes)) throw new Error('two-thread GEMM: this engine does not validate the module (WebAssembly SIMD and shared memory are needed).');
    compiled = new api.Module(bytes);
  }
  return compiled;
}

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

function checkShape(shape: GemmShape, a: Float32Array, b: Float32Array): void {
  assertPositiveInteger(shape.m, 'shape.m');
  assertPositiveInteger(shape.k, 'shape.k');
  assertPositiveInteger(shape.n, 'shape.n');
  if (a.length !== shape.m * shape.k) {
    throw new FitstreamInputError('a', `must hold m·k = ${shape.m * shape.k} floats for shape ${describeShape(shape)}, got ${a.length}.`);
  }
  if (b.length !== shape.k * shape.n) {
    throw new FitstreamInputError('b', `must hold k·n = ${shape.k * shape.n} floats for shape ${describeShape(shape)}, got ${b.length}.`);
  }
}

function describeShape({ m, k, n, transposeA = false, transposeB = false }: GemmShape): string {
  return `{ m: ${m}, k: ${k}, n: ${n}, transposeA: ${transposeA}, transposeB: ${transposeB} }`;
}

/** Where one job's operands lie in the shared memory (byte offsets). */
interface Layout {
  readonly shape: Required<GemmShape>;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  /** Packed B for part 0 (and part 1 when the parts split columns). */
  readonly packed0: number;
  /** Packed B for part 1 when the parts split rows. */
  readonly packed1: number;
  readonly end: number;
  /** B arrived packed (at packed0, shared by both parts): no B region, no packing. */
  readonly prepacked: boolean;
}

function layoutFor(shape: GemmShape, prepacked = false): Layout {
  const { m, k, n } = shape;
  const panels = Math.ceil(n / COLUMNS_PER_PANEL);
  const a = CONTROL_BYTES + Descriptor.bytes;
  const b = align64(a + 4 * m * k + SLACK);
  const c = align64(b + (prepacked ? 0 : 4 * k * n + SLACK));
  const packed0 = align64(c + 4 * m * n);
  const packed1 = align64(packed0 + panels * k * 32);
  const end = prepacked ? packed0 + panels * k * 32 : packed1 + panels * k * 32;
  const transposes = { transposeA: shape.transposeA ?? false, transposeB: prepacked ? false : (shape.transposeB ?? false) };
  return { shape: { m, k, n, ...transposes }, a, b, c, packed0, packed1, end, prepacked };
}

/** How a job is cut: chunks of `chunk` column panels, or of `chunk` rows, which the threads take from a counter. */
interface Plan {
  readonly byRows: boolean;
  readonly chunk: number;
}

/** Chunks per job on two threads: enough that a late thread evens out, few enough that taking one costs nothing. */
const CHUNKS = 16;

/**
 * The plan for `threads` threads. Columns when there are at least as many panels as row tiles (the parts share one
 * packed B); rows otherwise (each part packs all of B, which is then the small operand). One thread: chunks of
 * columns too, each packed just before its products, while it is still in cache — packing all of B first ran at
 * 17–19 GFLOP/s against 26–28 in chunks (the MLP's products and 1024³, measured with gemm-bench.ts).
 */
function planOf(layout: Layout, threads: 1 | 2): Plan {
  const { m, n } = layout.shape;
  const panels = Math.ceil(n / COLUMNS_PER_PANEL);
  const rowTiles = Math.ceil(m / ROWS_PER_TILE);
  if (threads === 1 || layout.prepacked) return { byRows: false, chunk: Math.ceil(panels / CHUNKS) };
  if (panels >= 2 && panels >= rowTiles) return { byRows: false, chunk: Math.ceil(panels / CHUNKS) };
  return { byRows: true, chunk: Math.ceil(rowTiles / CHUNKS) * ROWS_PER_TILE };
}

/** How many chunks `plan` cuts the job into: a counter at this value hands out none. */
function chunksOf(layout: Layout, plan: Plan): number {
  const limit = plan.byRows ? layout.shape.m : Math.ceil(layout.shape.n / COLUMNS_PER_PANEL);
  return Math.ceil(limit / plan.chunk);
}

/**
 * Starts the worker of a two-thread GEMM and resolves once it has instantiated the module on the shared memory.
 * Rejects when the engine cannot run the module or the worker is not ready within `timeoutMs`.
 *
 * @example
 * ```ts
 * const gemm = await createTwoThreadGemm();
 * try {
 *   const c = gemm.matMul(a, b, { m: 64, k: 784, n: 256 }); // [64, 784]·[784, 256]
 * } finally {
 *   await gemm.dispose();
 * }
 * ```
 */
export async function createTwoThreadGemm(options: TwoThreadGemmOptions = {}): Promise<TwoThreadGemm> {
  const gemm = createSharedGemm(options);
  await gemm.startWorker();
  return gemm;
}

/**
 * The GEMM without its worker yet (synchronous: compiles and instantiates the module on a new shared memory); it runs
 * on the calling thread until {@link SharedGemm.startWorker} resolves. Throws when the engine cannot run the module.
 */
export function createSharedGemm(options: TwoThreadGemmOptions = {}): SharedGemm {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const spinMicros = options.spinMicros ?? 100;
  if (!(timeoutMs > 0)) throw new FitstreamInputError('options.timeoutMs', `must be > 0, got ${timeoutMs}.`);
  if (!(spinMicros >= 0)) throw new FitstreamInputError('options.spinMicros', `must be ≥ 0, got ${spinMicros}.`);
  const dozeMicros = options.dozeMicros ?? 5000;
  if (!(dozeMicros >= 0) || !Number.isFinite(dozeMicros)) {
    throw new FitstreamInputError('options.dozeMicros', `must be a finite number of microseconds ≥ 0 (0: sleep right after spinning), got ${dozeMicros}.`);
  }
  const api = wasmApi();
  const module = gemmModule(api);
  const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const { exports } = new api.Instance(module, { env: { memory } });
  if (GEMM_EXPORT_NAMES.some((name) => typeof exports[name] !== 'function')) throw new Error('two-thread GEMM: the module lacks an export.');
  const gemmExports = exports as unknown as GemmExports;
  const start = async (): Promise<AttachedWorker> => {
    const threads = workerThreadsModule;
    if (threads === undefined) throw new Error('two-thread GEMM: no worker_threads here (Node.js only).');
    const channel = new threads.MessageChannel();
    const workerData: GemmWorkerData = { memory, module, port: channel.port2, descriptor: CONTROL_BYTES, spinMicros, dozeMicros };
    const worker = new threads.Worker(options.workerSource ?? GEMM_WORKER_SOURCE, { eval: true, workerData, transferList: [channel.port2] });
    worker.unref();
    channel.port1.unref();
    try {
      await workerReady(worker, channel.port1, timeoutMs);
    } catch (error) {
      channel.port1.close();
      await worker.terminate();
      throw error;
    }
    return { worker, port: channel.port1, receive: threads.receiveMessageOnPort };
  };
  return new SharedMemoryGemm(memory, gemmExports, start, timeoutMs, spinMicros);
}

/** The worker once it is ready, its port, and how to read the port synchronously. */
interface AttachedWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly receive: (port: MessagePort) => { message: unknown } | undefined;
}

function workerReady(worker: Worker, port: MessagePort, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      port.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onMessage = (message: { ready?: boolean; error?: string }): void => {
      done(message.ready === true ? undefined : new Error(`two-thread GEMM: the worker failed to start: ${message.error ?? 'unknown error'}`));
    };
    const onError = (error: Error): void => done(new Error(`two-thread GEMM: the worker failed to start: ${error.message}`));
    const onExit = (code: number): void => done(new Error(`two-thread GEMM: the worker exited (code ${code}) before it was ready.`));
    const timer = setTimeout(() => done(new Error(`two-thread GEMM: the worker was not ready within ${timeoutMs} ms.`)), timeoutMs);
    port.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

class SharedMemoryGemm implements SharedGemm {
  #floats: Float32Array;
  #ints: Int32Array;
  readonly #control: Int32Array;
  #layout: Layout | undefined;
  #job = 0;
  /** Threads of the last compute. */
  #threads: 1 | 2 = 1;
  /** When the run of two-thread jobs the worker did not claim began (a worker that never answers fails at timeoutMs). */
  #unclaimedSince: number | undefined;
  /** Why the instance refuses work: disposed, or a worker that failed or timed out. */
  #broken: string | undefined;
  /** The worker once ready; until then every compute runs on the calling thread. */
  #attached: AttachedWorker | undefined;
  #starting: Promise<void> | undefined;
  /** Task ids the worker has been sent the source of. */
  readonly #postedTasks = new Set<number>();
  /** Module ids the worker has been sent the compiled module of. */
  readonly #postedModules = new Set<number>();
  /** Copies out of the shared memory that wait for someone to need them (see {@link SharedGemm.defer}). */
  #deferred: Array<() => void> = [];
  #generation = 0;
  /** The copies of the last {@link loadPacked}, until a compute makes them. */
  #pendingLoad: (() => void) | undefined;

  constructor(
    readonly memory: SharedMemory,
    readonly exports: GemmExports,
    private readonly start: () => Promise<AttachedWorker>,
    private readonly timeoutMs: number,
    private readonly spinMicros: number,
  ) {
    this.#floats = new Float32Array(memory.buffer);
    this.#ints = new Int32Array(memory.buffer);
    this.#control = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
    this.#job = Atomics.load(this.#control, ControlSlot.job);
  }

  startWorker(): Promise<void> {
    this.#starting ??= (async () => {
      this.#usable();
      const attached = await this.start();
      if (this.#broken !== undefined) {
        // Disposed while the worker started: end it.
        attached.port.close();
        await attached.worker.terminate();
        this.#usable();
      }
      // A worker that dies is a failure the next wait reports at once instead of at its timeout.
      attached.worker.on('error', (error: Error) => this.#fail(`the worker failed: ${error.message}`));
      attached.worker.on('exit', (code: number) => this.#fail(`the worker exited (code ${code})`));
      this.#job = Atomics.load(this.#control, ControlSlot.job);
      this.#attached = attached;
    })();
    return this.#starting;
  }

  twoThreads(): boolean {
    return this.#attached !== undefined && this.#broken === undefined;
  }

  #fail(reason: string): void {
    this.#broken ??= reason;
  }

  #usable(): void {
    if (this.#broken !== undefined) throw new Error(`two-thread GEMM: unusable (${this.#broken}).`);
  }

  matMul(a: Float32Array, b: Float32Array, shape: GemmShape, threads: 1 | 2 = 2, out?: Float32Array): Float32Array {
    this.load(a, b, shape);
    this.compute(threads);
    return this.read(out);
  }

  load(a: Float32Array, b: Float32Array, shape: GemmShape): void {
    this.#usable();
    checkShape(shape, a, b);
    const layout = layoutFor(shape);
    if (layout.end > MAX_PAGES * PAGE) {
      throw new FitstreamInputError('shape', `${describeShape(shape)} needs ${layout.end} bytes of shared memory; the two-thread GEMM has ${MAX_PAGES * PAGE}.`);
    }
    this.#overwrite(false);
    this.#reserve(layout.end);
    const floats = this.#floats;
    floats.set(a, layout.a / 4);
    floats.fill(0, (layout.a + 4 * a.length) / 4, (layout.a + 4 * a.length + SLACK) / 4);
    floats.set(b, layout.b / 4);
    floats.fill(0, (layout.b + 4 * b.length) / 4, (layout.b + 4 * b.length + SLACK) / 4);
    this.#layout = layout;
  }

  loadPacked(shape: GemmShape, writeA: (floats: Float32Array, at: number) => void, packedB: Float32Array | (() => Float32Array)): void {
    this.#usable();
    assertPositiveInteger(shape.m, 'shape.m');
    assertPositiveInteger(shape.k, 'shape.k');
    assertPositiveInteger(shape.n, 'shape.n');
    const layout = layoutFor(shape, true);
    const packedFloats = Math.ceil(shape.n / COLUMNS_PER_PANEL) * shape.k * COLUMNS_PER_PANEL;
    const checked = (packed: Float32Array): Float32Array => {
      if (packed.length === packedFloats) return packed;
      throw new FitstreamInputError('packedB', `must hold ⌈n/8⌉·k·8 = ${packedFloats} floats for shape ${describeShape(shape)}, got ${packed.length}.`);
    };
    if (typeof packedB !== 'function') checked(packedB);
    if (layout.end > MAX_PAGES * PAGE) {
      throw new FitstreamInputError('shape', `${describeShape(shape)} needs ${layout.end} bytes of shared memory; the two-thread GEMM has ${MAX_PAGES * PAGE}.`);
    }
    this.#overwrite(false);
    this.#reserve(layout.end);
    this.#layout = layout;
    this.#pendingLoad = () => {
      const floats = this.#floats;
      writeA(floats, layout.a / 4);
      const aEnd = layout.a + 4 * shape.m * shape.k;
      floats.fill(0, aEnd / 4, (aEnd + SLACK) / 4);
      floats.set(checked(typeof packedB === 'function' ? packedB() : packedB), layout.packed0 / 4);
    };
  }

  /** Makes the copies {@link loadPacked} left for later, now. */
  #load(): void {
    const load = this.#pendingLoad;
    this.#pendingLoad = undefined;
    load?.();
  }

  computeAlongside(mainPart: () => void): void {
    this.#usable();
    const layout = this.#layout;
    if (layout === undefined) throw new Error('two-thread GEMM: computeAlongside() before load().');
    const attached = this.#attached;
    const plan = planOf(layout, attached === undefined ? 1 : 2);
    const load = this.#pendingLoad;
    this.#pendingLoad = undefined;
    let failure: { error: unknown } | undefined;
    const both = (): void => {
      try {
        mainPart();
      } catch (error) {
        failure = { error };
      }
      this.exports.run(CONTROL_BYTES, 0);
    };
    this.#threads = attached === undefined ? 1 : 2;
    if (attached === undefined) {
      load?.();
      this.#describe(layout, plan);
      both();
    } else {
      // Posted before the copies, its chunks closed: the worker wakes while this thread copies.
      this.#describe(layout, plan, TASK_CLOSED);
      this.#onBothThreads(attached, () => {
        failure = this.#prepareThenOpen(load, chunksOf(layout, plan));
        if (failure === undefined) both();
      });
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Runs `prepare` (what a posted job's chunks need in the shared memory) while they are closed, then opens them with a
   * release store (what it wrote is visible to a worker that reads the counter): at 0, or at `chunks` after a failure,
   * so that no chunk runs and the worker lets go of the job at once. Returns the failure.
   */
  #prepareThenOpen(prepare: (() => void) | undefined, chunks: number): { error: unknown } | undefined {
    let failure: { error: unknown } | undefined;
    try {
      prepare?.();
    } catch (error) {
      failure = { error };
    }
    Atomics.store(this.#ints, (CONTROL_BYTES + TaskField.next) / 4, failure === undefined ? 0 : chunks);
    return failure;
  }

  result(): Float32Array {
    this.#usable();
    this.#load();
    const layout = this.#layout;
    if (layout === undefined) throw new Error('two-thread GEMM: result() before load().');
    return this.#floats.subarray(layout.c / 4, layout.c / 4 + layout.shape.m * layout.shape.n);
  }

  #reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (have >= bytes) {
      // Another call may have grown the memory since the views were made.
      if (this.#floats.length * 4 === have) return;
    } else {
      if (bytes > MAX_PAGES * PAGE) throw new FitstreamInputError('bytes', `${bytes} bytes of shared memory are needed; the two-thread GEMM has ${MAX_PAGES * PAGE}.`);
      this.memory.grow(Math.ceil((bytes - have) / PAGE));
    }
    this.#floats = new Float32Array(this.memory.buffer);
    this.#ints = new Int32Array(this.memory.buffer);
  }

  compute(threads: 1 | 2 = 2): void {
    this.#usable();
    this.#load();
    const layout = this.#layout;
    if (layout === undefined) throw new Error('two-thread GEMM: compute() before load().');
    const attached = this.#attached;
    const parts = attached === undefined ? 1 : threads;
    this.#describe(layout, planOf(layout, parts));
    this.#threads = parts;
    if (parts === 1 || attached === undefined) {
      this.exports.run(CONTROL_BYTES, 0);
      return;
    }
    this.#onBothThreads(attached, () => this.exports.run(CONTROL_BYTES, 0));
  }

  workspace(bytes: number, keepDeferred = false): number {
    this.#usable();
    const base = CONTROL_BYTES + Descriptor.bytes;
    this.#overwrite(keepDeferred);
    this.#reserve(base + align64(bytes) + SLACK);
    this.#layout = undefined;
    return base;
  }

  get generation(): number {
    return this.#generation;
  }

  defer(flush: () => void): void {
    this.#deferred.push(flush);
  }

  flushDeferred(): void {
    const deferred = this.#deferred;
    if (deferred.length === 0) return;
    this.#deferred = [];
    for (const flush of deferred) flush();
  }

  /** Before a call that may overwrite the shared memory: the deferred copies (unless kept), and a new generation. */
  #overwrite(keepDeferred: boolean): void {
    if (!keepDeferred) this.flushDeferred();
    this.#pendingLoad = undefined;
    this.#generation++;
  }

  fits(bytes: number): boolean {
    return CONTROL_BYTES + Descriptor.bytes + align64(bytes) + SLACK <= MAX_PAGES * PAGE;
  }

  floats(): Float32Array {
    this.#reserve(0);
    return this.#floats;
  }

  ints(): Int32Array {
    this.#reserve(0);
    return this.#ints;
  }

  runTask<Calls extends object>(task: SharedTask<Calls>, params: number, chunks: number, module: SharedTaskModule<Calls>, prepare?: () => void): void {
    this.#usable();
    const attached = this.#attached;
    const ints = this.ints();
    const field = (offset: number, value: number): void => {
      ints[(CONTROL_BYTES + offset) / 4] = value;
    };
    field(TaskField.task, task.id);
    field(TaskField.params, params);
    field(TaskField.module, module.id);
    field(TaskField.chunks, chunks);
    // Closed until `prepare` is done (the worker spins on it; see gemm-worker-source.ts).
    field(TaskField.next, TASK_CLOSED);
    const next = (CONTROL_BYTES + TaskField.next) / 4;
    let failure: { error: unknown } | undefined;
    const mine = (): void => {
      failure = this.#prepareThenOpen(prepare, chunks);
      for (let chunk = Atomics.add(ints, next, 1); chunk < chunks; chunk = Atomics.add(ints, next, 1)) task.run(this.exports, module.calls, ints, params, chunk);
    };
    this.#threads = attached === undefined ? 1 : 2;
    if (attached === undefined) {
      mine();
    } else {
      // The worker reads what it lacks off its port when the job names it (gemm-worker-source.ts). Each is posted once;
      // the messages are built only then (the task's source text is a `toString()` of the function).
      if (!this.#postedTasks.has(task.id)) {
        attached.port.postMessage({ task: task.id, source: task.run.toString() });
        this.#postedTasks.add(task.id);
      }
      if (!this.#postedModules.has(module.id)) {
        attached.port.postMessage({ module: module.id, compiled: module.compiled });
        this.#postedModules.add(module.id);
      }
      this.#onBothThreads(attached, mine);
    }
    if (failure !== undefined) throw failure.error;
  }

  /** Posts the described job to the worker, runs `mainPart` here, and waits for the worker's part (if it claimed one). */
  #onBothThreads(attached: AttachedWorker, mainPart: () => void): void {
    const job = (this.#job + 1) | 0;
    this.#job = job;
    Atomics.store(this.#control, ControlSlot.job, job);
    // A spinning or dozing worker finds the job by itself; only a sleeping one needs the (costly) futex wake-up.
    if (Atomics.load(this.#control, ControlSlot.sleeping) !== 0) Atomics.notify(this.#control, ControlSlot.job, 1);
    mainPart();
    // Every chunk is taken. If the worker has not claimed the job yet (asleep, or its core busy), close it: the main
    // thread did all of it, and must not wait for a wake-up that adds nothing.
    if (Atomics.compareExchange(this.#control, ControlSlot.claim, (job - 1) | 0, job) === ((job - 1) | 0)) {
      this.#unclaimedSince ??= performance.now();
      if (performance.now() - this.#unclaimedSince > this.timeoutMs) {
        this.#fail(`the worker claimed no job for ${this.timeoutMs} ms`);
        this.#usable();
      }
      return;
    }
    this.#unclaimedSince = undefined;
    this.#awaitWorker(job, attached);
  }

  /** Writes the descriptor gemm-module.ts's `run` reads, its chunk counter at `next` (0, or {@link TASK_CLOSED}). */
  #describe(layout: Layout, plan: Plan, next = 0): void {
    const { m, k, n, transposeA, transposeB } = layout.shape;
    const at = (offset: number, value: number): void => {
      this.#ints[(CONTROL_BYTES + offset) / 4] = value;
    };
    at(Descriptor.a, layout.a);
    at(Descriptor.rsA, transposeA ? 4 : 4 * k);
    at(Descriptor.ksA, transposeA ? 4 * m : 4);
    at(Descriptor.b, layout.b);
    at(Descriptor.c, layout.c);
    at(Descriptor.ldc, 4 * n);
    at(Descriptor.k, k);
    at(Descriptor.m, m);
    at(Descriptor.n, n);
    at(Descriptor.transA, transposeA ? 1 : 0);
    at(Descriptor.transB, transposeB ? 1 : 0);
    at(Descriptor.panels, Math.ceil(n / COLUMNS_PER_PANEL));
    at(Descriptor.byRows, plan.byRows ? 1 : 0);
    at(Descriptor.chunk, plan.chunk);
    at(Descriptor.next, next);
    at(TaskField.task, 0);
    for (const part of [0, 1]) {
      const block = Descriptor.parts + part * Descriptor.partBytes;
      at(block + Descriptor.part.packed, plan.byRows && part === 1 ? layout.packed1 : layout.packed0);
      at(block + Descriptor.part.scratch, CONTROL_BYTES + block + 32);
      at(block + Descriptor.part.prepacked, layout.prepacked ? 1 : 0);
    }
  }

  /** Spins, then sleeps in bounded `Atomics.wait`s until the worker publishes `job` as done; throws past the bound. */
  #awaitWorker(job: number, attached: AttachedWorker): void {
    const control = this.#control;
    const start = performance.now();
    const spinUntil = start + this.spinMicros / 1000;
    const deadline = start + this.timeoutMs;
    let done = Atomics.load(control, ControlSlot.done);
    while (done !== job && performance.now() < spinUntil) done = Atomics.load(control, ControlSlot.done);
    while (done !== job) {
      if (this.#broken !== undefined) break;
      // Checked after `done` was read: an exit after this check changes `done` (gemm-worker-source.ts), so the wait
      // below returns at once; an exit before it is seen here. Either way no exit costs the timeout.
      if (Atomics.load(control, ControlSlot.exited) !== 0) {
        this.#fail('the worker exited');
        break;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.#fail(`the worker did not finish job ${job} within ${this.timeoutMs} ms`);
        break;
      }
      Atomics.wait(control, ControlSlot.done, done, left);
      done = Atomics.load(control, ControlSlot.done);
    }
    if (done !== job) {
      this.#usable();
    }
    if (Atomics.load(control, ControlSlot.failed) !== 0) {
      const message = attached.receive(attached.port)?.message as { error?: string } | undefined;
      this.#fail(`the worker's part failed: ${message?.error ?? 'no message'}`);
      this.#usable();
    }
  }

  read(out?: Float32Array): Float32Array {
    this.#usable();
    this.#load();
    const layout = this.#layout;
    if (layout === undefined) throw new Error('two-thread GEMM: read() before load().');
    const { m, n } = layout.shape;
    const result = out ?? new Float32Array(m * n);
    if (result.length !== m * n) throw new FitstreamInputError('out', `must hold m·n = ${m * n} floats, got ${result.length}.`);
    result.set(this.#floats.subarray(layout.c / 4, layout.c / 4 + m * n));
    return result;
  }

  lastChunks(): { readonly main: number; readonly worker: number } {
    const taken = (part: number): number => this.#ints[(CONTROL_BYTES + Descriptor.parts + part * Descriptor.partBytes + Descriptor.part.taken) / 4] ?? 0;
    const claimed = this.#threads === 2 && this.#unclaimedSince === undefined;
    return { main: taken(0), worker: claimed ? taken(1) : 0 };
  }

  workerRunning(): boolean {
    return this.#attached !== undefined && this.#attached.worker.threadId >= 0;
  }

  async dispose(): Promise<void> {
    if (this.#broken === 'disposed') return;
    // Before anything else (the caller may not await this): the copies someone may still read.
    this.flushDeferred();
    this.#broken = 'disposed';
    const attached = this.#attached;
    if (attached === undefined) return;
    Atomics.store(this.#control, ControlSlot.stop, 1);
    Atomics.store(this.#control, ControlSlot.job, (this.#job + 1) | 0);
    Atomics.notify(this.#control, ControlSlot.job);
    attached.port.close();
    await attached.worker.terminate();
  }
}
