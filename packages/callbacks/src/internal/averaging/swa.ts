import * as tf from '@tensorflow/tfjs';
import { Subscription, type Observable } from 'rxjs';
import { LearningRateModifier, ofType, provide, StateProvider, WeightView, type LearningRateModifierInput, type Plugin, type TrainerControl } from '@fitstream/core';
import { updateBatchNormStatistics } from '@fitstream/transfer';
import { assertFiniteNumber, assertNonNegativeInt, assertPositiveInt } from '../policies/monitor.js';
import { asRecord, num, readNum } from '../policies/resumable-state.js';
import type { AnnealStrategy } from '../schedules/formulas.js';
import { AveragedWeights, readNames } from './averaged-weights.js';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { AveragingEvent } from './events.js';
import { parameterNames, trainableBatchNormLayers } from './weights.js';
import { inputError } from '../input-error.js';

/** Options of {@link swa}. */
export interface SwaOptions {
  /**
   * The first averaged epoch: an epoch index (integer ≥ 0) or a fraction of the fit's epochs in (0, 1), resolved as
   * `⌊start · epochs⌋` when the fit starts. Default 0.75 (PyTorch's example: `swa_start = 75` of 100 epochs).
   */
  readonly start?: number;
  /** Average at the end of every k-th epoch from `start` (start, start + k, …); default 1. */
  readonly every?: number;
  /**
   * The SWA learning rate, in force from the start epoch (PyTorch `SWALR`'s `swa_lr`): a modifier of core's learning-rate
   * pipeline at stage `'override'`, so it takes over from whatever schedule ran before (its factor is the SWA rate over
   * the rate that reaches it). Default: leave the rate alone.
   */
  readonly learningRate?: number;
  /** Anneal from the rate in force before `start` to `learningRate` over this many epochs (PyTorch `anneal_epochs`); default 0 (switch at once). */
  readonly annealEpochs?: number;
  /** `'cos'` (default, as PyTorch) or `'linear'` annealing. */
  readonly annealStrategy?: AnnealStrategy;
  /**
   * Training inputs over which the batch-normalization statistics are recomputed when the average is written into the
   * model (PyTorch `update_bn`). Required when the model has trainable batch-norm layers and `finalize` is on. Not
   * disposed; keep it alive until the fit ends.
   */
  readonly batchNormData?: tf.Tensor | readonly tf.Tensor[];
  /** Batch size of that pass; default: the fit's `batchSize`. */
  readonly batchNormBatchSize?: number;
  /** Validate (and `trainer.evaluate`) with the average once it exists; default `false` (PyTorch evaluates the SWA model separately). */
  readonly evaluation?: boolean;
  /** Checkpoints hold the average in their `model.json` (the trained weights beside it, for resume); default `false`. */
  readonly checkpoints?: boolean;
  /** When the fit completes or is stopped, write the average into the model and recompute the batch-norm statistics; default `true`. */
  readonly finalize?: boolean;
}

// Options, then the plugin type with its events$ and state: alike in shape to every callback's (LossSpikeGuard in spike-guard.ts); the fields are its own.
/** The plugin {@link swa} returns. */
export interface Swa<M extends string = string> extends Plugin<M> {
  /** `swa:started` and `swa:finalized`, also published on `trainer.events$`. */
  readonly events$: Observable<AveragingEvent<'swa:started' | 'swa:finalized'>>;
  /** Models (epoch ends) in the average. */
  readonly models: number;
  /** The first averaged epoch, once a fit has resolved `start`. */
  readonly startEpoch: number | undefined;
  /**
   * Copies of every model weight as the averaged model has it (caller disposes): parameters from the average,
   * batch-norm statistics from the model. After a finalized fit the model itself holds the average and this copies it.
   */
  averagedWeights(): Map<string, tf.Tensor>;
  /** Frees the average kept after a fit that did not finalize; `trainer.dispose()` calls it. Idempotent. */
  dispose(): void;
}

/** The epoch `start` names in a fit of `epochs` epochs: an index, or `⌊start · epochs⌋` for a fraction in (0, 1). */
export function swaStartEpoch(start: number, epochs: number): number {
  return start > 0 && start < 1 ? Math.floor(start * epochs) : start;
}

/**
 * PyTorch `SWALR` in closed form: in the `k`-th SWA epoch (0-based) the rate is `swaLr·α + base·(1 − α)` with
 * `α = anneal(min(1, (k + 1) / annealEpochs))` (`α = 1` without annealing), `anneal` = `(1 − cos πt)/2` or `t`.
 */
export function swaLearningRate(k: number, base: number, swaLr: number, annealEpochs: number, strategy: AnnealStrategy): number {
  if (annealEpochs === 0) return swaLr;
  const t = Math.min(1, (k + 1) / annealEpochs);
  const alpha = strategy === 'cos' ? (1 - Math.cos(Math.PI * t)) / 2 : t;
  return swaLr * alpha + base * (1 - alpha);
}

