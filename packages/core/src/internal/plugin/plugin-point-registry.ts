import type { DependencyContainer } from 'tsyringe';
import { resolveAll, type Token } from '../di/token.js';
import { LearningRateBase, LearningRateModifier } from '../learning-rate/learning-rate-points.js';
import { assertNoConflicts, type OwnedClaim } from './conflicts.js';
import type { Claim } from './plugin.js';
import {
  BatchTransform,
  EpochMetricsReducer,
  GradientTransform,
  IndexSampler,
  LearningRateMultiplier,
  LossTransform,
  ResumeSource,
  StateProvider,
  WeightConstraint,
  WeightView,
} from './plugin-points.js';

/**
 * How many registrations a plugin point takes: `one` (at most one; a second is a conflict naming both), `many` (all,
 * in registration order, order does not matter), `ordered` (all, applied in order: registration order, or the stage
 * order the point declares).
 */
export type Cardinality = 'one' | 'many' | 'ordered';

interface PointRule<T, C extends Cardinality = Cardinality> {
  readonly token: Token<T>;
  readonly cardinality: C;
  /** The resource a registration claims, named in conflict errors. */
  readonly resource: string;
  /** Further claims a registration makes (a gradient reducer, a warm-up shaper). */
  readonly claims?: (registration: T) => readonly Claim[];
}

const rule = <T, C extends Cardinality>(r: PointRule<T, C>): PointRule<T, C> => r;
/** A schedule or modifier that ramps the rate up at the start claims the warm-up: two such are a conflict. */
const warmUpClaim = (r: { readonly shapesWarmup?: boolean }): readonly Claim[] => (r.shapesWarmup ? [{ resource: 'learning-rate warm-up', exclusive: true }] : []);
const named = (r: unknown): string => (r as { name?: string; key?: string }).name ?? (r as { key: string }).key;

// One rule per plugin point: a table, its entries alike by design.
/**
 * Every plugin point of core, with its cardinality and conflicts: the one place where "at most one X per trainer" is
 * declared. The trainer resolves and checks them all at fit start ({@link resolvePluginPoints}).
 */
export const PLUGIN_POINTS = {
  batchTransforms: rule({ token: BatchTransform, cardinality: 'ordered', resource: 'batch transform' }),
  lossTransforms: rule({ token: LossTransform, cardinality: 'ordered', resource: 'loss transform' }),
  gradientTransforms: rule({
    token: GradientTransform,
    cardinality: 'ordered',
    resource: 'gradient transform',
    claims: (t) => (t.stage === 'reduce' ? [{ resource: 'cross-replica gradient reduction', exclusive: true }] : []),
  }),
  weightConstraints: rule({ token: WeightConstraint, cardinality: 'ordered', resource: 'weight constraint' }),
  learningRateMultipliers: rule({ token: LearningRateMultiplier, cardinality: 'many', resource: 'learning-rate multiplier' }),
  // One base schedule per optimizer: an untargeted one schedules every optimizer, a targeted one (`optimizer: name`)
  // only its own — where both apply, the targeted one wins.
  learningRateBase: rule({
    token: LearningRateBase,
    cardinality: 'many',
    resource: 'learning-rate base schedule',
    claims: (b) => [{ resource: b.optimizer === undefined ? 'learning-rate base schedule' : `learning-rate base schedule of optimizer "${b.optimizer}"`, exclusive: true }, ...warmUpClaim(b)],
  }),
  learningRateModifiers: rule({ token: LearningRateModifier, cardinality: 'ordered', resource: 'learning-rate modifier', claims: warmUpClaim }),
  stateProviders: rule({ token: StateProvider, cardinality: 'many', resource: 'state provider' }),
  indexSampler: rule({ token: IndexSampler, cardinality: 'one', resource: 'index-sampler', claims: (s) => [{ resource: 'batch-order', value: s.order }] }),
  resumeSource: rule({ token: ResumeSource, cardinality: 'one', resource: 'resume-source' }),
  weightView: rule({ token: WeightView, cardinality: 'one', resource: 'weight-view' }),
  epochMetricsReducer: rule({ token: EpochMetricsReducer, cardinality: 'one', resource: 'epoch-metrics-reducer' }),
} as const;

type Registration<R> = R extends PointRule<infer T, Cardinality> ? T : never;

/** The registrations of every plugin point: arrays for `many`/`ordered`, a value or `undefined` for `one`. */
export type ResolvedPluginPoints = {
  readonly [K in keyof typeof PLUGIN_POINTS]: (typeof PLUGIN_POINTS)[K]['cardinality'] extends 'one'
    ? Registration<(typeof PLUGIN_POINTS)[K]> | undefined
    : readonly Registration<(typeof PLUGIN_POINTS)[K]>[];
};

/**
 * Resolves every plugin point and checks every conflict in one place: plugins' own claims (`Plugin.claims`), then the
 * points' cardinalities and declared claims, then the fit's (`fitClaims`: the trainer's own shuffling). A conflict
 * throws a `PluginConflictError` naming both plugins.
 */
export function resolvePluginPoints(container: DependencyContainer, pluginClaims: readonly OwnedClaim[] = [], fitClaims: readonly OwnedClaim[] = []): ResolvedPluginPoints {
  const all: OwnedClaim[] = [...pluginClaims];
  const resolved: Record<string, unknown> = {};
  for (const [key, point] of Object.entries(PLUGIN_POINTS) as [string, PointRule<unknown>][]) {
    const registrations = resolveAll(container, point.token);
    for (const r of registrations) {
      if (point.cardinality === 'one') all.push({ resource: point.resource, exclusive: true, owner: named(r) });
      for (const claim of point.claims?.(r) ?? []) all.push({ ...claim, owner: named(r) });
    }
    resolved[key] = point.cardinality === 'one' ? registrations[0] : registrations;
  }
  assertNoConflicts([...all, ...fitClaims]);
  assertUniqueKeys(resolved.stateProviders as readonly StateProvider[]);
  return resolved as ResolvedPluginPoints;
}

function assertUniqueKeys(providers: readonly StateProvider[]): void {
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.key)) throw new Error(`Two state providers use the key "${p.key}"; keys must be unique (use the plugin name).`);
    seen.add(p.key);
  }
}

/** The claims plugins declared on themselves (`Plugin.claims`), with their owner. */
export function pluginClaims(plugins: readonly { readonly name: string; readonly claims?: readonly Claim[] }[]): OwnedClaim[] {
  return plugins.flatMap((p) => (p.claims ?? []).map((c) => ({ ...c, owner: p.name })));
}
