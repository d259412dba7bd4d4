// The sweep file (`fitstream sweep <sweep.yaml>`): what to search, how, and where the trials go. Validated with zod like
// a run's configuration (every problem reported, each naming its key and the fix; exit code 2), then planned: every
// trial's configuration is resolved and validated against the base recipe's schema before anything runs.
import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { z } from 'zod';
import { ConfigError, merge, readConfigFile, validate } from '../config/resolve.js';
import type { RunConfig } from '../config/schema.js';
import { isExperiment } from '../recipes/recipe.js';
import type { Resolved } from '../run/session.js';
import { bracketOfTrials, hyperbandBrackets, hyperbandTrials, type Bracket, type Direction, type HyperbandOptions, type MedianPrunerOptions } from './pruners.js';
import { SOBOL_MAX_POINTS, gridSize, samplePoints, type Point, type SamplerName } from './samplers.js';
import { parseSpace, type Param } from './space.js';

/** The pruner of a sweep, with its options. */
export type PrunerSpec = { readonly type: 'none' } | ({ readonly type: 'median' } & MedianPrunerOptions) | ({ readonly type: 'hyperband' } & HyperbandOptions);

/** A validated sweep file. */
export interface SweepSpec {
  /** The sweep file's path, as given. */
  readonly file: string;
  readonly name: string;
  /** A recipe name or a config file path (relative to the working directory), as `fitstream train` takes. */
  readonly base: string;
  /** Config keys (dotted) set in every trial. */
  readonly set: Readonly<Record<string, unknown>>;
  readonly params: readonly Param[];
  /** The `space` as written (kept in sweep.json to tell whether a resumed sweep is the same one). */
  readonly space: Readonly<Record<string, unknown>>;
  readonly sampler: SamplerName;
  readonly seed: number;
  /** As written; the plan derives the number of trials. */
  readonly trials: number | undefined;
  readonly objective: { readonly metric: string; readonly mode: 'min' | 'max' | 'auto' };
  readonly pruner: PrunerSpec;
  readonly parallel: number;
  readonly trialTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly out: string;
}

const scalarOrList = z.unknown();

const prunerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('median'),
    startupTrials: z.int().min(0).default(5),
    warmupEpochs: z.int().min(0).default(0),
    interval: z.int().min(1).default(1),
    minTrials: z.int().min(1).default(1),
  }),
  z.strictObject({ type: z.literal('hyperband'), minEpochs: z.int().min(1).default(1), maxEpochs: z.int().min(1).optional(), reductionFactor: z.int().min(2).default(3) }),
]);

const fileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[\w.-]+$/, 'letters, digits, ".", "_" and "-" only')
    .optional(),
  base: z.string().min(1),
  set: z.record(z.string(), scalarOrList).default({}),
  space: z.record(z.string(), z.unknown()),
  sampler: z.enum(['grid', 'random', 'sobol']).default('random'),
  seed: z.int().default(42),
  trials: z.int().min(1).optional(),
  objective: z.strictObject({ metric: z.string().min(1).default('val_loss'), mode: z.enum(['auto', 'min', 'max']).default('auto') }).default({ metric: 'val_loss', mode: 'auto' }),
  pruner: prunerSchema.default({ type: 'none' }),
  parallel: z.union([z.literal('auto'), z.int().min(1)]).default('auto'),
  trialTimeoutMs: z.int().min(1000).default(600_000),
  stopTimeoutMs: z.int().min(100).default(30_000),
  out: z.string().min(1).optional(),
});

type FileShape = z.infer<typeof fileSchema>;

