import { checkpointStore, joinLocation, markLatest, provide, StateProvider, type Json, type LogName, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { resolveMode, type MonitorMode } from '../policies/monitor.js';
import './events.js';
import { checkTemplateNames, compileTemplate } from './filename-template.js';
import { inputError } from '../input-error.js';

/** Options of {@link modelCheckpoint}. */
export interface ModelCheckpointOptions<M extends string = string> {
  /** Directory that holds the checkpoints, `latest.json` and `best.json`. */
  readonly dir: string;
  /** Epoch log to rank checkpoints by (keeps the best `keepBest`). Without it, only the periodic schedule saves. */
  readonly monitor?: NoInfer<LogName<M>>;
  /** `'auto'` (default) maximises names containing acc/auc/f1 and minimises the rest. */
  readonly mode?: MonitorMode;
  /** How many best checkpoints to keep (default 1: Keras `save_best_only`). */
  readonly keepBest?: number;
  /** Save every n epochs (default 1 when neither `monitor` nor another schedule is given). */
  readonly everyEpochs?: number;
  /** Save every n optimizer steps (mid-epoch checkpoints; resume continues at the exact batch). */
  readonly everySteps?: number;
  /** Save when this many minutes passed since the last save (checked after each step). */
  readonly everyMinutes?: number;
  /** How many periodic checkpoints to keep (default: all). Best checkpoints are kept by `keepBest` independently. */
  readonly keepLast?: number;
  /**
   * Directory name template, e.g. `'epoch-{epoch:04d}-val_loss-{val_loss:.4f}'`. Placeholders: `epoch` (epochs
   * completed, as Keras's 1-based `{epoch}`), `step`, `batch`, and the loss and metrics (`val_` names at epoch ends
   * only). Default `'epoch-{epoch:04d}-step-{step:08d}'`.
   */
  readonly filename?: string;
}

/** One checkpoint written by {@link modelCheckpoint}. */
export interface SavedCheckpoint {
  readonly name: string;
  readonly path: string;
  readonly epoch: number;
  readonly step: number;
  readonly batch: number;
  readonly value: number | undefined;
  readonly best: boolean;
  readonly periodic: boolean;
}

/** The plugin {@link modelCheckpoint} returns. */
export interface ModelCheckpoint<M extends string = string> extends Plugin<M> {
  readonly dir: string;
  /** Checkpoints on disk, oldest first. */
  readonly saved: readonly SavedCheckpoint[];
  /** The best checkpoint so far (when monitoring). */
  readonly best: SavedCheckpoint | undefined;
}

const DEFAULT_TEMPLATE = 'epoch-{epoch:04d}-step-{step:08d}';

function positiveInt(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1) throw inputError(`modelCheckpoint: ${what} must be an integer ≥ 1, got ${String(value)}.`);
  return value;
}

/**
 * Saves checkpoints in core's format (stock tfjs layers model + optimizer + loop state; `tf.loadLayersModel(fileSystem(path))`
 * loads each one) — the best `keepBest` by a monitored epoch log, and/or every n epochs, n steps or t minutes, keeping
 * the last `keepLast`. Writes go through `control.saveCheckpoint` (atomic: temporary directory + rename) inside
 * `control.await`; `latest.json` (core's `markLatest`) and `best.json` are replaced atomically, and checkpoints that fall
 * out of the kept sets are deleted only after the new one is complete. Publishes `modelCheckpoint:saved` and
 * `modelCheckpoint:pruned`. The kept set is part of the checkpoint state, so a resumed run keeps pruning correctly.
 *
 * @example
 * ```ts
 * trainer.use(modelCheckpoint({ dir: 'runs/mnist/ckpt', monitor: 'val_accuracy', keepBest: 3, everySteps: 500, keepLast: 2 }));
 * ```
 */
