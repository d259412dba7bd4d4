import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The directory where fitstream caches parsed datasets: `$FITSTREAM_CACHE_DIR`, else `$XDG_CACHE_HOME/fitstream`,
 * else `~/.cache/fitstream`. A relative `XDG_CACHE_HOME` is ignored, as the XDG base directory spec requires.
 *
 * @example
 * ```ts
 * cacheDirectory(); // '/home/ada/.cache/fitstream'
 * cacheDirectory({ FITSTREAM_CACHE_DIR: '/tmp/fs-cache' }); // '/tmp/fs-cache'
 * ```
 */
export function cacheDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const explicit = env['FITSTREAM_CACHE_DIR'];
  if (explicit) return resolve(explicit);
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'fitstream');
  return join(homedir(), '.cache', 'fitstream');
}
