/** A cached payload's top level: a non-null object whose fields the loader's `validate` checks next. */
export function isRecord(p: unknown): p is Record<string, unknown> {
  return typeof p === 'object' && p !== null;
}

/** `v` is an array of exactly `length` numbers, each accepted by `each` (default: finite). */
export function isNumbers(v: unknown, length: number, each: (x: number) => boolean = Number.isFinite): v is number[] {
  return Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && each(x));
}
