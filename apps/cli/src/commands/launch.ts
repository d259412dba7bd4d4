import { extname } from 'node:path';
import type { Io } from '../recipes/recipe.js';

/** Flags of `fitstream launch`, as commander parses them. */
export interface LaunchFlags {
  readonly nprocPerNode?: number;
  readonly nnodes?: number;
  readonly nodeRank?: number;
  readonly masterAddr?: string;
  readonly masterPort?: number;
  readonly backend?: 'threads' | 'mpi';
  readonly maxRestarts?: number;
  readonly timeoutMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly hosts?: string;
  readonly devices?: string;
  /** Extra mpirun arguments, one string split like a shell would (quotes group words): `--mpi-args "--oversubscribe --mca btl self,tcp"`. */
  readonly mpiArgs?: string;
  readonly json?: boolean;
}

/** Splits `--mpi-args` into words: whitespace separates, single or double quotes group. */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/**
 * `fitstream launch [flags] <script> [-- args…]`: torchrun-style data-parallel launch through
 * `@fitstream/distributed`'s `launch`. TypeScript scripts run through tsx (the replicas import `tsx/esm`).
 * Returns the exit code: 0 when every replica finished, otherwise the failing replica's (after `--max-restarts`).
 */
export async function launchCommand(script: string, args: readonly string[], flags: LaunchFlags, io: Io): Promise<number> {
  const { launch } = await import('@fitstream/distributed');
  const typescript = ['.ts', '.mts', '.cts'].includes(extname(script));
  const result = await launch({
    script,
    args,
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.nprocPerNode !== undefined ? { nprocPerNode: flags.nprocPerNode } : {}),
    ...(flags.nnodes !== undefined ? { nnodes: flags.nnodes } : {}),
    ...(flags.nodeRank !== undefined ? { nodeRank: flags.nodeRank } : {}),
    ...(flags.masterAddr ? { masterAddr: flags.masterAddr } : {}),
    ...(flags.masterPort !== undefined ? { masterPort: flags.masterPort } : {}),
    ...(flags.maxRestarts !== undefined ? { maxRestarts: flags.maxRestarts } : {}),
    ...(flags.timeoutMs !== undefined ? { timeoutMs: flags.timeoutMs } : {}),
    ...(flags.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: flags.heartbeatTimeoutMs } : {}),
    ...(flags.hosts ? { hosts: flags.hosts.split(',') } : {}),
    ...(flags.devices ? { devices: flags.devices.split(',') } : {}),
    ...(flags.mpiArgs ? { mpirunArgs: splitArgs(flags.mpiArgs) } : {}),
    ...(typescript ? { import: ['tsx/esm'] } : {}),
    log: io.err,
  });
  const summary = {
    ok: result.ok,
    exitCode: result.exitCode,
    backend: result.backend,
    worldSize: result.worldSize,
    restarts: result.restarts,
    attempts: result.attempts.map((a) => ({ restartCount: a.restartCount, exitCode: a.exitCode, durationMs: Math.round(a.durationMs), failures: a.failures.map((f) => ({ rank: f.rank, error: String(f.error) })) })),
  };
  if (flags.json) io.out(JSON.stringify(summary));
  else io.err(`fitstream launch: ${result.ok ? 'done' : 'failed'} — ${result.worldSize} replica(s) on ${result.backend}, ${result.restarts} restart(s), exit code ${result.exitCode}`);
  return result.exitCode;
}
