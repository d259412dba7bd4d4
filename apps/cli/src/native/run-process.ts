import { execFile } from 'node:child_process';

/** The outcome of {@link runProcess}: it never rejects, so callers turn each failure into their own clear error. */
export interface ProcessResult {
  /** Exit code; `null` when the process could not start or was killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why it did not run to completion: `ENOENT` (no such program), `timeout`, a signal name, or another error text. */
  readonly failure?: string;
}

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long; every external step of the native install has a bound. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Runs a program without a shell and collects its output (up to 64 MiB), bounded by a timeout and an abort signal. */
export function runProcess(file: string, args: readonly string[], options: RunProcessOptions): Promise<ProcessResult> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        signal: options.signal,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) {
          done({ code: 0, stdout, stderr });
          return;
        }
        const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string };
        if (typeof e.code === 'number') {
          done({ code: e.code, stdout, stderr });
          return;
        }
        const failure = e.code === 'ENOENT' ? 'ENOENT' : e.name === 'AbortError' ? 'aborted' : e.killed ? 'timeout' : (e.signal ?? e.message);
        done({ code: null, stdout, stderr, failure });
      },
    );
  });
}

/** The last lines of a process's output, for error messages. */
export function tailOf(result: ProcessResult, lines = 12): string {
  const text = `${result.stdout}\n${result.stderr}`.trim().split('\n');
  return text.slice(-lines).join('\n');
}
