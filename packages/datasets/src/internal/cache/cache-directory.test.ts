import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDirectory } from './cache-directory.js';

describe('cacheDirectory', () => {
  it('prefers $FITSTREAM_CACHE_DIR (resolved to an absolute path)', () => {
    expect(cacheDirectory({ FITSTREAM_CACHE_DIR: '/tmp/fs', XDG_CACHE_HOME: '/xdg' })).toBe('/tmp/fs');
    expect(cacheDirectory({ FITSTREAM_CACHE_DIR: 'rel/cache' })).toBe(resolve('rel/cache'));
  });

  it('then $XDG_CACHE_HOME/fitstream, ignoring a relative XDG_CACHE_HOME as the XDG spec requires', () => {
    expect(cacheDirectory({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/fitstream');
    expect(cacheDirectory({ XDG_CACHE_HOME: 'relative' })).toBe(join(homedir(), '.cache', 'fitstream'));
  });

  it('then ~/.cache/fitstream', () => {
    expect(cacheDirectory({})).toBe(join(homedir(), '.cache', 'fitstream'));
    expect(cacheDirectory({ FITSTREAM_CACHE_DIR: '', XDG_CACHE_HOME: '' })).toBe(join(homedir(), '.cache', 'fitstream'));
  });
});
