// Node: the feature cache is a directory of `<key>.bin` (float32 bytes) + `<key>.json` (shape, checksum) pairs.
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { pathExists, sha256, writeFileAtomic } from '@fitstream/util';
import type { CachedFeatures, FeatureCache } from '../feature-cache-types.js';

interface CacheMeta {
  readonly format: 'fitstream-features';
  readonly version: 1;
  readonly shape: number[];
  readonly sha256: string;
  readonly model: string;
  readonly createdAt: string;
}

/**
 * The feature cache in the directory `cacheDir` (created on the first write). Entries are written atomically, the
 * data before its metadata, and checked against their SHA-256 when read.
 *
 * @example
 * ```ts
 * const cache = featureCache('.cache/features');
 * const hit = await cache.read(key);
 * ```
 */
export function featureCache(cacheDir: string): FeatureCache {
  const dir = resolvePath(cacheDir);
  const path = (key: string): string => join(dir, `${key}.bin`);
  return {
    path,
    async read(key: string): Promise<CachedFeatures | undefined> {
      const metaPath = join(dir, `${key}.json`);
      if (!(await pathExists(metaPath))) return undefined;
      const meta = JSON.parse(await readFile(metaPath, 'utf8')) as CacheMeta;
      const bytes = await readFile(path(key)).catch(() => undefined);
      // A cache file that does not match its checksum (a disk error, an edit) is recomputed, never trusted.
      if (meta.format !== 'fitstream-features' || meta.version !== 1 || !bytes || sha256(bytes) !== meta.sha256) return undefined;
      return { values: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), shape: meta.shape };
    },
    async write(key: string, data: Uint8Array, shape: readonly number[], model: string): Promise<void> {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(path(key), data);
      const meta: CacheMeta = { format: 'fitstream-features', version: 1, shape: [...shape], sha256: sha256(data), model, createdAt: new Date().toISOString() };
      // The metadata is written after the data: a kill in between leaves no entry that claims to be complete.
      await writeFileAtomic(join(dir, `${key}.json`), JSON.stringify(meta));
    },
  };
}
