import { LearningRateModifier, provide, type Plugin } from '@fitstream/core';
import { assertFiniteNumber, assertPositiveInt } from '../policies/monitor.js';
import {
  cosineDecayAt,
  cosineRestartsAt,
  exponentialDecayAt,
  multiStepDecayAt,
  oneCycleAt,
  polynomialDecayAt,
  stepDecayAt,
  warmupFactorAt,
  type AnnealStrategy,
} from './formulas.js';
import { createSchedule, type LearningRateSchedule, type ScheduleInterval, type ScheduleOptions } from './schedule.js';
import { inputError } from '../input-error.js';

const nonNegative = (v: unknown, what: string) => assertFiniteNumber(v, what, (x) => x >= 0, 'a finite number ≥ 0');
const positive = (v: unknown, what: string) => assertFiniteNumber(v, what, (x) => x > 0, 'a finite number > 0');

/**
 * A fixed learning rate (`initialLr`, or the optimizer's own) as the base schedule; modifiers (warm-up, plateau) still
 * apply on top of it.
 *
 * @example
 * ```ts
 * trainer.use(constantLr({ initialLr: 0.01 }));
 * ```
 */
export function constantLr<M extends string = string>(options: ScheduleOptions = {}): LearningRateSchedule<M> {
  return createSchedule<M>('constant-lr', options, (_t, base) => base);
}

/**
 * Multiplies the rate by `gamma` every `stepSize` steps (PyTorch `StepLR`).
 *
 * @example
 * ```ts
 * trainer.use(stepDecay({ stepSize: 10, gamma: 0.5, interval: 'epoch' })); // halve every 10 epochs
 * ```
 */
export function stepDecay<M extends string = string>(options: ScheduleOptions & { readonly stepSize: number; readonly gamma?: number }): LearningRateSchedule<M> {
  const stepSize = assertPositiveInt(options.stepSize, 'stepDecay: stepSize');
  const gamma = nonNegative(options.gamma ?? 0.1, 'stepDecay: gamma');
  return createSchedule<M>('step-decay', options, (t, base) => stepDecayAt(t, base, stepSize, gamma));
}

/**
 * Multiplies the rate by `gamma` at each milestone (PyTorch `MultiStepLR`).
 *
 * @example
 * ```ts
 * trainer.use(multiStepDecay({ milestones: [30, 80], gamma: 0.1, interval: 'epoch' }));
 * ```
 */
export function multiStepDecay<M extends string = string>(options: ScheduleOptions & { readonly milestones: readonly number[]; readonly gamma?: number }): LearningRateSchedule<M> {
  if (!Array.isArray(options.milestones) || options.milestones.length === 0) throw inputError('multiStepDecay: milestones must be a non-empty array of step or epoch indices.');
  const milestones = options.milestones.map((m, i) => assertPositiveInt(m, `multiStepDecay: milestones[${i}]`));
  if (milestones.some((m, i) => i > 0 && m <= milestones[i - 1]!)) throw inputError(`multiStepDecay: milestones must increase, got [${milestones.join(', ')}].`);
  const gamma = nonNegative(options.gamma ?? 0.1, 'multiStepDecay: gamma');
  return createSchedule<M>('multi-step-decay', options, (t, base) => multiStepDecayAt(t, base, milestones, gamma));
}

/**
 * Exponential decay, Keras `ExponentialDecay`: `base · decayRate^(t / decaySteps)`; `decaySteps: 1` is PyTorch
 * `ExponentialLR(gamma = decayRate)`.
 *
 * @example
 * ```ts
 * trainer.use(exponentialDecay({ decayRate: 0.96, decaySteps: 100, staircase: true }));
 * ```
 */
export function exponentialDecay<M extends string = string>(
  options: ScheduleOptions & { readonly decayRate: number; readonly decaySteps?: number; readonly staircase?: boolean },
): LearningRateSchedule<M> {
  const rate = positive(options.decayRate, 'exponentialDecay: decayRate');
  const steps = positive(options.decaySteps ?? 1, 'exponentialDecay: decaySteps');
  const staircase = options.staircase ?? false;
  return createSchedule<M>('exponential-decay', options, (t, base) => exponentialDecayAt(t, base, rate, steps, staircase));
}

// Each schedule below checks its own options and hands its formula to createSchedule (the shared piece): alike by design.
/**
 * Polynomial decay to `endLr` over `decaySteps` (Keras `PolynomialDecay`; PyTorch `PolynomialLR` when `endLr` is 0).
 *
 * @example
 * ```ts
 * trainer.use(polynomialDecay({ decaySteps: 1000, power: 2, endLr: 1e-5 }));
 * ```
 */
