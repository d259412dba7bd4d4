import type { FitResult } from '@fitstream/core';
import type { TrainSummary } from '../recipes/recipe.js';
import { bestOf } from './best.js';

/**
 * The `--json` summary of a run's fit (`fitstream train`, and the experiments around one fit): its directory, backend,
 * epochs and how it ended, the `final` numbers the caller reports, the best value of every log, and the evaluation.
 */
export function fitSummary<M extends string>(runDir: string, result: FitResult<M>, final: Readonly<Record<string, number>>, evaluation: Readonly<Record<string, number>>): TrainSummary {
  return {
    runDir,
    backend: result.backend,
    epochs: result.history.epochs.length,
    reason: result.stopReason ? `${result.reason}: ${result.stopReason}` : result.reason,
    final,
    best: bestOf(result.history.logs as Readonly<Record<string, readonly number[]>>),
    evaluation,
  };
}
