import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plugin } from '@fitstream/core';
import type { DistributedContext, LrScalingOptions } from '@fitstream/distributed';
import { z } from 'zod';
import type { RunConfig } from '../config/schema.js';
import { EXIT } from '../exit.js';
import type { Io, TrainSummary } from '../recipes/recipe.js';

/**
 * The `distributed:` section of a `fitstream fit` configuration: `fitstream fit` launches `replicas` data-parallel
 * replicas of the run (@fitstream/distributed's `launch`: worker threads of the CLI process, or MPI processes), each
 * training its shard of every batch with `dataParallel`; rank 0 alone writes the run directory and prints progress.
 * `batchSize` is per replica (the global batch is `batchSize × replicas`).
 */
export const distributedSchema = z.strictObject({
  /** How many replicas train (1: a plain run). */
  replicas: z.int({ error: 'must be a whole number ≥ 1 (the number of replicas), e.g. 2' }).min(1, { error: 'must be a whole number ≥ 1 (the number of replicas), e.g. 2' }),
  /** `threads` (default): worker threads of this process, on the cpu or wasm backend; `mpi`: one process per replica through mpirun. */
  backend: z.enum(['threads', 'mpi']).default('threads'),
  /** Linear learning-rate scaling with gradual warm-up (Goyal et al.; dataParallel's `lr`): `{ scaling: linear, warmupEpochs: 1 }`. Default off. */
  lr: z
    .strictObject({
      scaling: z.enum(['linear', 'none']).optional(),
      baseBatchSize: z.int().min(1).optional(),
      warmupEpochs: z.number().min(0).optional(),
      warmupSteps: z.int().min(0).optional(),
    })
    .optional(),
  /** MPI: extra `mpirun` arguments (`["--oversubscribe"]`). */
  mpiArgs: z.array(z.string()).optional(),
  /** Milliseconds a collective waits for its peers before the group fails (default 30 min). */
  timeoutMs: z.int().min(100).optional(),
});

/** A validated `distributed:` section. */
export type DistributedSection = z.output<typeof distributedSchema>;

/** The `distributed:` section of a run configuration, when it asks for more than one replica. */
export function distributedOf(config: RunConfig): DistributedSection | undefined {
  const section = (config as { distributed?: DistributedSection | null }).distributed;
  return section && section.replicas > 1 ? section : undefined;
}

/** This process's replica: its context and `rankZero`, set by the replica entry (fit-replica.ts). */
export interface Replica {
  readonly ctx: DistributedContext;
  readonly rankZero: (ctx: DistributedContext, plugin: Plugin) => Plugin;
  readonly dataParallel: (ctx: DistributedContext, options: { sampler?: Plugin | false; lr?: LrScalingOptions | boolean; log?: (line: string) => void }) => Plugin;
}

let replica: Replica | undefined;

/** Sets this thread's or process's replica (the replica entry does, before it trains). */
export function setReplica(value: Replica | undefined): void {
  replica = value;
}

/** The replica this thread or process trains as, when `fitstream fit` launched it. */
export function currentReplica(): Replica | undefined {
  return replica;
}

/** Whether this replica writes the run directory (rank 0, or no replica at all). */
export function writesRunDirectory(): boolean {
  return replica === undefined || replica.ctx.rank === 0;
}

/** A plugin that writes or prints (logs, checkpoints, backups, report, progress) used on rank 0 only. */
export function onRankZero(plugin: Plugin): Plugin {
  return replica ? replica.rankZero(replica.ctx, plugin) : plugin;
}

/** What rank 0 hands back to the launcher. */
interface ReplicaOutcome {
  readonly code: number;
  readonly summary: TrainSummary | undefined;
}

/** Rank 0's outcome, written where the launcher reads it (a file: threads and MPI alike). */
export async function reportOutcome(path: string, outcome: ReplicaOutcome): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, JSON.stringify(outcome));
}

/**
 * Launches the replicas of a distributed fit run into `runDir` (created and locked by the caller) with
 * @fitstream/distributed's `launch`, and resolves with rank 0's outcome: its exit code and summary. Each replica
 * reads the run's configuration (`config.json`, or `configJson` for a fresh run) and trains as `fitstream fit` does.
 */
export async function launchReplicas(
  runDir: string,
  config: RunConfig,
  section: DistributedSection,
  io: Io,
  options: { json: boolean; resuming: boolean; from?: string | undefined },
): Promise<ReplicaOutcome> {
  const { launch } = await import('@fitstream/distributed');
  const outcomeFile = join(tmpdir(), `fitstream-replicas-${randomUUID()}.json`);
  const configFile = join(tmpdir(), `fitstream-replicas-${randomUUID()}.config.json`);
  const { writeFile } = await import('node:fs/promises');
  // A fresh run's configuration travels as a file: rank 0 writes the run's config.json as a single-replica run does.
  if (!options.resuming) await writeFile(configFile, JSON.stringify(config));
  // The replicas run the compiled entry, dist/fit/fit-replica.js — also when this module runs from its sources (tests
  // in-process: the replicas talk to the launcher through files and arguments only, so the two may differ in build).
  const fromSources = import.meta.url.endsWith('.ts');
  const script = new URL(fromSources ? '../../dist/fit/fit-replica.js' : './fit-replica.js', import.meta.url);
  (options.json ? io.err : io.out)(`fitstream: ${section.replicas} ${section.backend} replicas (dataParallel; batch ${config.batchSize} per replica, ${config.batchSize * section.replicas} in all)`);
  // Ctrl-C ends the replicas with this process (thread replicas cannot receive signals): say how to continue. Rank 0's
  // backups are written atomically, so the last one is intact; the run lock of a dead process is taken over.
  const onSignal = (signal: NodeJS.Signals) => {
    io.err(`fitstream: ${signal} — the replicas stopped. Continue from the last backup with: fitstream resume ${runDir}`);
    process.exit(signal === 'SIGINT' ? EXIT.interrupted : EXIT.terminated);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await launch({
      script,
      args: [runDir, options.resuming ? 'resume' : configFile, outcomeFile, options.json ? 'json' : 'text', options.from ?? ''],
      nprocPerNode: section.replicas,
      // Not the test runner's node options (its source condition would load the packages' .ts in the replicas).
      ...(fromSources ? { execArgv: [] } : {}),
      backend: section.backend,
      ...(section.mpiArgs ? { mpirunArgs: section.mpiArgs } : {}),
      ...(section.timeoutMs === undefined ? {} : { timeoutMs: section.timeoutMs }),
      log: io.err,
    });
    const outcome = await readFile(outcomeFile, 'utf8').then(
      (text) => JSON.parse(text) as ReplicaOutcome,
      () => undefined,
    );
    if (!result.ok || !outcome) {
      const failure = result.attempts.at(-1)?.failures[0];
      io.err(`fitstream: the ${section.backend} replicas failed (exit code ${result.exitCode})${failure ? `: rank ${failure.rank}: ${String(failure.error)}` : ''}`);
      return { code: outcome?.code ?? (result.exitCode || EXIT.failure), summary: undefined };
    }
    return outcome;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rm(outcomeFile, { force: true });
    await rm(configFile, { force: true });
  }
}