/** Reads and validates a sweep file; every problem is reported in one {@link ConfigError} (exit code 2). */
export async function readSweepFile(path: string): Promise<SweepSpec> {
  if (!/\.(json|ya?ml)$/i.test(path)) throw new ConfigError(`the sweep file ${path} must be YAML or JSON (.yaml, .yml, .json).`);
  const raw = await readConfigFile(path);
  // `pruner: median` is short for `pruner: { type: median }` (its defaults).
  if (typeof raw['pruner'] === 'string') raw['pruner'] = { type: raw['pruner'] };
  const parsed: FileShape = validate(fileSchema, raw, `sweep file ${path}`);
  const { params, problems } = parseSpace(parsed.space);
  for (const key of Object.keys(parsed.space)) {
    if (Object.prototype.hasOwnProperty.call(parsed.set, key)) problems.push(`set.${key} and space.${key}: a key is either fixed (set) or searched (space); remove one.`);
  }
  if (parsed.pruner.type === 'hyperband') {
    for (const key of ['epochs', 'fastDevRun']) {
      if (key in parsed.space || key in parsed.set) problems.push(`${key in parsed.space ? 'space' : 'set'}.${key}: Hyperband gives each trial its epochs (pruner.maxEpochs); remove ${key} there.`);
    }
    const { minEpochs, maxEpochs } = parsed.pruner;
    if (maxEpochs !== undefined && maxEpochs < minEpochs) problems.push(`pruner.maxEpochs: must be ≥ pruner.minEpochs (${minEpochs}), got ${maxEpochs}.`);
  }
  if (parsed.trials === undefined && parsed.sampler !== 'grid' && parsed.pruner.type !== 'hyperband') {
    problems.push(`trials: missing; ${parsed.sampler} sampling needs a number of trials, e.g. trials: 20 (grid sampling tries every point; Hyperband defaults to one iteration).`);
  }
  if (parsed.sampler === 'sobol' && parsed.trials !== undefined && parsed.trials > SOBOL_MAX_POINTS) problems.push(`trials: Sobol sampling draws at most ${SOBOL_MAX_POINTS} points, got ${parsed.trials}.`);
  if (problems.length > 0) throw new ConfigError(`invalid sweep file (${path}):\n  ${problems.join('\n  ')}`);
  const name = parsed.name ?? basename(path, extname(path)).replace(/[^\w.-]/g, '-');
  const pruner: PrunerSpec =
    parsed.pruner.type === 'hyperband'
      ? { type: 'hyperband', minEpochs: parsed.pruner.minEpochs, maxEpochs: parsed.pruner.maxEpochs ?? Number.NaN, reductionFactor: parsed.pruner.reductionFactor }
      : parsed.pruner;
  return {
    file: path,
    name,
    base: parsed.base,
    set: parsed.set,
    params,
    space: parsed.space,
    sampler: parsed.sampler,
    seed: parsed.seed,
    trials: parsed.trials,
    objective: parsed.objective,
    pruner,
    parallel: parsed.parallel === 'auto' ? availableParallelism() : parsed.parallel,
    trialTimeoutMs: parsed.trialTimeoutMs,
    stopTimeoutMs: parsed.stopTimeoutMs,
    out: parsed.out ?? `runs/sweep-${name}`,
  };
}

/** One planned trial: its searched values and its whole resolved configuration. */
export interface PlannedTrial {
  readonly id: number;
  readonly params: Point;
  readonly config: RunConfig;
  /** Hyperband: the bracket instance the trial starts in. */
  readonly bracket?: number;
}

