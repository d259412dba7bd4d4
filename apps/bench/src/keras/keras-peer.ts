/**
 * The Node side of the Keras peer (`python/keras_peer.py`): a long-lived Python process per thread setting that
 * trains the bench's models with Keras 3 `model.fit`, one epoch per request, over a line protocol of JSON objects on
 * its stdin and stdout (documented in the script). Every wait is bounded, and the process is killed on a timeout, on
 * {@link KerasPeer.close}, and when this process exits.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ModelName } from '../suites/models.js';

const SCRIPT = fileURLToPath(new URL('../../python/keras_peer.py', import.meta.url));

/** Importing TensorFlow takes ~10 s on an idle 2-core box; two peers start at once, maybe on a loaded one. */
const READY_TIMEOUT_MS = 180_000;
/** A round is sized to take about a second; the first one also traces the model's train function. */
const ROUND_TIMEOUT_MS = 180_000;
const CLOSE_TIMEOUT_MS = 5_000;

/** What the peer reports when it is ready. */
export interface KerasPeerVersions {
  readonly tensorflow: string;
  readonly keras: string;
  readonly python: string;
  /** TensorFlow's intra-op threads as the peer read them back (inter-op is set to the same). */
  readonly threads: number;
}

export interface KerasPeer {
  readonly threads: number;
  readonly versions: KerasPeerVersions;
  /** Trains one epoch of `steps` batches of `model` (built and compiled on first use); resolves with steps/s. */
  train(model: ModelName, steps: number): Promise<number>;
  /** Why the last `train` failed, if one did. */
  readonly lastError: string | undefined;
  /** Closes stdin and waits (bounded) for the process to exit; kills it otherwise. Idempotent. */
  close(): Promise<void>;
}

export interface KerasPeerOptions {
  /** TensorFlow's intra- and inter-op threads, set in the peer before anything runs. */
  readonly threads: number;
  /** Python executable; default {@link kerasPython}. */
  readonly python?: string;
  readonly readyTimeoutMs?: number;
  readonly roundTimeoutMs?: number;
}

/** The peer could not start: no Python, no tensorflow/keras in it, or no ready line in time. */
export class KerasPeerUnavailable extends Error {}

/** The Python that runs the peer: `FITSTREAM_BENCH_PYTHON`, else `python3`. */
export function kerasPython(): string {
  return process.env['FITSTREAM_BENCH_PYTHON'] || 'python3';
}

function parseMessage(line: string): Record<string, unknown> {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${line.slice(0, 200)}`);
  return value as Record<string, unknown>;
}

/**
 * Starts a peer and waits for its ready line.
 * @throws {@link KerasPeerUnavailable} with the reason when it cannot start (the caller skips the Keras rows).
 */
export async function startKerasPeer(options: KerasPeerOptions): Promise<KerasPeer> {
  const { threads } = options;
  const python = options.python ?? kerasPython();
  const name = `keras peer (${threads} thread${threads === 1 ? '' : 's'})`;
  const child = spawn(python, [SCRIPT, '--threads', String(threads)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env['TF_CPP_MIN_LOG_LEVEL'] ?? '2', PYTHONUNBUFFERED: '1' },
  });
  let exited = false;
  let failure: string | undefined;
  let lastError: string | undefined;
  let waiter: { resolve(line: string): void; reject(error: Error): void } | undefined;
  let stderrTail = '';

  const kill = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const exit = new Promise<void>((resolve) =>
    child.once('close', () => {
      exited = true;
      process.removeListener('exit', kill);
      resolve();
    }),
  );
  const fail = (reason: string): void => {
    failure ??= reason;
    kill();
    const w = waiter;
    waiter = undefined;
    w?.reject(new Error(failure));
  };
  const lastStderrLine = (): string => {
    const line = stderrTail.trim().split('\n').at(-1)?.trim() ?? '';
    return line ? `: ${line.slice(0, 300)}` : '';
  };

  child.stdin.on('error', () => {}); // EPIPE once the peer is gone; its exit says why
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderrTail = (stderrTail + chunk).slice(-4000)));
  child.on('error', (error: NodeJS.ErrnoException) =>
    fail(error.code === 'ENOENT' ? `${python} not found` : `${python} could not start: ${error.message}`),
  );
  child.on('exit', (code, signal) => fail(`${name} exited (${signal ?? `code ${code}`})${lastStderrLine()}`));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return; // the peer routes library prints to stderr; be lenient anyway
    const w = waiter;
    waiter = undefined;
    w?.resolve(line);
  });

  /** The next protocol line, or a rejection (and a killed peer) after `timeoutMs`. */
  const next = (timeoutMs: number, what: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      if (failure !== undefined) return reject(new Error(failure));
      const timer = setTimeout(() => fail(`${name}: no ${what} within ${timeoutMs / 1000} s (killed it)`), timeoutMs);
      waiter = {
        resolve: (line) => (clearTimeout(timer), resolve(line)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
    });

  const close = async (): Promise<void> => {
    if (!exited) {
      failure ??= `${name} closed`;
      child.stdin.end();
      const timer = setTimeout(kill, CLOSE_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    }
  };

  let ready: Record<string, unknown>;
  try {
    ready = parseMessage(await next(options.readyTimeoutMs ?? READY_TIMEOUT_MS, 'ready line'));
  } catch (error) {
    kill();
    await exit;
    throw new KerasPeerUnavailable(error instanceof Error ? error.message : String(error));
  }
  if (ready['ready'] !== true) {
    kill();
    await exit;
    throw new KerasPeerUnavailable(`${python} cannot run the Keras peer: ${typeof ready['reason'] === 'string' ? ready['reason'] : JSON.stringify(ready)}`);
  }
  const versions: KerasPeerVersions = {
    tensorflow: String(ready['tensorflow']),
    keras: String(ready['keras']),
    python: String(ready['python']),
    threads: Number(ready['threads']),
  };

  return {
    threads,
    versions,
    get lastError() {
      return lastError;
    },
    async train(model, steps) {
      try {
        const answer = next(options.roundTimeoutMs ?? ROUND_TIMEOUT_MS, `answer to ${model} × ${steps} steps`);
        if (failure === undefined) child.stdin.write(`${JSON.stringify({ model, steps })}\n`);
        const message = parseMessage(await answer);
        if (typeof message['error'] === 'string') throw new Error(`${name}: ${message['error']}`);
        const stepsPerSecond = message['steps_per_s'];
        if (typeof stepsPerSecond !== 'number' || !(stepsPerSecond > 0)) throw new Error(`${name}: bad answer ${JSON.stringify(message)}`);
        return stepsPerSecond;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
        throw error;
      }
    },
    close,
  };
}
