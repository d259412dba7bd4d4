import { token } from '../di/token.js';

/** Where the loop is when core computes the rate of the next optimizer update. */
export interface LearningRatePosition {
  /** Optimizer steps completed before this update (0 for the first update of a run). */
  readonly step: number;
  /** The epoch this update belongs to. */
  readonly epoch: number;
  /**
   * The base rate of the run: the optimizer's learning rate when the run's first fit started (PyTorch's `base_lr`),
   * recorded in checkpoints so that a resumed run scales the same number.
   */
  readonly initialLr: number;
  /** Optimizer steps per epoch when known in advance (in-memory data, `stepsPerEpoch`). */
  readonly stepsPerEpoch: number | undefined;
}

/**
 * Plugin point: the base schedule of the learning rate — a pure function of the position (constant, step decay,
 * cosine, warm restarts, one-cycle, the user's own). Exactly one per trainer; without one the rate is `initialLr`.
 * Core calls it once per optimizer update and alone writes the result (times the modifiers) into the optimizer.
 *
 * @example
 * ```ts
 * const halveEveryTenEpochs: Plugin = {
 *   name: 'halve-every-ten-epochs',
 *   register: (r) => r.provide(LearningRateBase, { name: 'halve-every-ten-epochs', rate: (p) => p.initialLr * 0.5 ** Math.floor(p.epoch / 10) }),
 * };
 * ```
 */
export interface LearningRateBase {
  readonly name: string;
  /** The optimizer it schedules, by name, when a custom train step has several (default: every optimizer). */
  readonly optimizer?: string;
  /** `true` when the schedule ramps the rate up at the start itself (one-cycle): a warm-up modifier is refused beside it. */
  readonly shapesWarmup?: boolean;
  rate(position: LearningRatePosition): number;
}
export const LearningRateBase = token<LearningRateBase>('@fitstream/core/LearningRateBase');

/**
 * Where a modifier sits in the pipeline. Modifiers apply in this order (registration order within a stage), each to
 * the rate the earlier ones produced: `warmup` (ramps), `scale` (replica scaling, constant factors), `adapt` (plateau
 * reductions, loss-spike back-off), `override` (a rate that takes over, e.g. SWA's annealing to its own rate).
 */
export type LearningRateStage = 'warmup' | 'scale' | 'adapt' | 'override';

/** What a modifier sees: the position and the rate so far (base × earlier modifiers). */
export interface LearningRateModifierInput extends LearningRatePosition {
  readonly rate: number;
}

/**
 * Plugin point: a factor on the learning rate (warm-up, linear scaling by replica count, plateau reductions, loss-spike
 * back-off). Any number per trainer, applied in {@link LearningRateStage} order; each factor is reported in the step and
 * epoch events, the history and the checkpoint under the modifier's name. A modifier with state (a plateau's factor)
 * saves it through its own `StateProvider`.
 *
 * @example
 * ```ts
 * const halfRate: Plugin = { name: 'half-rate', register: (r) => r.provide(LearningRateModifier, { name: 'half-rate', stage: 'scale', factor: () => 0.5 }) };
 * ```
 */
export interface LearningRateModifier {
  readonly name: string;
  /** The optimizer it applies to, by name, when a custom train step has several (default: every optimizer). */
  readonly optimizer?: string;
  /** Default `'scale'`. */
  readonly stage?: LearningRateStage;
  /** `true` when it ramps the rate up at the start (a warm-up): refused beside a base or modifier that does too. */
  readonly shapesWarmup?: boolean;
  /** The factor for this update, a finite number ≥ 0. */
  factor(input: LearningRateModifierInput): number;
}
export const LearningRateModifier = token<LearningRateModifier>('@fitstream/core/LearningRateModifier');
