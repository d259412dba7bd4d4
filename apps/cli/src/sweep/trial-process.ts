// One trial's `fitstream resume <run-dir> --json` child process: started in its own process group (a Ctrl-C on the
// terminal reaches the sweep only, which then stops each trial with exactly one SIGINT — a second one would make the
// trial exit without its checkpoint), its output appended to `<run-dir>/train.log`, its events.jsonl tailed for epoch
// ends. Every wait is bounded: a trial silent for `timeoutMs` is killed, one that does not stop within `stopTimeoutMs`
// of its SIGINT is killed.
import { spawn } from 'node:child_process';
import { createWriteStream, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from './state.js';

/** How a trial's process ended. */
export interface TrialExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout: the `--json` summary when it finished. */
  readonly stdout: string;
  /** The last lines of stderr (the `fitstream: …` message of a failure). */
  readonly stderrTail: string;
  /** Killed because it reported nothing for `timeoutMs`. */
  readonly timedOut: boolean;
  /** Killed because it did not stop within `stopTimeoutMs` of its SIGINT. */
  readonly killedAfterStop: boolean;
  readonly durationMs: number;
  /** The process could not be started. */
  readonly spawnError?: string;
}

/** A running trial. */
export interface TrialHandle {
  /** Asks the trial to stop after its current step (SIGINT: it saves a checkpoint and exits with 130); killed when it does not within `stopTimeoutMs`. */
  stop(): void;
  /** Kills it at once (SIGKILL). */
  kill(): void;
  readonly stopping: boolean;
  /** The process has ended (its last epochs may still be on their way to `onEpochs`). */
  readonly exited: boolean;
  readonly done: Promise<TrialExit>;
}

export interface TrialProcessOptions {
  /** The `fitstream` bin. */
  readonly bin: string;
  readonly runDir: string;
  readonly timeoutMs: number;
  readonly stopTimeoutMs: number;
  /** How often events.jsonl is read (ms). */
  readonly pollMs?: number;
  /** A header line for train.log. */
  readonly header: string;
  /** Called with the epochs that ended since the last call (numbered from 0, as in events.jsonl), in order. */
  readonly onEpochs: (epochs: readonly EpochRecord[]) => void;
  /** Stop once this many epochs are done (`fitstream resume --pause-after`): the process pauses itself at its rung. */
  readonly pauseAfter?: number;
}

/**
 * Reads the complete lines appended to a JSONL file since the last read, and picks the epoch ends. Reading by offset
 * keeps each poll proportional to what was appended, not to the file.
 */
export class EpochTail {
  private carry = '';

  /** Reads from byte `offset` on (0: the whole file). */
  constructor(
    private readonly path: string,
    private offset = 0,
  ) {}

