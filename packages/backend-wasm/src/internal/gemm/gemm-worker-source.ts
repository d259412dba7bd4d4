/**
 * The second thread of the two-thread GEMM (two-thread-gemm.ts), as source text: the driver starts it with
 * `new Worker(source, { eval: true })`, so there is no worker file to find — the same code runs from `src` under vitest
 * or tsx and from `dist` after tsc, and no loader has to transpile a worker entry. It is CommonJS (how Node evaluates
 * `eval` workers) and plain JavaScript (no TypeScript syntax: nothing compiles it).
 *
 * It instantiates the GEMM module (gemm-module.ts) it receives, compiled, on the shared memory it receives, says it is
 * ready on its port, then loops: wait for the job counter to move (spinning `spinMicros` first, then dozing
 * `dozeMicros` in short timed `Atomics.wait`s that no one has to interrupt, then sleeping in an untimed `Atomics.wait`
 * with {@link ControlSlot.sleeping} raised, the only state in which a post must `Atomics.notify`), stop if asked to,
 * claim the job (see {@link ControlSlot.claim}; a job the main thread has finished alone is skipped), wait until its chunks are open (see {@link TASK_CLOSED}), take chunks of it as part 1
 * (`run(descriptor, 1)`), record a failure (the flag, and the error's text on the port, which the blocked main thread
 * reads with `receiveMessageOnPort`), publish the job's number as done and `Atomics.notify` it. `worker.terminate()` also ends it while it sleeps in `Atomics.wait`. A worker that
 * exits any other way (`process.exit`, an uncaught error) raises the `exited` flag and wakes the main thread.
 *
 * A job whose descriptor names a task (see {@link TaskField}) runs that task's function instead of the GEMM: the main
 * thread posts each task's source text and each WebAssembly module a task calls once, before the first job that needs
 * them, and the worker reads them off its port synchronously (`receiveMessageOnPort`) when a job names one it does not
 * have yet. Then it takes the job's chunks from the counter, as the GEMM's `run` does.
 */

/** Int32 slots of the control block at byte 0 of the shared memory. */
export const ControlSlot = {
  /** Number of the last job the main thread posted (wraps as int32). */
  job: 0,
  /** Number of the last job the worker finished. */
  done: 1,
  /** 1 once a job failed in the worker (its error text is on the port). */
  failed: 2,
  /** 1 asks the worker to leave its loop. */
  stop: 3,
  /**
   * 1 once the worker thread is exiting (its `process.on('exit')`, which a blocked main thread cannot hear as an event);
   * the handler also moves `done` back by one, so that a wait on its old value cannot miss the exit.
   */
  exited: 4,
  /**
   * The last job claimed — by the worker before it reads the descriptor, or by the main thread when it finished every
   * chunk first (then the worker skips that job and the main thread does not wait for it). One `compareExchange` from
   * job − 1 to job each; exactly one of them wins.
   */
  claim: 5,
  /**
   * 1 while the worker sleeps in an untimed `Atomics.wait` on `job` (after spinning and dozing): then, and only then, a
   * post must `Atomics.notify` it. The worker raises it and reads `job` again before it blocks; the main thread stores
   * `job` and then reads this slot (both sequentially consistent), so one of them sees the other's store: no wake-up is
   * lost, and a post to a spinning or dozing worker costs no futex call.
   */
  sleeping: 6,
} as const;

/**
 * The timeout of each of a dozing worker's `Atomics.wait`s, in milliseconds. Linux stretches so short a timed wait by
 * the thread's timer slack (50 µs by default): the worker looks at the job counter every ≈ 50–100 µs, about as soon as
 * a futex wake-up would reach it (55–75 µs here), but without the posting thread paying the wake-up.
 */
export const DOZE_STEP_MS = 0.02;

/**
 * Byte offsets, in the job descriptor, of a task job's fields (two-thread-gemm.ts `runTask`). They overlay the GEMM's
 * own fields (gemm-module.ts `Descriptor`) except `task`, which a GEMM job sets to 0, and `next`, the chunk counter both
 * kinds take chunks from.
 */
export const TaskField = {
  /** Byte offset of the task's parameters in the shared memory. */
  params: 0,
  /** Id of the WebAssembly module the task calls (0: none). */
  module: 4,
  /** Number of chunks (0 … chunks − 1). */
  chunks: 52,
  /** The next chunk to take (`Atomics.add`), as the GEMM's `Descriptor.next`. */
  next: 56,
  /** Id of the task (≥ 1); 0 for a GEMM job. */
  task: 60,
} as const;

/**
 * The chunk counter's value while a job's chunks are not open yet: a task's (two-thread-gemm.ts `runTask`'s `prepare`)
 * or a GEMM's whose operands are still being copied in (`computeAlongside`).
 */
export const TASK_CLOSED = -1;

/** Bytes of the control block (the descriptor follows it). */
export const CONTROL_BYTES = 64;

/** What the driver passes as `workerData`. */
export interface GemmWorkerData {
  /** The shared `WebAssembly.Memory` both threads run on. */
  readonly memory: unknown;
  /** The compiled GEMM module (`WebAssembly.Module`, structured-cloned to the worker). */
  readonly module: unknown;
  /** A `MessagePort` for the ready signal and failure texts. */
  readonly port: unknown;
  /** Byte offset of the job descriptor. */
  readonly descriptor: number;
  /** How long to spin on the job counter before dozing, in microseconds. */
  readonly spinMicros: number;
  /** How long to doze (short timed waits, see {@link DOZE_STEP_MS}) after spinning before sleeping, in microseconds. */
  readonly dozeMicros: number;
}

