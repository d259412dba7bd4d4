import { FitstreamInputError, METRIC_NAMES } from '@fitstream/core';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { z } from 'zod';
import { callbacksSchema, commonDefaults, type RunConfig } from '../config/schema.js';
import { ConfigError, formatIssues, suggestion } from '../config/resolve.js';
import type { PluginName } from './plugin-options.js';
import { PLUGINS, isPluginName, pluginNames, type PluginContext, type PluginKind } from './plugin-registry.js';
import schemas from './plugin-schemas.json' with { type: 'json' };
import { createModulePlugin, isPluginModule, loadPluginModule } from './user-plugins.js';

/**
 * One plugin of a `fitstream fit` list: `{ use: earlyStopping, with: { patience: 5 } }`, or just its name. Stored as
 * the object form.
 */
export const pluginEntrySchema = z
  .union([z.string().min(1), z.strictObject({ use: z.string().min(1), with: z.record(z.string(), z.unknown()).optional() })])
  .transform((entry) => (typeof entry === 'string' ? { use: entry } : entry));

export type PluginEntry = z.output<typeof pluginEntrySchema>;

/**
 * The run's own plugins (files in the run directory, the progress bar): always on, configured by naming them in
 * `callbacks:` (`{ use: tensorBoard, with: { histogramFreq: 1 } }`, `{ use: progressBar, with: { enabled: false } }`).
 */
export const RUN_CALLBACKS = ['progressBar', 'jsonlLogger', 'csvLogger', 'tensorBoard', 'trainingReport', 'modelCheckpoint', 'backupAndRestore'] as const;
type RunCallback = (typeof RUN_CALLBACKS)[number];
const isRunCallback = (name: string): name is RunCallback => (RUN_CALLBACKS as readonly string[]).includes(name);

const LIST_OF: Record<PluginKind, string> = { callbacks: 'callbacks', regularisers: 'regularisers', sampler: 'sampler' };

/** Where an entry sits, as messages write it: `callbacks[0]`, `sampler`. */
const where = (list: PluginKind, index: number | undefined) => (index === undefined ? list : `${list}[${index}]`);

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<PluginName, ValidateFunction>();
const pluginSchemas = (schemas as { plugins: Record<string, object> }).plugins;

function validatorOf(name: PluginName): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.compile(pluginSchemas[name] ?? {});
    validators.set(name, validate);
  }
  return validate;
}

const quote = (v: unknown) => JSON.stringify(v);

function valueAt(value: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), value);
}

/** One line per JSON Schema error, naming `<list>[i].with.<option>` and what is allowed. */
export function ajvLine(error: ErrorObject, at: string, options: unknown, schema: { properties?: Record<string, unknown> }): string {
  const path = `${at}.with${error.instancePath.split('/').slice(1).map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k}`)).join('')}`;
  const got = valueAt(options, error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = error.instancePath === '' ? Object.keys(schema.properties ?? {}) : [];
      return `${path}: unknown option "${key}".${allowed.length ? ` Allowed: ${allowed.join(', ')}.` : ''}${suggestion(key, allowed)}`;
    }
    case 'required':
      return `${path}.${String((error.params as { missingProperty: string }).missingProperty)}: missing (required).`;
    case 'type':
      return `${path}: expected ${String((error.params as { type: string }).type)}, got ${quote(got)}.${typeof got === 'string' && got.trim() !== '' && Number.isFinite(Number(got)) ? ` ${quote(got)} is a quoted string: write it without quotes.` : ''}`;
    case 'enum':
      return `${path}: ${quote(got)} is not allowed. Allowed values: ${((error.params as { allowedValues: unknown[] }).allowedValues ?? []).map(quote).join(', ')}.${typeof got === 'string' ? suggestion(got, ((error.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String)) : ''}`;
    case 'const':
      return `${path}: ${quote(got)} is not allowed. Allowed value: ${quote((error.params as { allowedValue: unknown }).allowedValue)}.`;
    default:
      return `${path}: ${error.message ?? 'is not valid'} (got ${quote(got)}).`;
  }
}

/** A factory's own error as a line naming the `with:` option it is about (when its message names one). */
function factoryLine(error: FitstreamInputError, at: string, name: PluginName, options: Record<string, unknown>): string {
  const aliases: Readonly<Record<string, string>> = PLUGINS[name].aliases ?? {};
  const text = error.message;
  const keys = Object.keys(options).sort((a, b) => b.length - a.length);
  const alias = Object.keys(aliases).find((word) => new RegExp(`(^|[^\\w])${word}([^\\w]|$)`).test(error.argument) && options[aliases[word]!] !== undefined);
  const key = alias !== undefined ? aliases[alias] : keys.find((k) => new RegExp(`(^|[^\\w])${k}([^\\w]|$)`).test(text));
  // "earlyStopping: patience must be …", "clipGradNorm: maxNorm: must be …": what the library says after its prefixes.
  let detail = text.replace(/^[\w.[\]]+(: [\w.[\]]+)*: /, '');
  if (key !== undefined) detail = detail.replace(new RegExp(`^${key}:? `), '');
  return `${at}.with${key === undefined ? '' : `.${key}`}: ${detail.trim()}`;
}

/** The section of the run callbacks a `callbacks:` entry configures, checked against the run's own schema. */
function runCallbackLines(entry: PluginEntry, at: string): string[] {
  const schema = callbacksSchema([...METRIC_NAMES]).shape[entry.use as RunCallback];
  const section = { ...(commonDefaults('fit', 'val_loss').callbacks[entry.use as RunCallback] as object), ...('enabled' in schema.shape ? { enabled: true } : {}), ...(entry.with ?? {}) };
  const result = schema.safeParse(section);
  if (result.success) return [];
  return formatIssues(result.error.issues, schema, section).map((line) =>
    line.startsWith('unknown key "') ? line.replace('unknown key "', `${at}.with: unknown option "`).replace(/ in [\w.]+:/, ':') : `${at}.with.${line}`,
  );
}