interface SwaState {
  models: number;
  /** The last epoch averaged: a resume from a checkpoint written before this plugin saw that epoch end catches up. */
  lastEpoch: number | undefined;
  /** The rate in force before the SWA learning rate took over (annealing starts from it). */
  baseLr: number | undefined;
}

/**
 * Stochastic weight averaging (Izmailov et al. 2018; PyTorch `swa_utils`): from the `start` epoch on, the parameters
 * at the end of every `every`-th epoch join a running average `avg ← avg + (w − avg)/(n + 1)`, on the device. With
 * `learningRate` the SWA rate (constant, or annealed as `SWALR`) takes over from the start epoch. When the fit
 * completes or is stopped the average is written into the model and, if it has batch-normalization layers, their
 * statistics are recomputed over `batchNormData` with `updateBatchNormStatistics` (PyTorch `update_bn`). The average
 * covers the parameters only — every weight but the batch-norm moving statistics, as `AveragedModel`.
 *
 * @example
 * ```ts
 * const averaged = swa({ start: 0.75, learningRate: 0.05, annealEpochs: 5, batchNormData: xTrain });
 * await trainer.use(averaged).fit({ x: xTrain, y: yTrain }, { epochs: 100 });
 * // the model holds the average of epochs 75–99, with recomputed batch-norm statistics
 * ```
 */
