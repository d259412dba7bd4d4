import { checkpointStore, findCheckpoint, joinLocation, markLatest, provide, ResumeSource, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import './events.js';
import { inputError } from '../input-error.js';

/** Options of {@link backupAndRestore}. */
export interface BackupAndRestoreOptions {
  /** The run's backup directory (one checkpoint, replaced atomically at each save). */
  readonly dir: string;
  /** Back up every n epochs (default 1, Keras `save_freq='epoch'`). `false` disables epoch backups. */
  readonly everyEpochs?: number | false;
  /** Also back up every n optimizer steps, so a kill loses at most n steps (resume is mid-epoch and exact). */
  readonly everySteps?: number;
  /** Write a final backup when the fit is interrupted (`fit:end` with reason `'stopped'` for a signal/abort/time budget) or fails (`'error'`). Default `true`. */
  readonly saveOnInterrupt?: boolean;
  /**
   * Which stop reasons are interruptions to resume from later (default: SIGINT, SIGTERM, an aborted signal, the time
   * budget). Any other stop — early stopping, `terminateOnNaN` — ends the run like completing all epochs.
   */
  readonly isInterruption?: (stopReason: string | undefined) => boolean;
  /** Delete the backup (`<dir>/backup` and `<dir>/latest.json`) when the run ends (completed, or stopped for a reason that is no interruption). Default `true` (Keras). */
  readonly deleteOnFinish?: boolean;
}

/** The plugin {@link backupAndRestore} returns: `trainer.use(backup)`, then a plain `trainer.fit` resumes from the backup. */
export interface BackupAndRestore<M extends string = string> extends Plugin<M> {
  readonly dir: string;
  /** The checkpoint the next fit would resume from (`undefined` on a fresh run). */
  find(): Promise<string | undefined>;
}

const DEFAULT_INTERRUPTIONS = /^(SIGINT|SIGTERM|aborted|timeBudget|time budget)/;

/**
 * Automatic resume of an interrupted run (Keras `BackupAndRestore`): backs the run up to `dir` at epoch ends (and every
 * n steps), writes a final backup when the fit is interrupted by a signal or an error, and deletes the backup when the
 * run finishes. It registers core's `ResumeSource`: on a fresh start `trainer.fit` trains from scratch, after a crash
 * or a kill it resumes from the backup at the exact batch — with the same seed the weights end bit-identical to an
 * uninterrupted run. An explicit `resumeFrom` fit option still wins.
 *
 * @example
 * ```ts
 * const backup = backupAndRestore({ dir: 'runs/mnist/backup', everySteps: 200 });
 * const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 42 }).use(backup);
 * await trainer.fit(data, { epochs: 20, batchSize: 64 }); // run it again after a kill: it continues
 * ```
 */
export function backupAndRestore<M extends string = string>(options: BackupAndRestoreOptions): BackupAndRestore<M> {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) throw inputError('backupAndRestore: options.dir is required.');
  // A path (the file system) or a store URL such as 'indexeddb://my-app' in a browser.
  const { store, location: dir } = checkpointStore(options.dir);
  const target = joinLocation(dir, 'backup');
  const everyEpochs = options.everyEpochs === false ? undefined : (options.everyEpochs ?? 1);
  const everySteps = options.everySteps;
  for (const [what, v] of [['everyEpochs', everyEpochs], ['everySteps', everySteps]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw inputError(`backupAndRestore: ${what} must be an integer ≥ 1, got ${String(v)}.`);
  }
  const saveOnInterrupt = options.saveOnInterrupt ?? true;
  const isInterruption = options.isInterruption ?? ((reason: string | undefined) => reason !== undefined && DEFAULT_INTERRUPTIONS.test(reason));
  const deleteOnFinish = options.deleteOnFinish ?? true;
  const name = `backup-and-restore(${options.dir})`;

  const find = async () => (await findCheckpoint(target)) ?? undefined;

  const plugin: BackupAndRestore<M> = {
    name,
    dir,
    find,
    register: (container) => {
      provide(container, ResumeSource, { name, find });
    },
    attach: (events$, control: TrainerControl<M>) => {
      const backup = (reason: string) => {
        const written = control.saveCheckpoint(target, `backupAndRestore: ${reason}`);
        control.await(
          written.then(async (info) => {
            await markLatest(info.path);
            // The new backup is complete: leftovers of writes interrupted earlier (temporaries, a moved-aside copy) can go.
            await store.cleanUp(dir);
            control.emit('backupAndRestore:saved', { path: info.path, epoch: info.epoch, step: info.step, batch: info.batch, reason });
          }),
        );
      };
      return events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        switch (e.type) {
          case 'fit:start':
            if (e.resumedFrom !== undefined && (e.resumedFrom === target || e.resumedFrom.startsWith(`${dir}/`))) control.emit('backupAndRestore:restored', { path: e.resumedFrom!, epoch: e.initialEpoch, step: e.step });
            break;
          case 'step:end':
            if (everySteps !== undefined && e.step % everySteps === 0) backup(`step ${e.step}`);
            break;
          case 'epoch:end':
            if (everyEpochs !== undefined && (e.epoch + 1) % everyEpochs === 0) backup(`epoch ${e.epoch}`);
            break;
          case 'fit:end': {
            const interrupted = e.reason === 'error' || (e.reason === 'stopped' && isInterruption(e.stopReason));
            if (interrupted && saveOnInterrupt) backup(e.reason === 'error' ? `error: ${e.error?.message ?? 'unknown'}` : `interrupted: ${e.stopReason ?? 'stop'}`);
            else if (!interrupted && deleteOnFinish) {
              control.await(
                // Only what this plugin wrote: `dir` may hold the user's other files.
                Promise.all([store.remove(target), store.remove(joinLocation(dir, 'latest.json'))])
                  .then(() => store.cleanUp(dir))
                  .then(() => control.emit('backupAndRestore:deleted', { path: target })),
              );
            }
            break;
          }
          default:
            break;
        }
      });
    },
  };
  return plugin;
}
