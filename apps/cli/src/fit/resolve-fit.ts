import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError, extractDottedFlags, merge, readConfigFile, validate } from '../config/resolve.js';
import type { RunConfig } from '../config/schema.js';
import type { Resolved } from '../run/session.js';
import { createFitRecipe } from './fit-recipe.js';
import type { FitConfig } from './fit-config.js';
import { modulePluginProblems, type PluginEntry } from './plugin-check.js';
import { withModulesResolved } from './user-plugins.js';

/** The config file `fitstream fit` reads when none is named: `fitstream init` writes it. */
export const DEFAULT_FIT_CONFIG = 'fitstream.yaml';

/** The flags of `fitstream fit` that name the model and the data. */
export interface FitFlags {
  readonly model?: string | undefined;
  readonly data?: string | undefined;
  readonly target?: string | undefined;
  readonly features?: string | undefined;
  readonly task?: string | undefined;
  /** `--set key=value`, repeatable: any key, dotted, the value read as YAML. */
  readonly set?: readonly string[] | undefined;
  /** `--check`: validate the configuration (plugin modules included) and exit. */
  readonly check?: boolean | undefined;
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** `--model`, `--data`, `--target`, `--features`, `--task` and `--set` as configuration overrides. */
export function fitOverrides(flags: FitFlags): Record<string, unknown> {
  // Read as dotted flags are (values as YAML scalars): `--set a.b=v` is `--a.b v`, under one prefix so that a top-level
  // key (`--set epochs=5`, no dot) goes the same way.
  const sets = (flags.set ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${pair}: expected key=value, e.g. --set data.split.validation=0.3 or --set 'callbacks=[{use: earlyStopping}]'.`);
    return `--set.${pair.slice(0, eq)}=${pair.slice(eq + 1)}`;
  });
  const out = (extractDottedFlags(sets).overrides['set'] ?? {}) as Record<string, unknown>;
  const columns: Record<string, unknown> = {};
  if (flags.target !== undefined) {
    const targets = list(flags.target);
    columns['target'] = targets.length === 1 ? targets[0] : targets;
  }
  if (flags.features !== undefined) columns['features'] = list(flags.features);
  const data: Record<string, unknown> = {
    ...(flags.data === undefined ? {} : { path: flags.data }),
    ...(Object.keys(columns).length > 0 ? { columns } : {}),
    ...(flags.task === undefined ? {} : { task: flags.task }),
  };
  return merge(out, {
    ...(flags.model === undefined ? {} : { model: { path: flags.model } }),
    ...(Object.keys(data).length > 0 ? { data } : {}),
  }) as Record<string, unknown>;
}

/** `use:` of the plugin lists' module entries made absolute against `baseDir` (other values as they are). */
const exists = (path: string) => stat(path).then(
  () => true,
  () => false,
);

/**
 * Resolves a `fitstream fit` configuration: the fit defaults, then the config file (`config`, else `./fitstream.yaml`
 * when there is one), then `overrides` (flags). The file may omit `recipe` (or say `fit`); a string `model` is its path.
 * Problems throw a {@link ConfigError} (exit code 2) naming each key, and the flags that set `model` and `data.path`.
 *
 * @example
 * ```ts
 * const resolved = await resolveFitConfig(undefined, fitOverrides({ model: 'model.json', data: 'data.csv', target: 'label' }));
 * ```
 */
export async function resolveFitConfig(config: string | undefined, overrides: Record<string, unknown>): Promise<Resolved> {
  const path = config ?? ((await exists(DEFAULT_FIT_CONFIG)) ? DEFAULT_FIT_CONFIG : undefined);
  const file = path === undefined ? {} : await readConfigFile(path);
  if (file['recipe'] !== undefined && file['recipe'] !== 'fit') {
    throw new ConfigError(`${path} is a configuration of the ${JSON.stringify(file['recipe'])} recipe: train it with \`fitstream train ${path}\`, or drop its recipe key to fit it with \`fitstream fit\`.`);
  }
  const recipe = createFitRecipe();
  // The user's plugin modules are relative to the config file (flags: to the working directory), recorded absolute.
  const merged = merge(merge(recipe.defaults(), { ...withModulesResolved(file, path === undefined ? process.cwd() : dirname(path)), recipe: 'fit' }), withModulesResolved(overrides, process.cwd())) as Record<string, unknown>;
  const where = path === undefined ? 'flags' : Object.keys(overrides).length > 0 ? `${path} + flags` : path;
  const missing = [
    ...(merged['model'] === undefined ? ['model: missing. Name the model with --model <model.json | model.keras | model.ts>, or model: in the config file.'] : []),
    ...((merged['data'] as { path?: unknown } | undefined)?.path === undefined ? ['data.path: missing. Name the data with --data <file.csv> (and --target <column>), or data.path in the config file.'] : []),
  ];
  if (missing.length > 0) {
    throw new ConfigError(`invalid configuration (${where}):\n  ${missing.join('\n  ')}${path === undefined ? `\n  (no config file given, and no ${DEFAULT_FIT_CONFIG} here: \`fitstream init\` writes a starter project)` : ''}`);
  }
  const valid = validate(recipe.schema, merged, where) as RunConfig;
  const fit = valid as unknown as FitConfig;
  const problems = await modulePluginProblems({ callbacks: fit.callbacks as PluginEntry[], regularisers: fit.regularisers as PluginEntry[], sampler: fit.sampler });
  if (problems.length > 0) throw new ConfigError(`invalid configuration (${where}):\n  ${problems.join('\n  ')}`);
  return { recipe: recipe.withConfig!(valid), config: valid };
}