export function polynomialDecay<M extends string = string>(
  options: ScheduleOptions & { readonly decaySteps: number; readonly endLr?: number; readonly power?: number; readonly cycle?: boolean },
): LearningRateSchedule<M> {
  const steps = assertPositiveInt(options.decaySteps, 'polynomialDecay: decaySteps');
  const endLr = nonNegative(options.endLr ?? 0, 'polynomialDecay: endLr');
  const power = positive(options.power ?? 1, 'polynomialDecay: power');
  const cycle = options.cycle ?? false;
  return createSchedule<M>('polynomial-decay', options, (t, base) => polynomialDecayAt(t, base, steps, endLr, power, cycle));
}

/**
 * Cosine annealing from the base rate to `minLr` over `totalSteps`, then held (PyTorch `CosineAnnealingLR`, Keras
 * `CosineDecay` with `alpha = minLr / base`).
 *
 * @example
 * ```ts
 * trainer.use(warmup({ steps: 500 }, cosineDecay({ totalSteps: 10_000 })));
 * ```
 */
export function cosineDecay<M extends string = string>(options: ScheduleOptions & { readonly totalSteps: number; readonly minLr?: number }): LearningRateSchedule<M> {
  const total = assertPositiveInt(options.totalSteps, 'cosineDecay: totalSteps');
  const minLr = nonNegative(options.minLr ?? 0, 'cosineDecay: minLr');
  return createSchedule<M>('cosine-decay', options, (t, base) => cosineDecayAt(t, base, total, minLr));
}

/**
 * Cosine annealing with warm restarts, SGDR (PyTorch `CosineAnnealingWarmRestarts`: `t0` = `T_0`, `tMult` = `T_mult`,
 * `minLr` = `eta_min`). `restartDecay` (Keras `m_mul`) scales each new period's peak; default 1 as PyTorch.
 *
 * @example
 * ```ts
 * trainer.use(cosineRestarts({ t0: 10, tMult: 2, minLr: 1e-5, interval: 'epoch' }));
 * ```
 */
export function cosineRestarts<M extends string = string>(
  options: ScheduleOptions & { readonly t0: number; readonly tMult?: number; readonly minLr?: number; readonly restartDecay?: number },
): LearningRateSchedule<M> {
  const t0 = assertPositiveInt(options.t0, 'cosineRestarts: t0');
  const tMult = assertPositiveInt(options.tMult ?? 1, 'cosineRestarts: tMult');
  const minLr = nonNegative(options.minLr ?? 0, 'cosineRestarts: minLr');
  const restartDecay = positive(options.restartDecay ?? 1, 'cosineRestarts: restartDecay');
  return createSchedule<M>('cosine-restarts', options, (t, base) => cosineRestartsAt(t, base, t0, tMult, minLr, restartDecay));
}

/** Options of {@link warmup}. */
export interface WarmupOptions {
  /** Length of the warm-up in optimizer steps (or epochs with `interval: 'epoch'`, as a modifier). */
  readonly steps: number;
  /** The factor at `t = 0` (default 0); it grows linearly to 1 at `t = steps`. */
  readonly startFactor?: number;
  readonly name?: string;
  /** As a modifier: count optimizer steps (default) or epochs. A composed warm-up counts in its schedule's units. */
  readonly interval?: ScheduleInterval;
}

/**
 * A warm-up as core's `LearningRateModifier` (stage `'warmup'`): it multiplies whatever base schedule the trainer has by
 * `startFactor + (1 − startFactor)·t/steps` for `t < steps`, then by 1. Callable as a pure function of `t` giving that
 * factor.
 */
export interface LearningRateWarmup<M extends string = string> extends Plugin<M> {
  (t: number): number;
  readonly name: string;
  readonly steps: number;
  readonly interval: ScheduleInterval;
}

/**
 * Linear warm-up. Two forms:
 *
 * - `warmup(options, schedule)` — a composed base schedule: the rate climbs from `startFactor · schedule(0)` (default 0)
 *   to `schedule(0)` over the first `steps` units, then `schedule` itself runs, started after the warm-up (as Keras
 *   `CosineDecay(warmup_steps)`).
 * - `warmup(options)` — a modifier (PyTorch `LinearLR` chained with another scheduler): it scales the first `steps` steps
 *   of any base schedule, which runs from step 0 (`cosineDecay`, `stepDecay`, a replica-scaled rate…).
 *
 * Both shape the warm-up: core refuses either beside another warm-up (one-cycle's own ramp, a replica warm-up), naming both.
 *
 * @example
 * ```ts
 * trainer.use(warmup({ steps: 500 }, cosineDecay({ totalSteps: 9_500, initialLr: 3e-4 })));
 * // or: a warm-up on top of any base schedule
 * trainer.use(cosineDecay({ totalSteps: 10_000 })).use(warmup({ steps: 500 }));
 * ```
 */
