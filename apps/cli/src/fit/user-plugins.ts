import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from '@fitstream/core';
import { Ajv, type ValidateFunction } from 'ajv';
import { ConfigError } from '../config/resolve.js';
import type { PluginContext } from './plugin-registry.js';

/**
 * The function a plugin module exports — its default export, or a named export `plugin` — for a `fitstream fit` list
 * entry `{ use: ./my-logger.ts, with: { … } }`: it receives the entry's `with:` and what the CLI knows besides (a
 * `log` to stderr, the training labels and class names), and returns a plugin of @fitstream/core (a logger made with
 * @fitstream/callbacks' `createLogger`, a schedule, anything `trainer.use` takes). It checks its own options: throwing
 * refuses the configuration with the entry's place. A module may also export `optionsSchema`, a JSON Schema of `with:`.
 */
export type UserPluginFactory = (options: Record<string, unknown>, context: PluginContext) => Plugin;

/** A loaded plugin module: where it is, its factory, and the validator of its `optionsSchema` when it exports one. */
export interface LoadedModule {
  readonly file: string;
  readonly factory: UserPluginFactory;
  readonly validate: ValidateFunction | undefined;
}

const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts']);

/**
 * Whether a list entry's `use:` names a module rather than a plugin of the registry: a path (`./x.ts`, `../x.js`,
 * `/abs/x.mjs`) or a name ending in a module extension (`my-trackers/mlflow.js`).
 */
export function isPluginModule(use: string): boolean {
  return /^\.{1,2}[\\/]/.test(use) || isAbsolute(use) || MODULE_EXTENSIONS.has(extname(use).toLowerCase());
}

/**
 * A module entry's `use:` made absolute: a path against `baseDir` (the config file's directory; the working directory
 * for flags), a package specifier resolved from `baseDir` when Node can resolve it there. What cannot be resolved stays
 * as written (the error comes when the module is loaded, naming the entry). Recorded so in the run's config.json, so
 * that `fitstream resume` finds the module from any directory.
 */
export function resolvePluginModule(use: string, baseDir: string): string {
  if (isAbsolute(use)) return use;
  const local = resolve(baseDir, use);
  if (/^\.{1,2}[\\/]/.test(use) || existsSync(local)) return local;
  try {
    return createRequire(join(baseDir, 'noop.js')).resolve(use);
  } catch {
    return use;
  }
}

/** The modules loaded so far, by `use:` (imports are cached by Node anyway; this keeps their factories synchronously at hand). */
const loaded = new Map<string, LoadedModule>();
const ajv = new Ajv({ allErrors: true, strict: false });

async function importModule(use: string): Promise<Record<string, unknown>> {
  // TypeScript and JavaScript alike through tsx's ESM API (no build step; what the model and data modules use too).
  const { tsImport } = await import('tsx/esm/api');
  const specifier = isAbsolute(use) ? pathToFileURL(use).href : use;
  return (await tsImport(specifier, pathToFileURL(join(process.cwd(), 'noop.js')).href)) as Record<string, unknown>;
}

function factoryOf(mod: Record<string, unknown>): unknown {
  // A CommonJS module imported as ESM puts module.exports on `default`.
  const inner = typeof mod['default'] === 'object' && mod['default'] !== null ? (mod['default'] as Record<string, unknown>) : {};
  return [mod['default'], mod['plugin'], inner['default'], inner['plugin']].find((f) => typeof f === 'function');
}

/**
 * Loads the module an entry names (once per `use:`), finds its factory and its optional `optionsSchema`. Throws a
 * {@link ConfigError} naming `at` and the fix: no such file or package, an import that failed, no factory.
 */
