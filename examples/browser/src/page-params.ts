import { FitstreamInputError } from '@fitstream/core';
import { BACKEND_CHOICES, type BackendChoice } from './backend.js';

/** What the address's query asks for. */
export interface PageParams {
  /** `?demo=1`: generate the pictures from the seed and train at once, without a person (the Chromium test). */
  readonly demo: boolean;
  readonly seed: number;
  readonly epochs: number;
  readonly backend: BackendChoice;
  /** Pictures per shape in the demo (default 200). */
  readonly perClass: number;
}

function integer(query: URLSearchParams, name: string, fallback: number, min: number): number {
  const text = query.get(name);
  if (text === null) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new FitstreamInputError(`?${name}`, `must be a whole number ≥ ${min}, got "${text}"; fix the address.`);
  return value;
}

/**
 * Reads `?demo=1&seed=7&epochs=12&backend=wasm&perClass=200` (every part optional).
 *
 * @example
 * ```ts
 * const { demo, seed } = pageParams(new URLSearchParams('?demo=1&seed=7')); // true, 7
 * ```
 */
export function pageParams(query: URLSearchParams): PageParams {
  const backend = query.get('backend') ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new FitstreamInputError('?backend', `must be one of ${BACKEND_CHOICES.join(', ')}, got "${backend}"; fix the address.`);
  }
  return {
    demo: ['1', 'true'].includes(query.get('demo') ?? ''),
    seed: integer(query, 'seed', 7, 0),
    epochs: integer(query, 'epochs', 12, 1),
    backend: backend as BackendChoice,
    perClass: integer(query, 'perClass', 200, 5),
  };
}
