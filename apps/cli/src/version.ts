import { createRequire } from 'node:module';

/** The `fitstream` command's own version (read from its package.json, which the package exports). */
export function cliVersion(): string {
  return (createRequire(import.meta.url)('@fitstream/cli/package.json') as { version: string }).version;
}
