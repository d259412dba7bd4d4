/**
 * Learning-rate formulas as pure functions of the step or epoch index `t` (0-based) and the base rate. Each follows the
 * PyTorch scheduler (closed form) or Keras schedule named in its comment; golden values in `formulas.test.ts`.
 */

/** PyTorch `StepLR`: `base · γ^⌊t / stepSize⌋`. */
export function stepDecayAt(t: number, base: number, stepSize: number, gamma: number): number {
  return base * gamma ** Math.floor(t / stepSize);
}

/** PyTorch `MultiStepLR`: `base · γ^(milestones ≤ t)`. */
export function multiStepDecayAt(t: number, base: number, milestones: readonly number[], gamma: number): number {
  let passed = 0;
  for (const m of milestones) if (m <= t) passed++;
  return base * gamma ** passed;
}

/** Keras `ExponentialDecay`: `base · rate^(t / decaySteps)` (floored with `staircase`); PyTorch `ExponentialLR` is `decaySteps = 1`. */
export function exponentialDecayAt(t: number, base: number, decayRate: number, decaySteps: number, staircase: boolean): number {
  const p = t / decaySteps;
  return base * decayRate ** (staircase ? Math.floor(p) : p);
}

/**
 * Keras `PolynomialDecay`: `(base − end) · (1 − t/T)^power + end`, with `t` capped at `T`, or with `cycle` `T` grown to
 * the next multiple of itself. PyTorch `PolynomialLR` is `end = 0`.
 */
export function polynomialDecayAt(t: number, base: number, decaySteps: number, endLr: number, power: number, cycle: boolean): number {
  let steps = decaySteps;
  let s = t;
  if (cycle) steps = decaySteps * Math.max(1, Math.ceil(t / decaySteps));
  else s = Math.min(t, decaySteps);
  return (base - endLr) * (1 - s / steps) ** power + endLr;
}

/** PyTorch `CosineAnnealingLR` (closed form) = Keras `CosineDecay` with `alpha = minLr / base`; held at `minLr` after `T`. */
export function cosineDecayAt(t: number, base: number, totalSteps: number, minLr: number): number {
  const s = Math.min(t, totalSteps);
  return minLr + ((base - minLr) * (1 + Math.cos((Math.PI * s) / totalSteps))) / 2;
}

/**
 * PyTorch `CosineAnnealingWarmRestarts` (SGDR): periods `T_0, T_0·T_mult, …`; within a period `T_i` at position
 * `T_cur`, `η_min + (base − η_min)(1 + cos(π T_cur / T_i))/2`. `restartDecay` (Keras `CosineDecayRestarts` `m_mul`)
 * scales the peak of each new period; 1 matches PyTorch.
 */
export function cosineRestartsAt(t: number, base: number, t0: number, tMult: number, minLr: number, restartDecay: number): number {
  let period = t0;
  let start = 0;
  let cycle = 0;
  // Integer periods: walk them rather than take logarithms, which round badly exactly at a restart.
  while (t >= start + period) {
    start += period;
    period *= tMult;
    cycle++;
  }
  const peak = base * restartDecay ** cycle;
  return minLr + ((peak - minLr) * (1 + Math.cos((Math.PI * (t - start)) / period))) / 2;
}

/** Annealing strategy of one-cycle phases. */
export type AnnealStrategy = 'cos' | 'linear';

/** Settings of {@link oneCycleAt}, named as PyTorch `OneCycleLR` in camelCase. */
export interface OneCycleSettings {
  readonly maxLr: number;
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly annealStrategy: AnnealStrategy;
  readonly divFactor: number;
  readonly finalDivFactor: number;
  readonly threePhase: boolean;
}

const anneal = (strategy: AnnealStrategy, start: number, end: number, pct: number): number =>
  strategy === 'cos' ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1) : (end - start) * pct + start;

/**
 * PyTorch `OneCycleLR.get_lr`: phases end at step `pct·T − 1` (warm-up to `maxLr`), then `T − 1` (anneal to
 * `maxLr / divFactor / finalDivFactor`); `threePhase` anneals back to the initial rate at `2·pct·T − 2` first.
 * Steps past `totalSteps − 1` hold the final rate (PyTorch raises).
 */
export function oneCycleAt(t: number, s: OneCycleSettings): number {
  const initial = s.maxLr / s.divFactor;
  const min = initial / s.finalDivFactor;
  const T = s.totalSteps;
  const phases = s.threePhase
    ? [
        { end: s.pctStart * T - 1, from: initial, to: s.maxLr },
        { end: 2 * s.pctStart * T - 2, from: s.maxLr, to: initial },
        { end: T - 1, from: initial, to: min },
      ]
    : [
        { end: s.pctStart * T - 1, from: initial, to: s.maxLr },
        { end: T - 1, from: s.maxLr, to: min },
      ];
  const step = Math.min(t, T - 1);
  let start = 0;
  for (let i = 0; i < phases.length; i++) {
    const phase = phases[i]!;
    if (step <= phase.end || i === phases.length - 1) {
      const pct = (step - start) / (phase.end - start);
      return anneal(s.annealStrategy, phase.from, phase.to, pct);
    }
    start = phase.end;
  }
  /* c8 ignore next */
  return min;
}

/** Linear warm-up factor at `t < steps`: from `startFactor` to 1 (reached at `t = steps`). */
export function warmupFactorAt(t: number, steps: number, startFactor: number): number {
  return startFactor + ((1 - startFactor) * t) / steps;
}
