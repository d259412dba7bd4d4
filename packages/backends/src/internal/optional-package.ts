/** Loading optional peers (tfjs-node, @fitstream/backend-wasm) that this package never imports statically. */

/**
 * `import(name)`. The name goes through a variable so that bundlers and TypeScript do not try to resolve an optional
 * peer, and dependency-cruiser draws no static edge to it.
 */
export const importOptional = (name: string): Promise<unknown> => import(/* @vite-ignore */ name);

/** Why an optional package could not be used, in a few words: `not installed`, or the first line of the error. */
export function describeLoadError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = text.split('\n')[0] ?? text;
  // Node's and bundlers' words, then browsers' for a bare name that no import map or bundle resolves.
  if (/Cannot find (package|module)|ERR_MODULE_NOT_FOUND|Could not resolve|Failed to load url|Failed to resolve module specifier|does not resolve to a valid URL/.test(text)) return 'not installed';
  return first.length > 160 ? `${first.slice(0, 157)}…` : first;
}