export function modelCheckpoint<M extends string = string>(options: ModelCheckpointOptions<M>): ModelCheckpoint<M> {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) throw inputError('modelCheckpoint: options.dir is required.');
  // A path (the file system) or a store URL such as 'indexeddb://my-app/checkpoints' in a browser.
  const { store, location: dir } = checkpointStore(options.dir);
  const monitor: string | undefined = options.monitor;
  const mode = monitor === undefined ? 'min' : resolveMode(monitor, options.mode);
  const keepBest = positiveInt(options.keepBest, 'keepBest') ?? 1;
  const everySteps = positiveInt(options.everySteps, 'everySteps');
  const everyMinutes = options.everyMinutes;
  if (everyMinutes !== undefined && !(everyMinutes > 0 && Number.isFinite(everyMinutes))) throw inputError(`modelCheckpoint: everyMinutes must be > 0, got ${String(everyMinutes)}.`);
  const everyEpochs = positiveInt(options.everyEpochs, 'everyEpochs') ?? (monitor === undefined && everySteps === undefined && everyMinutes === undefined ? 1 : undefined);
  const keepLast = positiveInt(options.keepLast, 'keepLast');
  const template = compileTemplate(options.filename ?? DEFAULT_TEMPLATE);
  const name = `model-checkpoint(${options.dir})`;

  let saved: SavedCheckpoint[] = [];
  let restored = false;
  const better = (a: number, b: number) => (mode === 'min' ? a < b : a > b);
  const ranking = () =>
    saved.filter((s) => s.best && s.value !== undefined && !Number.isNaN(s.value)).sort((a, b) => (better(a.value!, b.value!) ? -1 : better(b.value!, a.value!) ? 1 : a.step - b.step));
  const keptSet = (): Set<string> => {
    const kept = new Set(ranking().slice(0, keepBest).map((s) => s.name));
    const periodic = saved.filter((s) => s.periodic);
    for (const s of keepLast === undefined ? periodic : periodic.slice(-keepLast)) kept.add(s.name);
    return kept;
  };

  const state: StateProvider = {
    key: name,
    getState: () => saved.map((s) => ({ name: s.name, epoch: s.epoch, step: s.step, batch: s.batch, value: s.value === undefined || !Number.isFinite(s.value) ? null : s.value, best: s.best, periodic: s.periodic })) as Json,
    setState: (json) => {
      const list = Array.isArray(json) ? (json as readonly Record<string, Json>[]) : [];
      // The state was captured while its own checkpoint was being written; checkpoints pruned since then are gone.
      saved = list
        .filter((r) => typeof r.name === 'string')
        .map((r) => ({
          name: r.name as string,
          path: joinLocation(dir, r.name as string),
          epoch: Number(r.epoch),
          step: Number(r.step),
          batch: Number(r.batch),
          value: typeof r.value === 'number' ? r.value : undefined,
          best: r.best === true,
          periodic: r.periodic === true,
        }));
      restored = true;
    },
  };

  return {
    name,
    dir,
    get saved() {
      return saved;
    },
    get best() {
      return ranking()[0];
    },
    register: (container) => provide(container, StateProvider, state),
    attach: (events$, control: TrainerControl<M>) => {
      const trainNames = [...control.metricNames] as string[];
      const epochNames = ['epoch', 'step', 'batch', ...trainNames, ...trainNames.map((n) => `val_${n}`)];
      if (monitor !== undefined && !epochNames.includes(monitor)) {
        throw new Error(`modelCheckpoint: monitor "${monitor}" is not reported by this trainer. Available: ${epochNames.slice(3).map((n) => `"${n}"`).join(', ')}.`);
      }
      checkTemplateNames(template, epochNames, 'a checkpoint at an epoch end');
      if (everySteps !== undefined || everyMinutes !== undefined) checkTemplateNames(template, ['epoch', 'step', 'batch', ...trainNames], 'a mid-epoch checkpoint (everySteps/everyMinutes)');
      if (!restored) saved = [];
      // The state was captured while its own checkpoint was being written; checkpoints pruned since then are gone.
      else control.await(Promise.all(saved.map((s) => store.exists(s.path))).then((present) => (saved = saved.filter((_, i) => present[i]))));
      restored = false;
      let lastSaveAt = performance.now();
      let cleaned = false;

      const save = (position: { epoch: number; step: number; batch: number }, values: Record<string, number | undefined>, value: number | undefined, reasons: { best: boolean; periodic: boolean }) => {
        const dirName = template.render({ ...values, ...position });
        const record: SavedCheckpoint = { name: dirName, path: joinLocation(dir, dirName), ...position, value, ...reasons };
        // A template without {step} can name two checkpoints alike: the new one replaces the old (same directory).
        saved = [...saved.filter((s) => s.name !== dirName), record];
        const kept = keptSet();
        const pruned = saved.filter((s) => !kept.has(s.name));
        lastSaveAt = performance.now();
        // saveCheckpoint must be called synchronously here, so that it captures this exact position; it holds the loop.
        const written = control.saveCheckpoint(record.path, `modelCheckpoint: ${[reasons.best ? 'best' : '', reasons.periodic ? 'periodic' : ''].filter(Boolean).join('+')}`);
        control.await(
          (async () => {
            await written;
            await markLatest(record.path);
            if (reasons.best && monitor !== undefined) {
              const ranked = ranking().filter((s) => kept.has(s.name));
              await store.writeText(
                joinLocation(dir, 'best.json'),
                `${JSON.stringify({ path: ranked[0]!.name, monitor, mode, value: ranked[0]!.value, epoch: ranked[0]!.epoch, step: ranked[0]!.step, ranking: ranked.map((s) => ({ path: s.name, value: s.value, epoch: s.epoch, step: s.step })) }, null, 1)}\n`,
              );
            }
            const rank = reasons.best ? ranking().findIndex((s) => s.name === dirName) : -1;
            control.emit('modelCheckpoint:saved', { ...position, path: record.path, reasons: [...(reasons.best ? ['best' as const] : []), ...(reasons.periodic ? ['periodic' as const] : [])], monitor, value, rank: rank >= 0 ? rank : undefined });
            saved = saved.filter((s) => kept.has(s.name));
            for (const p of pruned) {
              await store.remove(p.path);
              control.emit('modelCheckpoint:pruned', { path: p.path, epoch: p.epoch, step: p.step, value: p.value });
            }
            if (!cleaned) {
              cleaned = true;
              await store.cleanUp(dir);
            }
          })(),
        );
      };

      return events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        if (e.type === 'fit:start') lastSaveAt = performance.now();
        if (e.type === 'step:end') {
          const due = (everySteps !== undefined && e.step % everySteps === 0) || (everyMinutes !== undefined && performance.now() - lastSaveAt >= everyMinutes * 60_000);
          if (!due) return;
          // One device read per mid-epoch save, only when the template names a metric.
          const values: Record<string, number | undefined> = template.names.some((n) => trainNames.includes(n)) ? { ...e.metrics } : {};
          save({ epoch: e.epoch, step: e.step, batch: e.batch + 1 }, values, undefined, { best: false, periodic: true });
        } else if (e.type === 'epoch:end') {
          const logs = e.metrics as unknown as Readonly<Record<string, number | undefined>>;
          const value = monitor === undefined ? undefined : logs[monitor];
          let best = false;
          if (value !== undefined && !Number.isNaN(value)) {
            const top = ranking().slice(0, keepBest);
            best = top.length < keepBest || better(value, top[top.length - 1]!.value!);
          }
          const periodic = everyEpochs !== undefined && (e.epoch + 1) % everyEpochs === 0;
          if (!best && !periodic) return;
          const values: Record<string, number | undefined> = {};
          for (const n of epochNames.slice(3)) values[n] = logs[n] ?? Number.NaN;
          save({ epoch: e.epoch + 1, step: e.step, batch: 0 }, values, value, { best, periodic });
        }
      });
    },
  };
}

