// The search space of a sweep: one parameter per dotted config key, each a distribution over the unit interval's
// image (log-uniform, uniform, integers, a list of choices) that every sampler draws from the same way: a sampler
// gives a point of [0, 1)^d, `fromUnit` maps each coordinate to a value, and `gridValues` lists a parameter's grid.

/** A value a sweep sets at a config key. */
export type ParamValue = number | string | boolean | null;

/** One searched config key and its distribution. */
export type Param =
  | { readonly key: string; readonly kind: 'log'; readonly low: number; readonly high: number; readonly grid: number }
  | { readonly key: string; readonly kind: 'uniform'; readonly low: number; readonly high: number; readonly grid: number }
  | { readonly key: string; readonly kind: 'int'; readonly low: number; readonly high: number; readonly log: boolean; readonly grid: number | undefined }
  | { readonly key: string; readonly kind: 'choice'; readonly values: readonly ParamValue[] };

/** Points of a float parameter's grid when the sweep file gives no `grid` (both ends and the middle). */
export const DEFAULT_GRID = 3;

/** An int range of at most this many values is searched whole by the grid sampler when it has no `grid`. */
export const WHOLE_INT_GRID = 10;

const KINDS = ['log', 'uniform', 'int', 'choice'] as const;

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** `[low, high]` of a numeric parameter, or a problem naming `at` and the fix. */
function bounds(raw: unknown, at: string, kind: 'log' | 'uniform' | 'int'): [number, number] | string {
  const example = kind === 'log' ? '[0.0001, 0.1]' : kind === 'int' ? '[8, 64]' : '[0, 0.5]';
  if (!Array.isArray(raw) || raw.length !== 2 || !raw.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return `${at}: must be two finite numbers [low, high], e.g. ${example}; got ${show(raw)}.`;
  }
  const [low, high] = raw as [number, number];
  if (kind === 'int' && !(Number.isInteger(low) && Number.isInteger(high))) return `${at}: the bounds of an int range must be whole numbers, e.g. ${example}; got ${show(raw)}.`;
  if (kind === 'int' ? low > high : low >= high) return `${at}: low must be ${kind === 'int' ? '≤' : '<'} high, got [${low}, ${high}]. Write [${Math.min(low, high)}, ${Math.max(low, high)}].`;
  if (kind === 'log' && low <= 0) return `${at}: a log range needs low > 0 (a log scale has no 0 or negative values), got ${low}. Use e.g. [1e-5, ${high}], or uniform: [${low}, ${high}].`;
  return [low, high];
}

function gridCount(raw: unknown, at: string): number | undefined | string {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 2) return `${at}: the number of grid points must be a whole number ≥ 2, got ${show(raw)}.`;
  return raw;
}

/**
 * Reads a sweep file's `space` (config key → distribution) into parameters, collecting every problem (each naming its
 * key and the fix) instead of stopping at the first.
 *
 * @example
 * ```ts
 * const { params, problems } = parseSpace({ lr: { log: [1e-4, 1e-1] }, batchSize: { choice: [16, 32, 64] } });
 * // params[0]: { key: 'lr', kind: 'log', low: 0.0001, high: 0.1, grid: 3 }; problems: []
 * ```
 */