/** A sweep ready to run: the spec with its pruner's defaults filled from the base config, and every trial. */
export interface SweepPlan {
  readonly spec: SweepSpec & { readonly pruner: PrunerSpec };
  readonly recipe: string;
  readonly direction: Direction;
  readonly trials: readonly PlannedTrial[];
  /** Hyperband: the brackets (by instance: bracket instance k runs `brackets[k % brackets.length]`). */
  readonly brackets?: readonly Bracket[];
  /** Notes for the log (a grid smaller than `trials`). */
  readonly notes: readonly string[];
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{ 'a.b': 1, c: 2 }` → `{ a: { b: 1 }, c: 2 }` (own properties only: a key `__proto__` stays a plain, unknown key). */
export function nest(dotted: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(dotted)) {
    const path = key.split('.');
    let node = out;
    path.slice(0, -1).forEach((k) => {
      if (!isPlain(Object.prototype.hasOwnProperty.call(node, k) ? node[k] : undefined)) Object.defineProperty(node, k, { value: {}, enumerable: true, writable: true, configurable: true });
      node = node[k] as Record<string, unknown>;
    });
    const last = path[path.length - 1]!;
    const previous = Object.prototype.hasOwnProperty.call(node, last) ? node[last] : undefined;
    Object.defineProperty(node, last, { value: merge(previous, value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const BACKUP = { enabled: true, saveOnInterrupt: true };

/**
 * The base's callbacks with the backup forced on: a recipe's callbacks are an object of sections; a `fit` config's are
 * a list of `{ use, with }` entries (kept whole — a list given as an override replaces the base's), where the backup's
 * entry is added or its options completed.
 */
function forcedBackup(callbacks: unknown): unknown {
  if (!Array.isArray(callbacks)) return { backupAndRestore: BACKUP };
  const entries = callbacks as { use?: unknown; with?: Record<string, unknown> }[];
  const own = entries.find((e) => e?.use === 'backupAndRestore');
  return [...entries.filter((e) => e !== own), { use: 'backupAndRestore', with: { ...(own?.with ?? {}), ...BACKUP } }];
}

/**
 * Plans a sweep: resolves the base configuration (a single-model recipe), checks the objective's metric, draws every
 * trial's point and resolves its configuration (the base, then `set`, then the point; backups forced on, since pruning
 * and Hyperband stop trials with SIGINT and continue them from their checkpoint). A point the recipe refuses is a
 * {@link ConfigError} naming the key.
 */
export async function planSweep(spec: SweepSpec): Promise<SweepPlan> {
  const { resolveConfig } = await import('../run/session.js');
  const where = `sweep file ${spec.file}`;
  const resolveTrial = async (overrides: Record<string, unknown>, what: string): Promise<Resolved> => {
    try {
      return (await resolveConfig(spec.base, overrides)) as Resolved;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new ConfigError(`${where}: ${what} is not a valid configuration of base ${spec.base}:\n  ${error.message.replace(/\n/g, '\n  ')}`);
    }
  };

  // The base alone first: an unknown recipe or an unreadable config file is the base's problem, not a trial's.
  const alone = await resolveConfig(spec.base, {}).catch((error: unknown) => {
    throw error instanceof ConfigError ? new ConfigError(`${where}: base: ${error.message}`) : error;
  });
  if (isExperiment(alone.recipe)) {
    throw new ConfigError(`${where}: base: the ${alone.recipe.name} recipe is an experiment (${alone.recipe.summary}); sweeps apply to single-model recipes (iris, housing, mnist) and their config files.`);
  }
  const forced = { callbacks: forcedBackup((alone.config as { callbacks?: unknown }).callbacks), out: spec.out };
  const fixed = merge(nest(spec.set), forced) as Record<string, unknown>;
  const base = await resolveTrial(fixed, 'set');
  const recipe = base.recipe;
  const names = ['loss', ...recipe.metrics];
  const allowed = [...names, ...names.map((n) => `val_${n}`)];
  if (!allowed.includes(spec.objective.metric)) {
    throw new ConfigError(`invalid sweep file (${spec.file}):\n  objective.metric: "${spec.objective.metric}" is not logged by ${recipe.name}. Allowed values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}.`);
  }
  const { resolveMode } = await import('@fitstream/callbacks');
  const direction = resolveMode(spec.objective.metric, spec.objective.mode);

  let pruner = spec.pruner;
  let brackets: Bracket[] | undefined;
  const notes: string[] = [];
  if (pruner.type === 'hyperband') {
    const maxEpochs = Number.isNaN(pruner.maxEpochs) ? base.config.epochs : pruner.maxEpochs;
    if (maxEpochs < pruner.minEpochs) throw new ConfigError(`invalid sweep file (${spec.file}):\n  pruner.minEpochs: must be ≤ maxEpochs (${maxEpochs}, the base config's epochs), got ${pruner.minEpochs}.`);
    pruner = { ...pruner, maxEpochs };
    brackets = hyperbandBrackets(pruner);
  }
  let count: number;
  if (spec.sampler === 'grid') {
    const size = gridSize(spec.params);
    count = Math.min(spec.trials ?? size, size);
    if (spec.trials !== undefined && spec.trials > size) notes.push(`the grid has ${size} points: running ${size} trials, not ${spec.trials}`);
  } else {
    count = spec.trials ?? hyperbandTrials(brackets ?? []);
  }
  const points = samplePoints(spec.params, spec.sampler, spec.seed, count);
  const bracketOf = brackets ? bracketOfTrials(brackets, points.length) : undefined;
  const trials: PlannedTrial[] = [];
  for (const [id, point] of points.entries()) {
    const overrides = merge(merge(fixed, nest(point)), pruner.type === 'hyperband' ? { epochs: pruner.maxEpochs } : {}) as Record<string, unknown>;
    const shown = Object.entries(point)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ');
    const { config } = await resolveTrial(overrides, `trial ${id} (${shown})`);
    trials.push({ id, params: point, config, ...(bracketOf ? { bracket: bracketOf[id]! } : {}) });
  }
  return { spec: { ...spec, pruner }, recipe: recipe.name, direction, trials, ...(brackets ? { brackets } : {}), notes };
}
