import { FitstreamInputError } from '@fitstream/core';
import type { Label } from '../util/labels.js';

/**
 * imbalanced-learn's `sampling_strategy`: `'auto'` (= `'not majority'` for over-sampling, `'not minority'` for
 * under-sampling), `'minority'` (over only), `'majority'` (under only), `'not minority'`, `'not majority'`, `'all'`;
 * a float α in (0, 1] for binary targets (over: minority → `int(α·N_majority)`; under: majority → `int(N_minority/α)`);
 * or per-class target counts `{ [class]: count }` (a `Map` or a plain object).
 */
export type SamplingStrategy =
  | 'auto'
  | 'minority'
  | 'majority'
  | 'not minority'
  | 'not majority'
  | 'all'
  | number
  | ReadonlyMap<Label, number>
  | Readonly<Record<string, number>>;

/** Whether a strategy is resolved for over- or under-sampling. */
export type SamplingKind = 'over' | 'under';

/**
 * Per-class targets: for over-sampling, how many samples to **add** to each targeted class; for under-sampling, how
 * many to **keep** (imbalanced-learn's `sampling_strategy_`). Untargeted classes are absent (kept as they are).
 * `classes` and `counts` are in sorted class order; ties for majority/minority go to the first class in that order.
 */
export function resolveSamplingStrategy(
  classes: readonly Label[],
  counts: readonly number[],
  strategy: SamplingStrategy,
  kind: SamplingKind,
  argument = 'options.samplingStrategy',
): Map<number, number> {
  const k = classes.length;
  if (k === 0) throw new FitstreamInputError(argument, 'the data has no samples to resample; pass non-empty labels.');
  const max = Math.max(...counts);
  const min = Math.min(...counts);
  const majority = counts.indexOf(max);
  const minority = counts.indexOf(min);
  const all = counts.map((_, c) => c);
  const over = (keep: (c: number) => boolean) => new Map(all.filter(keep).map((c) => [c, max - counts[c]!]));
  const under = (keep: (c: number) => boolean) => new Map(all.filter(keep).map((c) => [c, min]));
  const pick = (keep: (c: number) => boolean) => (kind === 'over' ? over(keep) : under(keep));
  if (typeof strategy === 'string') {
    switch (strategy) {
      case 'auto':
        return kind === 'over' ? over((c) => c !== majority) : under((c) => c !== minority);
      case 'minority':
        if (kind === 'under') throw new FitstreamInputError(argument, "'minority' cannot be used with an under-sampler (it would leave the minority class alone); use 'majority' or 'not minority'.");
        return over((c) => c === minority);
      case 'majority':
        if (kind === 'over') throw new FitstreamInputError(argument, "'majority' cannot be used with an over-sampler (the majority class needs no new samples); use 'minority' or 'not majority'.");
        return under((c) => c === majority);
      case 'not minority':
        return pick((c) => c !== minority);
      case 'not majority':
        return pick((c) => c !== majority);
      case 'all':
        return pick(() => true);
      default:
        throw new FitstreamInputError(argument, `unknown strategy ${JSON.stringify(strategy)}; use 'auto', 'minority', 'majority', 'not minority', 'not majority', 'all', a float or per-class counts.`);
    }
  }
  if (typeof strategy === 'number') {
    if (!(strategy > 0 && strategy <= 1)) throw new FitstreamInputError(argument, `a float strategy must be in (0, 1], got ${strategy}.`);
    if (k !== 2) throw new FitstreamInputError(argument, `a float strategy works only for binary targets, but there are ${k} classes; pass per-class counts instead, e.g. { 0: 100, 1: 100, 2: 100 }.`);
    if (kind === 'over') {
      const out = new Map(all.filter((c) => c !== majority).map((c) => [c, Math.trunc(max * strategy - counts[c]!)]));
      if ([...out.values()].some((v) => v < 0)) {
        throw new FitstreamInputError(argument, `${strategy} would need to remove samples from the minority class while over-sampling (${max}·${strategy} < ${min}); raise the ratio.`);
      }
      return out;
    }
    const out = new Map(all.filter((c) => c !== minority).map((c) => [c, Math.trunc(min / strategy)]));
    if ([...out].some(([c, v]) => v > counts[c]!)) {
      throw new FitstreamInputError(argument, `${strategy} would need new samples in the majority class while under-sampling (${min}/${strategy} > ${max}); raise the ratio.`);
    }
    return out;
  }
  if (strategy == null || typeof strategy !== 'object') {
    throw new FitstreamInputError(argument, `must be a string, a float or per-class counts, got ${String(strategy)}.`);
  }
  const entries: [string | number, number][] = strategy instanceof Map ? [...(strategy as ReadonlyMap<Label, number>)] : Object.entries(strategy);
  const index = new Map<string, number>(classes.map((c, i) => [String(c), i]));
  const out = new Map<number, number>();
  for (const [cls, target] of entries) {
    const c = index.get(String(cls));
    if (c === undefined) throw new FitstreamInputError(`${argument}[${JSON.stringify(cls)}]`, `class ${JSON.stringify(cls)} is not present in the labels (classes: ${classes.map((x) => JSON.stringify(x)).join(', ')}); remove it.`);
    if (!Number.isInteger(target) || target < 0) throw new FitstreamInputError(`${argument}[${JSON.stringify(cls)}]`, `the number of samples in a class must be an integer ≥ 0, got ${target}.`);
    const have = counts[c]!;
    if (kind === 'over') {
      if (target < have) throw new FitstreamInputError(`${argument}[${JSON.stringify(cls)}]`, `asks for ${target} samples but the class has ${have}; an over-sampler can only add samples (ask for ≥ ${have}).`);
      out.set(c, target - have);
    } else {
      if (target > have) throw new FitstreamInputError(`${argument}[${JSON.stringify(cls)}]`, `asks for ${target} samples but the class has ${have}; an under-sampler can only remove samples (ask for ≤ ${have}).`);
      out.set(c, target);
    }
  }
  return out;
}

/** Class counts after resampling with `strategy`: a preview of what one epoch will hold. */
export function samplingTargets(classes: readonly Label[], counts: readonly number[], strategy: SamplingStrategy, kind: SamplingKind): number[] {
  const resolved = resolveSamplingStrategy(classes, counts, strategy, kind);
  return counts.map((c, k) => (resolved.has(k) ? (kind === 'over' ? c + resolved.get(k)! : resolved.get(k)!) : c));
}
