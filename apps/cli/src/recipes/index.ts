import type { RecipeEntry } from './recipe.js';

/**
 * Every recipe `fitstream train` knows, by name. Listing them loads no tfjs: `--help` and usage errors stay instant.
 * `births` and `sensors` (time series) wait for @fitstream/time-series and @fitstream/regularisers.
 */
export const RECIPES: ReadonlyMap<string, RecipeEntry> = new Map<string, RecipeEntry>([
  ['iris', { name: 'iris', summary: "Fisher's Iris (150 flowers, 3 species): MLP 4-16-3, Adam, stratified 80/20 split", load: async () => (await import('./iris.js')).iris }],
  ['mnist', { name: 'mnist', summary: 'handwritten digits (10 000 from the mnist package): small CNN, shift augmentation, early stopping', load: async () => (await import('./mnist.js')).mnist }],
  ['housing', { name: 'housing', summary: 'Boston house prices (506 tracts): MLP regression, standardised features, k-fold CV', load: async () => (await import('./housing.js')).housing }],
]);

/** The recipe list for help and error messages. */
export function recipeList(): string {
  return [...RECIPES.values()].map((r) => `${r.name} (${r.summary})`).join(', ');
}
