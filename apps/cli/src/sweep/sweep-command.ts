// `fitstream sweep <sweep.yaml>`: reads and plans the sweep (every trial's configuration validated before anything
// runs), then runs or continues it.
import { EXIT } from '../exit.js';
import type { Io } from '../recipes/recipe.js';
import { showValue } from './run-sweep.js';
import { planSweep, readSweepFile } from './sweep-file.js';

/** Flags of `fitstream sweep`. */
export interface SweepFlags {
  readonly json?: boolean;
  /** List the planned trials and exit. */
  readonly dryRun?: boolean;
  /** Overrides the sweep file's `parallel`. */
  readonly parallel?: number;
}

/**
 * Runs `fitstream sweep <file>` and resolves with its exit code: 0 when the sweep finished, 130/143 when stopped by
 * SIGINT/SIGTERM (the state in `<out>/sweep.json` is resumable: run the same command again).
 *
 * @example
 * ```ts
 * const code = await sweepCommand('sweeps/iris.yaml', { json: true }, { out: console.log, err: console.error });
 * ```
 */
export async function sweepCommand(file: string, flags: SweepFlags, io: Io): Promise<number> {
  const read = await readSweepFile(file);
  const spec = flags.parallel === undefined ? read : { ...read, parallel: flags.parallel };
  const plan = await planSweep(spec);
  if (flags.dryRun) {
    if (flags.json) io.out(JSON.stringify({ name: spec.name, out: spec.out, trials: plan.trials.map((t) => ({ id: t.id, params: t.params, ...(t.bracket !== undefined ? { bracket: t.bracket } : {}) })), ...(plan.brackets ? { brackets: plan.brackets } : {}) }));
    else {
      for (const note of plan.notes) io.out(`note: ${note}`);
      for (const t of plan.trials) io.out(`trial ${t.id}${t.bracket !== undefined ? ` (bracket ${t.bracket})` : ''}: ${Object.entries(t.params).map(([k, v]) => `${k}=${showValue(v)}`).join(' ')}`);
    }
    return EXIT.ok;
  }
  // Before anything is written: a file in the way of out, or a folder that cannot be written, is a usage error.
  const { prepareOutDirectory } = await import('../run/out-directory.js');
  await prepareOutDirectory(spec.out);
  const { runSweep } = await import('./run-sweep.js');
  const outcome = await runSweep(plan, { log: flags.json ? io.err : io.out, handleSignals: true });
  if (flags.json) io.out(JSON.stringify(outcome.summary));
  return outcome.code;
}
