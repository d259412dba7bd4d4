import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { didYouMean } from '@fitstream/util';

/** A configuration problem the user can fix: reported on stderr with exit code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a `train` argument names a config file rather than a recipe. */
export function isConfigPath(arg: string): boolean {
  return /\.(json|ya?ml)$/i.test(arg);
}

/** Reads a JSON or YAML config file into a plain object. */
export async function readConfigFile(path: string): Promise<Plain> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`the config file ${path} is not valid ${extname(path).slice(1).toUpperCase()}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isPlain(value)) {
    const got = value === null || value === undefined ? 'nothing (the file is empty)' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    throw new ConfigError(`the config file ${path} must hold an object (key: value pairs such as "recipe: iris"), got ${got}.`);
  }
  return value;
}

/**
 * Splits `--a.b.c value` / `--a.b.c=value` (any flag whose name has a dot) out of the arguments, as config overrides.
 * Values are read as YAML scalars: `5` is a number, `true` a boolean, `null` null, `[1, 2]` a list, anything else a
 * string. A dotted flag without a value is `true`.
 */
export function extractDottedFlags(args: readonly string[]): { rest: string[]; overrides: Plain; given: string[] } {
  const rest: string[] = [];
  const overrides: Plain = {};
  const given: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--([A-Za-z_][\w-]*(?:\.[\w-]+)+)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      rest.push(arg);
      continue;
    }
    const key = match[1]!;
    let raw: string | undefined = match[2];
    if (raw === undefined) {
      const next = args[i + 1];
      if (next !== undefined && !/^--[A-Za-z]/.test(next)) {
        raw = next;
        i++;
      }
    }
    setPath(overrides, key.split('.'), raw === undefined ? true : scalar(raw));
    given.push(key);
  }
  return { rest, overrides, given };
}

function scalar(raw: string): unknown {
  try {
    const v: unknown = parseYaml(raw);
    return v === undefined ? raw : v;
  } catch {
    return raw;
  }
}

/** Sets an own property, even one named `__proto__` (which then is an unknown key, never the object's prototype). */
function setOwn(target: Plain, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const own = (target: Plain, key: string): unknown => (Object.prototype.hasOwnProperty.call(target, key) ? target[key] : undefined);

function setPath(target: Plain, path: readonly string[], value: unknown): void {
  let node = target;
  path.slice(0, -1).forEach((k) => {
    if (!isPlain(own(node, k))) setOwn(node, k, {});
    node = node[k] as Plain;
  });
  setOwn(node, path[path.length - 1]!, value);
}

/**
 * Deep-merges `over` into `base` (objects merge, anything else replaces). A boolean given for a section that has an
 * `enabled` switch sets the switch: `--callbacks.tensorBoard false` = `--callbacks.tensorBoard.enabled false`.
 */
export function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (typeof over === 'boolean' && isPlain(base) && 'enabled' in base) return { ...base, enabled: over };
  if (!isPlain(base) || !isPlain(over)) return over;
  // A discriminated section (lrSchedule) with a new `type` starts from the new type's options only.
  if ('type' in base && 'type' in over && base['type'] !== over['type']) return { ...over };
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) setOwn(out, k, merge(own(base, k), v));
  return out;
}

/**
 * ` Did you mean "x"?` for a misspelt `key` among `allowed` (case-insensitive edit distance, or a shortened name), or
 * nothing.
 *
 * @example
 * ```ts
 * suggestion('earlyStoping', ['earlyStopping', 'ema']); // ' Did you mean "earlyStopping"?'
 * ```
 */
export function suggestion(key: string, allowed: readonly string[]): string {
  const near = didYouMean(key, allowed);
  if (near !== undefined) return ` Did you mean "${near}"?`;
  // A shortened name (`cosine` for `cosineDecay`): the few allowed values that start with it.
  const starts = key.length >= 3 ? allowed.filter((k) => k.toLowerCase().startsWith(key.toLowerCase())) : [];
  return starts.length > 0 && starts.length <= 3 ? ` Did you mean ${starts.map((k) => `"${k}"`).join(' or ')}?` : '';
}

interface SchemaNode {
  readonly def?: { readonly type?: string; readonly innerType?: SchemaNode; readonly options?: readonly SchemaNode[] };
  readonly shape?: Record<string, SchemaNode>;
}

/** The object keys a schema allows at `path` (through optional/default wrappers and discriminated unions). */
function keysAt(schema: SchemaNode, path: readonly PropertyKey[], value: unknown): string[] {
  let node: SchemaNode | undefined = schema;
  let current: unknown = value;
  const unwrap = (n: SchemaNode | undefined): SchemaNode | undefined => {
    let m = n;
    while (m?.def?.innerType) m = m.def.innerType;
    if (m?.def?.type === 'union' && m.def.options) {
      const type = isPlain(current) ? current['type'] : undefined;
      m = m.def.options.find((o) => (o.shape?.['type'] as { def?: { values?: unknown[] } } | undefined)?.def?.values?.includes(type)) ?? m.def.options.find((o) => o.shape) ?? m;
    }
    return m;
  };
  node = unwrap(node);
  for (const key of path) {
    current = isPlain(current) ? current[String(key)] : undefined;
    node = unwrap(node?.shape?.[String(key)]);
  }
  return node?.shape ? Object.keys(node.shape) : [];
}

const quote = (v: unknown) => JSON.stringify(v);

/** One line per problem, each naming the key (dotted path) and what is allowed there. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], schema: unknown, value: unknown): string[] {
  const at = (path: readonly PropertyKey[]) => (path.length === 0 ? '(top level)' : path.map(String).join('.'));
  const valueAt = (path: readonly PropertyKey[]) => path.reduce<unknown>((v, k) => (isPlain(v) || Array.isArray(v) ? (v as Record<string, unknown>)[String(k)] : undefined), value);
  return issues.map((issue) => {
    const key = at(issue.path);
    const got = valueAt(issue.path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = keysAt(schema as SchemaNode, issue.path, value);
        return issue.keys
          .map((k) => `unknown key "${[...issue.path.map(String), k].join('.')}". Allowed keys${issue.path.length ? ` in ${key}` : ''}: ${allowed.join(', ')}.${suggestion(k, allowed)}`)
          .join('\n');
      }
      case 'invalid_value':
        return `${key}: ${quote(got)} is not allowed. Allowed values: ${issue.values.map(quote).join(', ')}.${typeof got === 'string' ? suggestion(got, issue.values.map(String)) : ''}`;
      case 'invalid_union': {
        if ('note' in issue || (isPlain(got) && 'discriminator' in issue)) {
          const atType = issue.path[issue.path.length - 1] === 'type';
          const unionPath = atType ? issue.path.slice(0, -1) : issue.path;
          const options = keysDiscriminator(schema as SchemaNode, unionPath);
          const given = atType ? got : isPlain(got) ? got['type'] : got;
          return `${at([...unionPath, 'type'])}: ${quote(given)} is not allowed. Allowed values: ${options.map(quote).join(', ')}.${typeof given === 'string' ? suggestion(given, options) : ''}`;
        }
        const alternatives = issue.errors.map((errs) => errs.map((e) => e.message).join('; ')).join(' | or | ');
        return `${key}: ${quote(got)} is not allowed (${alternatives}).`;
      }
      case 'invalid_type':
        return got === undefined
          ? `${key}: missing; expected ${issue.expected}.`
          : `${key}: expected ${issue.expected === 'int' ? 'an integer' : issue.expected}, got ${quote(got)}.${quotedScalarHint(issue.path, issue.expected, got)}`;
      case 'too_small':
        return `${key}: must be ${issue.inclusive === false ? '>' : '≥'} ${String(issue.minimum)}${issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : ''}, got ${quote(got)}.`;
      case 'too_big':
        return `${key}: must be ${issue.inclusive === false ? '<' : '≤'} ${String(issue.maximum)}, got ${quote(got)}.`;
      case 'custom':
        // A refinement that formats its own line (fit's plugin lists: `callbacks[0].with.patience: …`).
        if (typeof issue.params?.['line'] === 'string') return issue.params['line'];
        return `${key}: ${issue.message} (got ${quote(got)}).`;
      default:
        return `${key}: ${issue.message} (got ${quote(got)}).`;
    }
  });
}

/**
 * A number or boolean written in quotes (`epochs: "5"`) is a string to YAML and JSON: say so, and how to write it. A
 * dotted flag's value is read as YAML, so `--epochs 5` and `--data.subset 3000` give numbers already.
 */
function quotedScalarHint(path: readonly PropertyKey[], expected: string, got: unknown): string {
  if (typeof got !== 'string') return '';
  const text = got.trim();
  const numeric = (expected === 'number' || expected === 'int') && text !== '' && Number.isFinite(Number(text));
  const boolean = expected === 'boolean' && (text === 'true' || text === 'false');
  if (!numeric && !boolean) return '';
  return ` ${quote(got)} is a quoted string: write ${String(path[path.length - 1] ?? 'the value')}: ${text} without quotes.`;
}

function keysDiscriminator(schema: SchemaNode, path: readonly PropertyKey[]): string[] {
  let node: SchemaNode | undefined = schema;
  for (const key of path) {
    while (node?.def?.innerType) node = node.def.innerType;
    node = node?.shape?.[String(key)];
  }
  while (node?.def?.innerType) node = node.def.innerType;
  return (node?.def?.options ?? []).flatMap((o) => ((o.shape?.['type'] as { def?: { values?: unknown[] } } | undefined)?.def?.values ?? []).map(String));
}

/** Validates `value` against `schema`; a failure throws a {@link ConfigError} listing every problem. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, source: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = formatIssues(result.error.issues, schema, value);
  throw new ConfigError(`invalid configuration (${source}):\n  ${lines.join('\n  ')}`);
}
