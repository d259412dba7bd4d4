import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@fitstream/util';

/** What happened with the cache on one load. */
export type CacheStatus = 'hit' | 'miss' | 'rebuilt' | 'disabled';

/** Where a dataset came from on one load. */
export interface CacheReport {
  /** `hit`: read from the cache; `miss`: parsed and cached; `rebuilt`: the cache was unreadable and was replaced; `disabled`: not used. */
  readonly status: CacheStatus;
  /** The cache file, unless the cache is disabled. */
  readonly path: string | undefined;
  /** Why the cache could not be written (the data still loaded), or why an existing entry was discarded. */
  readonly problem?: string;
}

interface Envelope<T> {
  readonly format: 'fitstream-dataset-cache';
  readonly key: string;
  readonly sha256: string;
  readonly payload: T;
}

function digest(payload: unknown): string {
  return createHash('sha256').update(JSON.stringify(payload)).digest('hex');
}

/**
 * Reads `path` if it holds a valid entry for `key` (format, key and checksum match and `validate` accepts the payload);
 * otherwise builds the payload, writes it atomically and returns it. A corrupt or stale entry is ignored and replaced;
 * a cache that cannot be written never fails the load.
 */
export async function cachedJson<T>(
  path: string,
  key: string,
  build: () => Promise<T> | T,
  validate: (payload: unknown) => payload is T,
): Promise<{ payload: T; cache: CacheReport }> {
  let problem: string | undefined;
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problem = `could not read the cache: ${(error as Error).message}`;
  }
  if (text !== undefined) {
    const found = parseEnvelope(text, key, validate);
    if (found.ok) return { payload: found.payload, cache: { status: 'hit', path } };
    problem = `discarded the cache entry: ${found.reason}`;
  }
  const payload = await build();
  const envelope: Envelope<T> = { format: 'fitstream-dataset-cache', key, sha256: digest(payload), payload };
  const status = text === undefined ? 'miss' : 'rebuilt';
  try {
    await writeFileAtomic(path, JSON.stringify(envelope));
  } catch (error) {
    problem = `could not write the cache (the data loaded anyway): ${(error as Error).message}`;
  }
  return { payload, cache: problem === undefined ? { status, path } : { status, path, problem } };
}

function parseEnvelope<T>(
  text: string,
  key: string,
  validate: (payload: unknown) => payload is T,
): { ok: true; payload: T } | { ok: false; reason: string } {
  let parsed: Partial<Envelope<unknown>>;
  try {
    parsed = JSON.parse(text) as Partial<Envelope<unknown>>;
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || parsed.format !== 'fitstream-dataset-cache') return { ok: false, reason: 'unknown format' };
  if (parsed.key !== key) return { ok: false, reason: `written for ${String(parsed.key)}, expected ${key}` };
  if (parsed.sha256 !== digest(parsed.payload)) return { ok: false, reason: 'checksum mismatch' };
  if (!validate(parsed.payload)) return { ok: false, reason: 'payload failed validation' };
  return { ok: true, payload: parsed.payload };
}
