import { FitstreamInputError } from './input-error.js';

/**
 * "Did you mean …?" for every package's refusals of unknown names (options, losses, plugins, columns). Hand-written:
 * twenty lines, where a string-distance library would be a dependency of the leaf package for one function.
 */

/**
 * Edit distance (insertions, deletions, substitutions; a swap of neighbours counts 1), case-insensitive.
 *
 * @example
 * ```ts
 * editDistance('eopchs', 'epochs'); // 1 (a swap)
 * ```
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The known name closest to `name`, when it is close enough to be a typo (at most max(2, ⌊length/3⌋) edits) or
 * differs only in case; undefined otherwise.
 *
 * @example
 * ```ts
 * didYouMean('specis', ['sepal', 'species']); // 'species'
 * didYouMean('xyz', ['species']);             // undefined
 * ```
 */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(2, Math.floor(name.length / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/**
 * Refuses option names that are not in `known` (never silently ignored), with the closest known name. `hints` may
 * explain names that are known to mean something elsewhere (a tfjs option with a fitstream equivalent).
 * @throws FitstreamInputError naming `argument`, each unknown name, its closest known one and every known name.
 *
 * @example
 * ```ts
 * assertKnownOptions({ eopchs: 3 }, ['epochs', 'batchSize'], 'options');
 * // options: "eopchs" is not an option; did you mean "epochs"? Known options: batchSize, epochs.
 * ```
 */
export function assertKnownOptions(options: object, known: readonly string[], argument: string, hints: Readonly<Record<string, string>> = {}): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k) && (options as Record<string, unknown>)[k] !== undefined);
  if (unknown.length === 0) return;
  const lines = unknown.map((k) => {
    if (hints[k]) return `"${k}": ${hints[k]}`;
    const near = didYouMean(k, known);
    return near ? `"${k}" is not an option; did you mean "${near}"?` : `"${k}" is not an option.`;
  });
  throw new FitstreamInputError(argument, `${lines.join(' ')} Known options: ${[...known].sort().join(', ')}.`);
}
