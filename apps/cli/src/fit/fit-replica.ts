// One replica of a distributed `fitstream fit` run: the script @fitstream/distributed's `launch` starts on every worker
// thread (or MPI process). It joins the group, reads the run's configuration and trains as `fitstream fit` does, with
// `dataParallel` (the fit recipe adds it) and the run directory's writers on rank 0 only (the run session asks
// `onRankZero`). Arguments: <run-dir> <config.json | resume> <outcome file> <json | text> [<--from checkpoint>].
import { dataParallel, init, rankZero } from '@fitstream/distributed';
import { ConfigError } from '../config/resolve.js';
import { EXIT } from '../exit.js';
import type { Io } from '../recipes/recipe.js';
import { reportOutcome, setReplica, type Replica } from './distributed.js';

const [runDir, configArg, outcomeFile, mode, from] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const ctx = await init();
setReplica({ ctx, rankZero, dataParallel: dataParallel as unknown as Replica['dataParallel'] });
// Rank 0 prints as a single-replica run does; the others say the same, so they are quiet (their errors reach the
// launcher, which prints them with their rank).
const io: Io =
  ctx.rank === 0 ? { out: (line) => void process.stdout.write(`${line}\n`), err: (line) => void process.stderr.write(`${line}\n`) } : { out: () => undefined, err: () => undefined };
try {
  const { resolveConfig, runConfig, train } = await import('../run/session.js');
  const resuming = configArg === 'resume';
  const resolved = resuming ? await runConfig(runDir) : await resolveConfig(configArg, {});
  const outcome = await train(resolved, io, { json: mode === 'json', runDir, ...(resuming ? { resumeDir: runDir } : {}), ...(from ? { from } : {}) });
  if (ctx.rank === 0) await reportOutcome(outcomeFile, { code: outcome.code, summary: outcome.summary as never });
} catch (error) {
  const usage = error instanceof ConfigError || (error instanceof Error && ['FitstreamInputError', 'PluginConflictError', 'DistributedConfigError'].includes(error.name));
  if (ctx.rank === 0) await reportOutcome(outcomeFile, { code: usage ? EXIT.usage : EXIT.failure, summary: undefined }).catch(() => undefined);
  // Peers waiting in a collective fail at once instead of at the timeout.
  ctx.comm.abort(error);
  throw error;
} finally {
  ctx.close();
}
