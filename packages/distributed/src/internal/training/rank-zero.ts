import { ResumeSource, provide, type Plugin, type PluginRegistry } from '@fitstream/core';
import type { Communicator } from '../comm/communicator.js';
import type { DistributedContext } from '../init.js';

/**
 * Uses `plugin` on rank 0 only: for observers that must act once per run — progress bars, loggers, checkpoint
 * writers (`modelCheckpoint`), **backups** (`backupAndRestore`), reports. Never for plugins that change training
 * (schedules, gradient transforms, samplers): replicas would diverge.
 *
 * Rank 0 writes, every rank reads: a `ResumeSource` the plugin registers (`backupAndRestore`'s) is kept on every rank,
 * and rank 0's answer is broadcast, so after a crash — or a restart by `launch({ maxRestarts })` — a plain
 * `trainer.fit` resumes **every** rank from the same checkpoint, without any `resumeFrom` in the script.
 *
 * @example
 * ```ts
 * trainer.use(dataParallel(ctx)).use(rankZero(ctx, progressBar())).use(rankZero(ctx, backupAndRestore({ dir: 'runs/a/backup', everySteps: 50 })));
 * await trainer.fit(data, { epochs: 20, batchSize: 32 }); // after a restart: every rank continues from rank 0's backup
 * ```
 */
export function rankZero<P extends Plugin>(ctx: Pick<DistributedContext, 'isMain'> & Partial<Pick<DistributedContext, 'comm'>>, plugin: P): Plugin {
  const comm = ctx.comm;
  if (ctx.isMain && (!comm || comm.size === 1)) return plugin;
  let inner: ResumeSource | undefined;
  const registerWith = (registry: PluginRegistry, forward: boolean) => {
    plugin.register?.({
      provide: (t, value) => {
        if (t === (ResumeSource as unknown)) inner = value as ResumeSource;
        else if (forward) registry.provide(t, value);
      },
    });
    if (inner && comm) provide(registry, ResumeSource, sharedResumeSource(comm, inner));
  };
  if (ctx.isMain) {
    return {
      name: plugin.name,
      ...(plugin.claims ? { claims: plugin.claims } : {}),
      register: (registry) => registerWith(registry, true),
      ...(plugin.attach ? { attach: plugin.attach.bind(plugin) } : {}),
    };
  }
  return { name: `${plugin.name} (rank 0 only)`, ...(plugin.register ? { register: (registry: PluginRegistry) => registerWith(registry, false) } : {}) };
}

/**
 * A `ResumeSource` whose answer is rank 0's on every rank: rank 0 asks `inner`, then broadcasts the path (its length,
 * then its UTF-16 code units, exact in float32), so that every rank resumes from the same checkpoint — never one
 * from the backup before and one from the backup after a write. A collective: every rank's fit calls it at the start.
 */
export function sharedResumeSource(comm: Communicator, inner: ResumeSource): ResumeSource {
  return {
    name: `${inner.name} (rank 0's, shared)`,
    find: async () => {
      if (comm.size === 1) return inner.find();
      const path = comm.rank === 0 ? await inner.find() : undefined;
      const header = comm.broadcast(Float32Array.of(path === undefined ? -1 : path.length), 0);
      const length = header[0]!;
      if (length < 0) return undefined;
      const units = comm.broadcast(comm.rank === 0 ? Float32Array.from({ length: length }, (_, i) => path!.charCodeAt(i)) : new Float32Array(length), 0);
      return String.fromCharCode(...units);
    },
  };
}