  /** The epochs that ended since the last call, and whether the file grew. */
  async read(): Promise<{ epochs: EpochRecord[]; grew: boolean }> {
    const size = await stat(this.path).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0 || size <= this.offset) return { epochs: [], grew: false };
    const handle = await open(this.path, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      text = this.carry + buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
    const lines = text.split('\n');
    this.carry = lines.pop() ?? '';
    const epochs: EpochRecord[] = [];
    for (const line of lines) {
      if (!line.includes('"epoch:end"')) continue;
      try {
        const event = JSON.parse(line) as { type?: string; epoch?: number; metrics?: Record<string, unknown> };
        if (event.type !== 'epoch:end' || typeof event.epoch !== 'number') continue;
        const metrics = Object.fromEntries(Object.entries(event.metrics ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'));
        epochs.push({ epoch: event.epoch, metrics });
      } catch {
        /* a torn line (a kill mid-write): the resumed run writes the epoch again */
      }
    }
    return { epochs, grew: true };
  }
}

/** `<run-dir>/.sweep-pid`: the pid of the trial process a sweep started there, while it runs. */
export const pidPath = (runDir: string): string => join(runDir, '.sweep-pid');

/** Keeps the last `max` characters of a stream's text. */
const keepTail = (text: string, max = 4000): string => (text.length > max ? text.slice(text.length - max) : text);

/**
 * Starts `fitstream resume <runDir> --json` (a run directory holding only its config.json starts from its first step;
 * one with a backup continues from it at the exact batch), with `--pause-after n` when `pauseAfter` is given.
 *
 * @example
 * ```ts
 * const trial = startTrial({ bin, runDir: 'runs/sweep-x/trial-0003', timeoutMs: 600_000, stopTimeoutMs: 30_000, header: 'trial-0003', onEpochs: (e) => console.log(e) });
 * const exit = await trial.done;
 * ```
 */
export function startTrial(options: TrialProcessOptions): TrialHandle {
  const started = Date.now();
  const log = createWriteStream(join(options.runDir, 'train.log'), { flags: 'a' });
  log.write(`\n--- ${new Date(started).toISOString()} ${options.header}\n`);
  const pause = options.pauseAfter === undefined ? [] : ['--pause-after', String(options.pauseAfter)];
  const child = spawn(process.execPath, [options.bin, 'resume', options.runDir, '--json', ...pause], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  // Synchronously, right after the spawn: a sweep killed now still tells its successor which process trains here.
  if (child.pid !== undefined) writeFileSync(pidPath(options.runDir), `${child.pid}\n`);
  // Only the epochs this process trains: the ones before it are known, and a decision on them must not reach a
  // process still starting up (before its fit listens for SIGINT, a SIGINT ends it without a checkpoint).
  const events = join(options.runDir, 'events.jsonl');
  const tail = new EpochTail(events, statSync(events, { throwIfNoEntry: false })?.size ?? 0);
  let stdout = '';
  let stderr = '';
  let lastProgress = Date.now();
  let timedOut = false;
  let killedAfterStop = false;
  let stopping = false;
  let stopTimer: NodeJS.Timeout | undefined;
  let exited = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout = keepTail(stdout + d.toString(), 1_000_000);
    log.write(d);
    lastProgress = Date.now();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr = keepTail(stderr + d.toString());
    log.write(d);
    lastProgress = Date.now();
  });

  const signal = (name: NodeJS.Signals) => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(child.pid, name);
    } catch {
      /* already gone */
    }
  };

  // One poll at a time; each reads what was appended since the previous one.
  let polling: Promise<void> = Promise.resolve();
  const poll = () =>
    (polling = polling.then(async () => {
      // A read that fails (the file replaced under us) is retried at the next poll; the silence timeout still bounds it.
      const { epochs, grew } = await tail.read().catch(() => ({ epochs: [], grew: false }));
      if (grew) lastProgress = Date.now();
      if (epochs.length > 0) options.onEpochs(epochs);
      if (!exited && Date.now() - lastProgress > options.timeoutMs) {
        timedOut = true;
        signal('SIGKILL');
      }
    }));
  const timer = setInterval(() => void poll(), options.pollMs ?? 100);

  const done = new Promise<TrialExit>((resolve) => {
    let spawnError: string | undefined;
    child.on('error', (error) => (spawnError = error.message));
    child.on('close', (code, sig) => {
      exited = true;
      rmSync(pidPath(options.runDir), { force: true });
      clearInterval(timer);
      if (stopTimer) clearTimeout(stopTimer);
      // The last epochs written before the exit.
      void poll().then(() =>
        log.end(() =>
          resolve({
            code,
            signal: sig,
            stdout,
            stderrTail: stderr,
            timedOut,
            killedAfterStop,
            durationMs: Date.now() - started,
            ...(spawnError ? { spawnError } : {}),
          }),
        ),
      );
    });
  });

  return {
    stop() {
      if (stopping || exited) return;
      stopping = true;
      signal('SIGINT');
      stopTimer = setTimeout(() => {
        killedAfterStop = true;
        signal('SIGKILL');
      }, options.stopTimeoutMs);
    },
    kill() {
      stopping = true;
      signal('SIGKILL');
    },
    get stopping() {
      return stopping;
    },
    get exited() {
      return exited;
    },
    done,
  };
}