export function warmup<M extends string = string>(options: WarmupOptions, schedule: LearningRateSchedule<M>): LearningRateSchedule<M>;
export function warmup<M extends string = string>(options: WarmupOptions): LearningRateWarmup<M>;
export function warmup<M extends string = string>(options: WarmupOptions, schedule?: LearningRateSchedule<M>): LearningRateSchedule<M> | LearningRateWarmup<M> {
  const steps = assertPositiveInt(options.steps, 'warmup: steps');
  const startFactor = assertFiniteNumber(options.startFactor ?? 0, 'warmup: startFactor', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  if (schedule === undefined) return warmupModifier<M>(options, steps, startFactor);
  if (typeof schedule !== 'function' || typeof schedule.formula !== 'function') throw inputError('warmup(options, schedule): schedule must be a learning-rate schedule such as cosineDecay({ totalSteps }).');
  const inner = schedule.formula;
  const scheduleOptions = {
    interval: schedule.interval,
    name: options.name ?? `warmup(${schedule.name})`,
    shapesWarmup: true,
    ...(schedule.initialLr === undefined ? {} : { initialLr: schedule.initialLr }),
  };
  return createSchedule<M>('warmup', scheduleOptions, (t, base) => (t < steps ? inner(0, base) * warmupFactorAt(t, steps, startFactor) : inner(t - steps, base)));
}

function warmupModifier<M extends string>(options: WarmupOptions, steps: number, startFactor: number): LearningRateWarmup<M> {
  const interval = options.interval ?? 'step';
  if (interval !== 'step' && interval !== 'epoch') throw inputError(`warmup: interval must be 'step' or 'epoch', got ${String(interval)}.`);
  const name = options.name ?? 'warmup';
  const factorAt = (t: number): number => {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw inputError(`${name}: the index must be a finite number ≥ 0, got ${String(t)}.`);
    return t < steps ? warmupFactorAt(t, steps, startFactor) : 1;
  };
  const modifier: LearningRateModifier = { name, stage: 'warmup', shapesWarmup: true, factor: (p) => factorAt(interval === 'step' ? p.step : p.epoch) };
  const plugin: Omit<LearningRateWarmup<M>, 'name'> = { steps, interval, register: (r) => provide(r, LearningRateModifier, modifier) };
  Object.defineProperty(factorAt, 'name', { value: name });
  return Object.assign(factorAt, plugin) as unknown as LearningRateWarmup<M>;
}

/** Options of {@link oneCycle}: PyTorch `OneCycleLR` in camelCase, same defaults. */
export interface OneCycleOptions extends Omit<ScheduleOptions, 'initialLr'> {
  readonly maxLr: number;
  readonly totalSteps: number;
  readonly pctStart?: number;
  readonly annealStrategy?: AnnealStrategy;
  readonly divFactor?: number;
  readonly finalDivFactor?: number;
  readonly threePhase?: boolean;
}

/**
 * The one-cycle policy (PyTorch `OneCycleLR`, per step by default): warm up from `maxLr / divFactor` to `maxLr` over
 * `pctStart` of the run, then anneal to `maxLr / divFactor / finalDivFactor`. Momentum is not cycled.
 *
 * @example
 * ```ts
 * trainer.use(oneCycle({ maxLr: 0.1, totalSteps: epochs * batchesPerEpoch }));
 * ```
 */
export function oneCycle<M extends string = string>(options: OneCycleOptions): LearningRateSchedule<M> {
  const settings = {
    maxLr: positive(options.maxLr, 'oneCycle: maxLr'),
    totalSteps: assertPositiveInt(options.totalSteps, 'oneCycle: totalSteps'),
    pctStart: assertFiniteNumber(options.pctStart ?? 0.3, 'oneCycle: pctStart', (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    annealStrategy: options.annealStrategy ?? 'cos',
    divFactor: positive(options.divFactor ?? 25, 'oneCycle: divFactor'),
    finalDivFactor: positive(options.finalDivFactor ?? 1e4, 'oneCycle: finalDivFactor'),
    threePhase: options.threePhase ?? false,
  } as const;
  if (settings.annealStrategy !== 'cos' && settings.annealStrategy !== 'linear') throw inputError(`oneCycle: annealStrategy must be 'cos' or 'linear', got ${String(settings.annealStrategy)}.`);
  // One-cycle ramps up itself: a warm-up modifier beside it would ramp twice, so core refuses the pair.
  return createSchedule<M>('one-cycle', { ...options, initialLr: settings.maxLr / settings.divFactor, shapesWarmup: true }, (t) => oneCycleAt(t, settings));
}
