import type { Plugin } from '@fitstream/core';
import type { DistributedContext } from '../init.js';

/**
 * Uses `plugin` on rank 0 only: for observers that must act once per run — progress bars, loggers, checkpoint
 * writers (`modelCheckpoint`), reports. Never for plugins that change training (schedules, gradient transforms,
 * samplers): replicas would diverge. Every rank can resume from rank 0's checkpoints (`fit(…, { resumeFrom })`).
 *
 * @example
 * ```ts
 * trainer.use(rankZero(ctx, progressBar()));
 * ```
 */
export function rankZero<P extends Plugin>(ctx: Pick<DistributedContext, 'isMain'>, plugin: P): Plugin {
  if (ctx.isMain) return plugin;
  return { name: `${plugin.name} (rank 0 only)` };
}