export async function loadPluginModule(use: string, at: string): Promise<LoadedModule> {
  const cached = loaded.get(use);
  if (cached) return cached;
  if (isAbsolute(use) && !existsSync(use)) throw new ConfigError(`${at}.use: ${use}: no such file. A relative path is relative to the config file's directory (or the working directory for flags).`);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(use);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && message.includes(`'${use}'`);
    throw new ConfigError(
      missing
        ? `${at}.use: cannot find the module ${JSON.stringify(use)}: install the package, or name a file with ./ (relative to the config file's directory).`
        : `${at}.use: ${use} could not be imported: ${message}`,
    );
  }
  const factory = factoryOf(mod);
  if (!factory) {
    const names = Object.keys(mod).filter((k) => k !== '__esModule');
    const object = typeof mod['default'] === 'object' && mod['default'] !== null && typeof (mod['default'] as { name?: unknown }).name === 'string';
    throw new ConfigError(
      `${at}.use: ${use} exports no plugin factory (found: ${names.length ? names.join(', ') : 'nothing'}). ` +
        (object ? 'Its default export is an object: export a function that returns it, ' : 'Export one: ') +
        '`export default (options, context) => createLogger({ name: "my-logger", write: (record) => … })` (or a named export `plugin`).',
    );
  }
  const schema = mod['optionsSchema'];
  let validate: ValidateFunction | undefined;
  if (schema !== undefined) {
    try {
      validate = ajv.compile(schema as object);
    } catch (error) {
      throw new ConfigError(`${at}.use: ${use} exports an optionsSchema that is not a valid JSON Schema: ${(error as Error).message}`);
    }
  }
  const entry: LoadedModule = { file: use, factory: factory as UserPluginFactory, validate };
  loaded.set(use, entry);
  return entry;
}

const isPlugin = (value: unknown): value is Plugin =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Plugin).name === 'string' &&
  ['register', 'attach'].some((k) => typeof (value as Record<string, unknown>)[k] === 'function');

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (value instanceof Promise) return 'a Promise';
  if (typeof value !== 'object') return `a ${typeof value}`;
  return `an object with ${Object.keys(value).slice(0, 6).join(', ') || 'no keys'}`;
}

/**
 * Calls a loaded module's factory with the entry's options: the plugin, or a {@link ConfigError} naming `at`
 * (the factory threw — its own option checks —, returned a Promise or something that is not a plugin).
 */
export function createModulePlugin(use: string, at: string, options: Record<string, unknown>, context: PluginContext): Plugin {
  const module = loaded.get(use);
  if (!module) throw new Error(`${at}.use: ${use} was not loaded before the plugins were built (loadPluginModules first)`);
  let plugin: unknown;
  try {
    plugin = module.factory(options, context);
  } catch (error) {
    throw new ConfigError(`${at}.with: the plugin factory of ${use} threw: ${(error as Error).message ?? String(error)}`);
  }
  if (!isPlugin(plugin)) {
    if (plugin instanceof Promise) void plugin.catch(() => undefined);
    throw new ConfigError(
      `${at}.use: the plugin factory of ${use} returned ${describe(plugin)}, not a plugin. Return one synchronously: { name, register?(registry), attach?(events$, control) } (e.g. @fitstream/callbacks' createLogger({ name, write })).`,
    );
  }
  return plugin;
}

/** The user's plugin modules of a fit configuration's lists (`{ use: ./x.ts }`) as absolute paths, relative to `baseDir`. */
export function withModulesResolved(config: Record<string, unknown>, baseDir: string): Record<string, unknown> {
  const entry = (e: unknown): unknown => {
    if (typeof e === 'string' && isPluginModule(e)) return { use: resolvePluginModule(e, baseDir) };
    if (typeof e === 'object' && e !== null && typeof (e as { use?: unknown }).use === 'string' && isPluginModule((e as { use: string }).use)) {
      return { ...e, use: resolvePluginModule((e as { use: string }).use, baseDir) };
    }
    return e;
  };
  const out = { ...config };
  for (const key of ['callbacks', 'regularisers'] as const) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(entry);
  if (out['sampler'] !== undefined) out['sampler'] = entry(out['sampler']);
  return out;
}