export function swa<M extends string = string>(options: SwaOptions = {}): Swa<M> {
  const start = assertFiniteNumber(options.start ?? 0.75, 'swa: start', (v) => (v > 0 && v < 1) || (Number.isInteger(v) && v >= 0), 'an epoch index (integer ≥ 0) or a fraction of the epochs in (0, 1)');
  const every = assertPositiveInt(options.every ?? 1, 'swa: every');
  const swaLr = options.learningRate === undefined ? undefined : assertFiniteNumber(options.learningRate, 'swa: learningRate', (v) => v > 0, 'a finite number > 0');
  const annealEpochs = assertNonNegativeInt(options.annealEpochs ?? 0, 'swa: annealEpochs');
  if (annealEpochs > 0 && swaLr === undefined) throw inputError('swa: annealEpochs anneals towards learningRate; give learningRate too (e.g. swa({ learningRate: 0.05, annealEpochs: 5 })).');
  const strategy = options.annealStrategy ?? 'cos';
  if (strategy !== 'cos' && strategy !== 'linear') throw inputError(`swa: annealStrategy must be 'cos' or 'linear', got ${String(strategy)}.`);
  const bnBatchSize = options.batchNormBatchSize === undefined ? undefined : assertPositiveInt(options.batchNormBatchSize, 'swa: batchNormBatchSize');
  const bnData = options.batchNormData;
  if (bnData !== undefined && !(bnData instanceof tf.Tensor) && !(Array.isArray(bnData) && bnData.every((t) => t instanceof tf.Tensor))) {
    throw inputError('swa: batchNormData must be the training inputs: a tf.Tensor, or an array of them for a multi-input model.');
  }
  const evaluation = options.evaluation ?? false;
  const checkpoints = options.checkpoints ?? false;
  const finalize = options.finalize ?? true;
  const name = 'swa';
  const store = new AveragedWeights(name);
  const emitter = new PluginEventEmitter<'swa:started' | 'swa:finalized'>();
  const fresh = (): SwaState => ({ models: 0, lastEpoch: undefined, baseLr: undefined });
  let state = fresh();
  let restored = false;
  let savedOrder: readonly string[] | undefined;
  let startEpoch: number | undefined;

  /** The SWA rate of an update as a factor on the rate that reaches it (the base schedule × earlier modifiers). */
  const swaFactor = (swaRate: number, input: LearningRateModifierInput): number => {
    if (startEpoch === undefined || input.epoch < startEpoch) return 1;
    // SWALR anneals from the rate in force when SWA starts: the rate reaching the first SWA update, kept in checkpoints.
    state.baseLr ??= input.rate;
    const lr = swaLearningRate(input.epoch - startEpoch, state.baseLr, swaRate, annealEpochs, strategy);
    // A factor cannot lift a rate of 0 (a warm-up starting at 0); SWA then leaves it, as there is nothing to scale.
    return input.rate > 0 ? lr / input.rate : 1;
  };

  const provider: StateProvider = {
    key: name,
    getState: () => ({ models: state.models, lastEpoch: num(state.lastEpoch), baseLr: num(state.baseLr), weights: store.order() ?? null }),
    setState: (json) => {
      const r = asRecord(json);
      state = { models: readNum(r.models) ?? 0, lastEpoch: readNum(r.lastEpoch), baseLr: readNum(r.baseLr) };
      savedOrder = readNames(r.weights);
      restored = true;
    },
    getTensors: () => store.tensors(),
    setTensors: (tensors) => store.restore(tensors, savedOrder),
  };

  return {
    name,
    events$: emitter.events$,
    get models() {
      return state.models;
    },
    get startEpoch() {
      return startEpoch;
    },
    averagedWeights: () => {
      if (store.size === 0 && state.models === 0) {
        throw new Error(`swa: nothing is averaged yet${startEpoch === undefined ? '' : ` (the first average is taken at the end of epoch ${startEpoch})`}.`);
      }
      return store.snapshot();
    },
    dispose: () => store.dispose(),
    register: (container) => {
      provide(container, StateProvider, provider);
      if (swaLr !== undefined) provide(container, LearningRateModifier, { name, stage: 'override', factor: (input) => swaFactor(swaLr, input) });
      if (evaluation || checkpoints) provide(container, WeightView, { name, evaluation, checkpoints, apply: () => store.apply() });
    },
    attach: (events$, control: TrainerControl<M>) => {
      const model = control.model;
      const batchNorm = model instanceof tf.LayersModel ? trainableBatchNormLayers(model) : [];
      if (finalize && batchNorm.length > 0 && bnData === undefined) {
        throw new Error(
          `swa: the model has batch-normalization layers (${batchNorm.join(', ')}) whose moving statistics do not fit the averaged weights; ` +
            'pass the training inputs as batchNormData (swa({ batchNormData: xTrain })) so that they are recomputed when the average is written into the model, ' +
            'or set finalize: false and recompute them yourself with updateBatchNormStatistics.',
        );
      }
      const resumed = restored;
      restored = false;
      store.release();
      const weights = control.namedWeights();
      store.bind(weights);
      if (!resumed) {
        state = fresh();
        store.clear();
      }
      const parameters = parameterNames(model, weights);
      // An epoch index is known before `fit:start` (core computes the fit's first rate before publishing it); a fraction
      // of the epochs is resolved at `fit:start`.
      startEpoch = start > 0 && start < 1 ? undefined : start;
      let epochs = 0;
      let batchSize = 0;

      const average = (epoch: number, step: number) => {
        const first = startEpoch!;
        if (epoch < first || (epoch - first) % every !== 0 || (state.lastEpoch !== undefined && epoch <= state.lastEpoch)) return;
        if (state.models === 0 || store.size === 0) store.reset(parameters);
        else {
          const n = state.models;
          store.update((avg, w) => tf.add(avg, tf.div(tf.sub(w, avg), n + 1)));
        }
        state.models += 1;
        state.lastEpoch = epoch;
        if (state.models === 1) emitter.emit(control, 'swa:started', { epoch, step, startEpoch: first });
      };

      const subscription = new Subscription(() => store.release());
      subscription.add(
        events$.pipe(ofType('fit:start')).subscribe((e) => {
          epochs = e.epochs;
          batchSize = e.batchSize;
          startEpoch = swaStartEpoch(start, epochs);
          if (startEpoch >= epochs) {
            throw inputError(
              `swa: start is epoch ${startEpoch} but the fit's last epoch is ${epochs - 1} (epochs: ${epochs} is exclusive), so nothing would be averaged; ` +
                `use a start below ${epochs}, or a fraction of the epochs such as 0.75.`,
            );
          }
          // A checkpoint written at the end of the previous epoch by a subscriber that ran before this plugin lacks
          // that epoch's average; the model weights restored from it are exactly the ones to add.
          if (resumed) average(e.initialEpoch - 1, e.step);
        }),
      );
      subscription.add(events$.pipe(ofType('epoch:start', 'batch:start')).subscribe(() => store.release()));
      // The epoch's weights join the average before validation, so that `evaluation` validates the epoch's average.
      subscription.add(
        events$.pipe(ofType('validation:start')).subscribe((e) => {
          store.release();
          average(e.epoch, e.step);
        }),
      );
      subscription.add(
        events$.pipe(ofType('epoch:end')).subscribe((e) => {
          store.release();
          average(e.epoch, e.step);
        }),
      );
      subscription.add(
        events$.pipe(ofType('fit:end')).subscribe((e) => {
          if (!finalize || e.reason === 'error' || store.size === 0) return;
          const models = state.models;
          store.finalize();
          const layers = batchNorm.length > 0 && bnData !== undefined && model instanceof tf.LayersModel ? updateBatchNormStatistics(model, bnData, { batchSize: bnBatchSize ?? batchSize }) : [];
          emitter.emit(control, 'swa:finalized', { epoch: e.epoch, step: e.step, models, batchNormLayers: layers, reason: e.reason });
        }),
      );
      return subscription;
    },
  };
}