export function parseSpace(raw: unknown): { params: Param[]; problems: string[] } {
  const params: Param[] = [];
  const problems: string[] = [];
  if (!isPlain(raw) || Object.keys(raw).length === 0) {
    problems.push('space: must name at least one config key to search, e.g. space: { lr: { log: [0.0001, 0.1] }, batchSize: { choice: [16, 32] } }.');
    return { params, problems };
  }
  for (const [key, spec] of Object.entries(raw)) {
    const at = `space.${key}`;
    if (!/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(key)) {
      problems.push(`${at}: a key must be a dotted config key such as lr or model.hiddenUnits.`);
      continue;
    }
    if (!isPlain(spec)) {
      problems.push(`${at}: must be one of { log: [low, high] }, { uniform: [low, high] }, { int: [low, high] }, { choice: [a, b, …] }; got ${show(spec)}.`);
      continue;
    }
    const kinds = KINDS.filter((k) => k in spec);
    // `log: true` beside `int` makes the int range log-scaled; it is not a kind of its own there.
    const kind = kinds.length === 2 && kinds.includes('int') && typeof spec['log'] === 'boolean' ? 'int' : kinds.length === 1 ? kinds[0]! : undefined;
    if (kind === undefined) {
      problems.push(
        kinds.length === 0
          ? `${at}: says no distribution. Use one of log, uniform, int, choice, e.g. ${key}: { log: [0.0001, 0.1] }.`
          : `${at}: give one distribution, not ${kinds.join(' and ')}.`,
      );
      continue;
    }
    const allowed = kind === 'choice' ? ['choice'] : kind === 'int' ? ['int', 'log', 'grid'] : [kind, 'grid'];
    const unknown = Object.keys(spec).filter((k) => !allowed.includes(k));
    if (unknown.length > 0) {
      problems.push(`${at}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}. Allowed keys for ${kind}: ${allowed.join(', ')}.`);
      continue;
    }
    if (kind === 'choice') {
      const values = spec['choice'];
      if (!Array.isArray(values) || values.length === 0) {
        problems.push(`${at}.choice: must be a non-empty list of values, e.g. [16, 32, 64]; got ${show(values)}.`);
      } else if (!values.every((v) => v === null || ['number', 'string', 'boolean'].includes(typeof v))) {
        problems.push(`${at}.choice: every choice must be a number, string, boolean or null; got ${show(values)}.`);
      } else if (new Set(values.map((v) => show(v))).size !== values.length) {
        problems.push(`${at}.choice: lists a value twice (${show(values)}); list each choice once.`);
      } else {
        params.push({ key, kind, values: values as ParamValue[] });
      }
      continue;
    }
    const range = bounds(spec[kind], `${at}.${kind}`, kind);
    const grid = gridCount(spec['grid'], `${at}.grid`);
    if (typeof range === 'string') problems.push(range);
    if (typeof grid === 'string') problems.push(grid);
    if (typeof range === 'string' || typeof grid === 'string') continue;
    const [low, high] = range;
    if (kind === 'int') {
      if (spec['log'] === true && low < 1) {
        problems.push(`${at}.int: a log-scaled int range needs low ≥ 1, got ${low}.`);
        continue;
      }
      params.push({ key, kind, low, high, log: spec['log'] === true, grid });
    } else {
      params.push({ key, kind, low, high, grid: grid ?? DEFAULT_GRID });
    }
  }
  return { params, problems };
}

/** Whether a parameter is drawn on a log axis (a log range, a log-scaled int range). */
export const isLogScale = (p: Param): boolean => p.kind === 'log' || (p.kind === 'int' && p.log);

/**
 * The value of `param` at `u` ∈ [0, 1): log ranges uniform in log space, int ranges in equal bins over [low − ½, high +
 * ½] (log-scaled ones in log space, as Optuna's `suggest_int(log=True)`), choices in equal bins.
 *
 * @example
 * ```ts
 * fromUnit({ key: 'lr', kind: 'log', low: 1e-4, high: 1e-2, grid: 3 }, 0.5); // 0.001
 * ```
 */
export function fromUnit(param: Param, u: number): ParamValue {
  const t = Math.min(Math.max(u, 0), 1);
  switch (param.kind) {
    case 'log':
      return clampTo(Math.exp(Math.log(param.low) + t * (Math.log(param.high) - Math.log(param.low))), param.low, param.high);
    case 'uniform':
      return clampTo(param.low + t * (param.high - param.low), param.low, param.high);
    case 'int': {
      const [a, b] = [param.low - 0.5, param.high + 0.5];
      const x = param.log ? Math.exp(Math.log(a) + t * (Math.log(b) - Math.log(a))) : a + t * (b - a);
      return clampTo(Math.round(x), param.low, param.high);
    }
    case 'choice':
      return param.values[Math.min(param.values.length - 1, Math.floor(t * param.values.length))]!;
  }
}

const clampTo = (v: number, low: number, high: number): number => Math.min(Math.max(v, low), high);

/** Rounds away float noise (`0.30000000000000004` → `0.3`) so grid values read as written. */
const tidy = (v: number): number => Number(v.toPrecision(12));

/**
 * The values the grid sampler tries for `param`: `grid` points from low to high inclusive (geometric for log ranges),
 * every integer of a small int range, every choice.
 *
 * @example
 * ```ts
 * gridValues({ key: 'lr', kind: 'log', low: 1e-3, high: 1e-1, grid: 3 }); // [0.001, 0.01, 0.1]
 * ```
 */
export function gridValues(param: Param): ParamValue[] {
  if (param.kind === 'choice') return [...param.values];
  const count = param.kind === 'int' && param.grid === undefined ? (param.high - param.low + 1 <= WHOLE_INT_GRID ? param.high - param.low + 1 : DEFAULT_GRID) : param.grid!;
  if (param.kind === 'int' && param.grid === undefined && param.high - param.low + 1 <= WHOLE_INT_GRID) {
    return Array.from({ length: count }, (_, i) => param.low + i);
  }
  const log = isLogScale(param);
  const values = Array.from({ length: count }, (_, i) => {
    const t = count === 1 ? 0 : i / (count - 1);
    const v = log ? Math.exp(Math.log(param.low) + t * (Math.log(param.high) - Math.log(param.low))) : param.low + t * (param.high - param.low);
    return param.kind === 'int' ? Math.round(v) : tidy(v);
  });
  return [...new Set(values)];
}