/** Problems of one entry: its name (did-you-mean, the list it belongs in), its `with:` (JSON Schema, then the factory). */
function entryLines(entry: PluginEntry, list: PluginKind, index: number | undefined, context: PluginContext): string[] {
  const at = where(list, index);
  if (list === 'callbacks' && isRunCallback(entry.use)) return runCallbackLines(entry, at);
  // The user's own module: loaded and checked asynchronously ({@link modulePluginProblems}).
  if (isPluginModule(entry.use)) return [];
  if (!isPluginName(entry.use)) {
    const names = [...pluginNames(list), ...(list === 'callbacks' ? RUN_CALLBACKS : [])];
    const other = [...pluginNames('callbacks'), ...pluginNames('regularisers'), ...pluginNames('sampler')];
    const hint = suggestion(entry.use, names) || suggestion(entry.use, other);
    return [`${at}.use: unknown plugin "${entry.use}".${hint} ${list === 'sampler' ? 'Samplers' : list === 'callbacks' ? 'Callbacks' : 'Regularisers'}: ${names.join(', ')}.`];
  }
  const factory = PLUGINS[entry.use];
  if (factory.kind !== list) {
    return [`${at}.use: ${entry.use} is ${factory.kind === 'sampler' ? 'a sampler' : `one of the ${factory.kind}`} (${factory.package}): put it under ${LIST_OF[factory.kind]}${factory.kind === 'sampler' ? ` (sampler: { use: ${entry.use} })` : ''}.`];
  }
  const options = entry.with ?? {};
  const validate = validatorOf(entry.use);
  if (!validate(options)) return (validate.errors ?? []).map((e) => ajvLine(e, at, options, (pluginSchemas[entry.use] ?? {}) as { properties?: Record<string, unknown> }));
  const checkable = factory.checkable as ((o: unknown) => boolean) | undefined;
  if (checkable && !checkable(options)) return [];
  try {
    // Let the plugin check its own options (ranges, combinations) now, before anything is written: build it once.
    (factory.create as (o: unknown, c: PluginContext) => { dispose?: () => void })(options, context).dispose?.();
  } catch (error) {
    if (error instanceof FitstreamInputError) return [factoryLine(error, at, entry.use, options)];
    return [`${at}.with: ${(error as Error).message}`];
  }
  return [];
}

/** The plugin lists of a fit configuration. */
export interface PluginLists {
  readonly callbacks: readonly PluginEntry[];
  readonly regularisers: readonly PluginEntry[];
  readonly sampler: PluginEntry | null;
}

/**
 * Every problem of a fit configuration's plugin lists, one line each (`callbacks[0].with.patience: …`): unknown names
 * (with a did-you-mean), a plugin in the wrong list, `with:` against the plugin's JSON Schema (generated from its
 * options type), then the plugin's own checks. Empty when all is well.
 *
 * @example
 * ```ts
 * pluginProblems({ callbacks: [{ use: 'earlyStoping' }], regularisers: [], sampler: null });
 * // ['callbacks[0].use: unknown plugin "earlyStoping". Did you mean "earlyStopping"? Callbacks: …']
 * ```
 */
export function pluginProblems(lists: PluginLists, context: PluginContext = { log: () => undefined }): string[] {
  return [
    ...lists.callbacks.flatMap((entry, i) => entryLines(entry, 'callbacks', i, context)),
    ...lists.regularisers.flatMap((entry, i) => entryLines(entry, 'regularisers', i, context)),
    ...(lists.sampler ? entryLines(lists.sampler, 'sampler', undefined, context) : []),
  ];
}

/**
 * The plugins of a fit configuration's lists, built by their factories (the run's own callbacks excepted: see
 * {@link runCallbacks}). A factory's error names the entry (`regularisers[1].with.lambda: …`).
 *
 * @example
 * ```ts
 * for (const plugin of buildPlugins(lists, { log: io.err, labels })) trainer.use(plugin);
 * ```
 */