/** The worker's source (CommonJS, for `new Worker(source, { eval: true, workerData })`). */
export const GEMM_WORKER_SOURCE = `'use strict';
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { memory, module, port, descriptor, spinMicros, dozeMicros } = workerData;
let ints = new Int32Array(memory.buffer);
const TASK = (descriptor + ${TaskField.task}) / 4, PARAMS = (descriptor + ${TaskField.params}) / 4, MODULE = (descriptor + ${TaskField.module}) / 4;
const CHUNKS = (descriptor + ${TaskField.chunks}) / 4, NEXT = (descriptor + ${TaskField.next}) / 4;
// Bundlers that keep function names call a helper of this name inside function bodies; tasks are self-contained.
const __name = (target) => target;
const tasks = new Map();
const modules = new Map();
function posted(table, id, what) {
  while (table.get(id) === undefined) {
    const message = receiveMessageOnPort(port);
    if (message === undefined) break;
    const { task, source, module: moduleId, compiled } = message.message;
    if (task !== undefined) tasks.set(task, (0, eval)('(' + source + ')'));
    if (moduleId !== undefined) modules.set(moduleId, new WebAssembly.Instance(compiled, { env: { memory } }).exports);
  }
  const found = table.get(id);
  if (found === undefined) throw new Error(what + ' ' + id + ' was not posted to the worker');
  return found;
}
// The main thread opens a job's chunks (the counter leaves TASK_CLOSED) once its data is in place (a task's prepare, a
// GEMM's copies); it always does, at once on a failure, and only a stop request ends the wait otherwise (then no chunk
// is taken: false).
function awaitOpen() {
  while (Atomics.load(ints, NEXT) === ${TASK_CLOSED}) if (Atomics.load(ints, ${ControlSlot.stop}) !== 0) return false;
  return true;
}
function runTask(id) {
  // The memory may have grown since (a shared memory's buffer then has a new length; views keep the old one).
  if (ints.length * 4 !== memory.buffer.byteLength) ints = new Int32Array(memory.buffer);
  const task = tasks.get(id) || posted(tasks, id, 'task');
  const moduleId = ints[MODULE];
  const calls = moduleId === 0 ? undefined : modules.get(moduleId) || posted(modules, moduleId, 'module');
  const chunks = ints[CHUNKS], params = ints[PARAMS];
  if (!awaitOpen()) return;
  for (let chunk = Atomics.add(ints, NEXT, 1); chunk < chunks; chunk = Atomics.add(ints, NEXT, 1)) task(gemm, calls, ints, params, chunk);
}
const JOB = ${ControlSlot.job}, DONE = ${ControlSlot.done}, FAILED = ${ControlSlot.failed}, STOP = ${ControlSlot.stop}, CLAIM = ${ControlSlot.claim};
const SLEEPING = ${ControlSlot.sleeping};
const control = new Int32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
process.on('exit', () => {
  Atomics.store(control, ${ControlSlot.exited}, 1);
  // Move DONE too (to a number no posted job has yet): a main thread about to block in Atomics.wait on DONE's last
  // value then returns at once instead of sleeping through a notify it was not yet waiting for.
  Atomics.sub(control, DONE, 1);
  Atomics.notify(control, DONE);
});
let gemm;
try {
  gemm = new WebAssembly.Instance(module, { env: { memory } }).exports;
} catch (error) {
  port.postMessage({ error: 'instantiating the GEMM module failed: ' + String(error && error.stack || error) });
  throw error;
}
// Read before saying ready: the first job may be posted the moment the main thread hears it.
let seen = Atomics.load(control, JOB);
port.postMessage({ ready: true });
for (;;) {
  let job = Atomics.load(control, JOB);
  if (job === seen && spinMicros > 0) {
    const until = performance.now() + spinMicros / 1000;
    while (job === seen && performance.now() < until) job = Atomics.load(control, JOB);
  }
  if (job === seen && dozeMicros > 0) {
    const until = performance.now() + dozeMicros / 1000;
    while (job === seen && performance.now() < until) {
      Atomics.wait(control, JOB, seen, ${DOZE_STEP_MS});
      job = Atomics.load(control, JOB);
    }
  }
  while (job === seen) {
    // Raised before job is read again (see ControlSlot.sleeping): a post that comes after this read notifies.
    Atomics.store(control, SLEEPING, 1);
    job = Atomics.load(control, JOB);
    if (job === seen) Atomics.wait(control, JOB, seen);
    Atomics.store(control, SLEEPING, 0);
    job = Atomics.load(control, JOB);
  }
  if (Atomics.load(control, STOP) !== 0) break;
  seen = job;
  // A job the main thread already finished alone is not ours any more (nor is its descriptor).
  if (Atomics.compareExchange(control, CLAIM, (job - 1) | 0, job) !== ((job - 1) | 0)) continue;
  try {
    const task = ints[TASK];
    if (task === 0) {
      if (awaitOpen()) gemm.run(descriptor, 1);
    } else runTask(task);
  } catch (error) {
    Atomics.store(control, FAILED, 1);
    port.postMessage({ error: String(error && error.stack || error) });
  }
  Atomics.store(control, DONE, job);
  Atomics.notify(control, DONE);
}
port.close();
`;
