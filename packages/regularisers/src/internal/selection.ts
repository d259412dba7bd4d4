import type * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';

/**
 * Which trainable weights a regulariser acts on. By default the kernels: weights of rank ≥ 2 whose name does not
 * contain `bias` (Dense/Conv/RNN kernels, embeddings) — biases and rank-1 weights (batch-norm `gamma`/`beta`) are left
 * alone unless `biases: true`. `layers` and `match` narrow the choice further (both must hold when both are given).
 */
export interface WeightSelection {
  /** Layer names (`model.layers[i].name`): a weight belongs to layer `L` when its name starts with `L/`. */
  readonly layers?: readonly string[];
  /** A pattern or predicate over variable names, e.g. `/^dense_Dense\d+\/kernel/`. */
  readonly match?: RegExp | ((name: string) => boolean);
  /** Also act on biases and other rank-1 weights (default `false`). */
  readonly biases?: boolean;
}

/** Whether a variable is a bias-like weight (excluded unless `biases: true`). */
export function isBiasLike(v: { readonly name: string; readonly rank: number }): boolean {
  const leaf = v.name.slice(v.name.lastIndexOf('/') + 1);
  return v.rank <= 1 || /bias/i.test(leaf);
}

/** A predicate over variables for a selection, validated once. */
export function selector(selection: WeightSelection, argument: string): (v: { readonly name: string; readonly rank: number }) => boolean {
  const { layers, match, biases = false } = selection;
  if (layers !== undefined && (!Array.isArray(layers) || layers.some((l) => typeof l !== 'string'))) {
    throw new FitstreamInputError(`${argument}.layers`, 'must be an array of layer names.');
  }
  if (match !== undefined && !(match instanceof RegExp) && typeof match !== 'function') {
    throw new FitstreamInputError(`${argument}.match`, 'must be a RegExp or a function (name) => boolean.');
  }
  const test = match instanceof RegExp ? (n: string) => new RegExp(match.source, match.flags.replace('g', '')).test(n) : match;
  return (v) => {
    if (!biases && isBiasLike(v)) return false;
    if (layers && !layers.some((l) => v.name.startsWith(`${l}/`))) return false;
    if (test && !test(v.name)) return false;
    return true;
  };
}

/** Selects variables, caching the decision per variable name (the list is rebuilt every epoch by the trainer). */
export class SelectionCache {
  private readonly decisions = new Map<string, boolean>();
  constructor(private readonly predicate: (v: { readonly name: string; readonly rank: number }) => boolean) {}

  select<V extends tf.Variable>(variables: readonly V[]): V[] {
    return variables.filter((v) => {
      let keep = this.decisions.get(v.name);
      if (keep === undefined) this.decisions.set(v.name, (keep = this.predicate(v)));
      return keep;
    });
  }

  has(v: { readonly name: string; readonly rank: number }): boolean {
    let keep = this.decisions.get(v.name);
    if (keep === undefined) this.decisions.set(v.name, (keep = this.predicate(v)));
    return keep;
  }
}