export function buildPlugins(lists: PluginLists, context: PluginContext): ReturnType<(typeof PLUGINS)[PluginName]['create']>[] {
  const entries: Array<[PluginEntry, PluginKind, number | undefined]> = [
    ...lists.callbacks.map((e, i): [PluginEntry, PluginKind, number] => [e, 'callbacks', i]),
    ...lists.regularisers.map((e, i): [PluginEntry, PluginKind, number] => [e, 'regularisers', i]),
    ...(lists.sampler ? [[lists.sampler, 'sampler', undefined] as [PluginEntry, PluginKind, undefined]] : []),
  ];
  return entries
    .filter(([entry]) => !isRunCallback(entry.use) && (isPluginName(entry.use) || isPluginModule(entry.use)))
    .map(([entry, list, index]) => {
      if (isPluginModule(entry.use)) return createModulePlugin(entry.use, where(list, index), entry.with ?? {}, context);
      const name = entry.use as PluginName;
      try {
        return (PLUGINS[name].create as (o: unknown, c: PluginContext) => ReturnType<(typeof PLUGINS)[PluginName]['create']>)(entry.with ?? {}, context);
      } catch (error) {
        if (error instanceof FitstreamInputError) throw new FitstreamInputError(`${where(list, index)}.with`, factoryLine(error, where(list, index), name, entry.with ?? {}).replace(/^[^:]+: /, ''));
        throw error;
      }
    });
}

/**
 * The run's callback sections (what `src/run/plugins.ts` builds the run directory's plugins from) for a fit
 * configuration: the common defaults — logs, metrics.csv, TensorBoard, report, checkpoints by `val_loss`, backups, the
 * progress bar, `terminateOnNaN` — with no early stopping or schedule (those are plugins of the `callbacks:` list), and
 * the options of the run callbacks the list names. `terminateOnNaN` listed by the user replaces the default one.
 */
export function runCallbacks(lists: PluginLists): RunConfig['callbacks'] {
  const base = commonDefaults('fit', 'val_loss').callbacks;
  const sections: Record<string, unknown> = {
    ...base,
    earlyStopping: { ...base.earlyStopping, enabled: false },
    terminateOnNaN: { ...base.terminateOnNaN, enabled: !lists.callbacks.some((e) => e.use === 'terminateOnNaN') },
  };
  for (const entry of lists.callbacks) {
    if (!isRunCallback(entry.use)) continue;
    const section = sections[entry.use] as Record<string, unknown>;
    sections[entry.use] = { ...section, ...('enabled' in section ? { enabled: true } : {}), ...(entry.with ?? {}) };
  }
  return sections as RunConfig['callbacks'];
}

/** The entries of a configuration's lists that name the user's own modules, with their places. */
function moduleEntries(lists: PluginLists): Array<{ entry: PluginEntry; at: string }> {
  return [
    ...lists.callbacks.map((entry, i) => ({ entry, at: where('callbacks', i) })),
    ...lists.regularisers.map((entry, i) => ({ entry, at: where('regularisers', i) })),
    ...(lists.sampler ? [{ entry: lists.sampler, at: 'sampler' }] : []),
  ].filter(({ entry }) => isPluginModule(entry.use));
}

/**
 * Loads the user's plugin modules a configuration's lists name (`{ use: ./my-logger.ts, with: { … } }`) so that
 * {@link buildPlugins} can build them, and checks each as {@link pluginProblems} checks the registry's plugins: the
 * module loads and exports a factory, `with:` passes the module's `optionsSchema` (when it exports one), and the
 * factory builds a plugin from it (then disposed). One line per problem, naming the entry; empty when all is well.
 *
 * @example
 * ```ts
 * const problems = await modulePluginProblems({ callbacks: [{ use: '/project/my-logger.ts' }], regularisers: [], sampler: null });
 * ```
 */
export async function modulePluginProblems(lists: PluginLists, context: PluginContext = { log: () => undefined }): Promise<string[]> {
  const lines: string[] = [];
  for (const { entry, at } of moduleEntries(lists)) {
    try {
      const module = await loadPluginModule(entry.use, at);
      const options = entry.with ?? {};
      if (module.validate && !module.validate(options)) {
        const schema = (module.validate.schema ?? {}) as { properties?: Record<string, unknown> };
        for (const e of module.validate.errors ?? []) lines.push(ajvLine(e, at, options, schema));
        continue;
      }
      createModulePlugin(entry.use, at, options, context).dispose?.();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      lines.push(error.message);
    }
  }
  return lines;
}

/** Loads the user's plugin modules the lists name (a {@link ConfigError} naming the entry when one cannot be), so that {@link buildPlugins} can build them. */
export async function loadModulePlugins(lists: PluginLists): Promise<void> {
  for (const { entry, at } of moduleEntries(lists)) await loadPluginModule(entry.use, at);
}
