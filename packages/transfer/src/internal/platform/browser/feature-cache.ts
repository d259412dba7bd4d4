// In a page there is no file system to keep features in: `cacheDir` is refused, naming what to do instead.
import { FitstreamInputError } from '@fitstream/util';
import type { FeatureCache } from '../feature-cache-types.js';

/**
 * In a browser: refuses every `cacheDir` (a page has no file system); features are computed in memory instead.
 *
 * @example
 * ```ts
 * featureCache('.cache/features'); // throws FitstreamInputError('options.cacheDir', …)
 * ```
 */
export function featureCache(cacheDir: string): FeatureCache {
  throw new FitstreamInputError(
    'options.cacheDir',
    `is ${JSON.stringify(cacheDir)}, a directory, and a web page has no file system to cache features in; omit cacheDir in a browser: the features are computed in memory (keep the returned tensor to reuse them).`,
  );
}
