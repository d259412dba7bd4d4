import type { Claim } from './plugin.js';

/** A claim with the plugin that made it. */
export interface OwnedClaim extends Claim {
  readonly owner: string;
}

/** Thrown when two plugins want the same thing; names both. */
export class PluginConflictError extends Error {
  override readonly name = 'PluginConflictError';
}

/** Finds the first conflict among claims and throws naming both owners; silent when there is none. */
export function assertNoConflicts(claims: readonly OwnedClaim[]): void {
  for (let i = 0; i < claims.length; i++) {
    for (let j = i + 1; j < claims.length; j++) {
      const a = claims[i]!;
      const b = claims[j]!;
      if (a.resource !== b.resource || a.owner === b.owner) continue;
      if (a.exclusive || b.exclusive || a.value !== b.value) {
        const what = a.value !== b.value ? ` ("${a.value ?? 'any'}" vs "${b.value ?? 'any'}")` : '';
        throw new PluginConflictError(
          `Plugins "${a.owner}" and "${b.owner}" both claim "${a.resource}"${what}; remove one of them or configure them to agree.`,
        );
      }
    }
  }
}
