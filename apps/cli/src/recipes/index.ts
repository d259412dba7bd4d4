import type { RecipeEntry } from './recipe.js';

/**
 * Every recipe `fitstream train` knows, by name. Listing them loads no tfjs: `--help` and usage errors stay instant.
 * `births` and `sensors` are experiments (a walk-forward backtest; a classifier next to its unweighted baseline): only
 * `fitstream train` runs them.
 */
export const RECIPES: ReadonlyMap<string, RecipeEntry> = new Map<string, RecipeEntry>([
  ['iris', { name: 'iris', summary: "Fisher's Iris (150 flowers, 3 species): MLP 4-16-3, Adam, stratified 80/20 split", load: async () => (await import('./iris.js')).iris }],
  ['mnist', { name: 'mnist', summary: 'handwritten digits (10 000 from the mnist package): small CNN, shift augmentation, early stopping', load: async () => (await import('./mnist.js')).mnist }],
  ['housing', { name: 'housing', summary: 'Boston house prices (506 tracts): MLP regression, L2 penalty, standardised features, k-fold CV', load: async () => (await import('./housing.js')).housing }],
  ['births', { name: 'births', summary: 'US daily births (1969–1988): LSTM forecaster, walk-forward backtest vs seasonal naive (m = 7) and other baselines', load: async () => (await import('./births.js')).births }],
  ['autoencoder', { name: 'autoencoder', summary: 'MNIST digits: dense autoencoder, its encoder embeds the digits once (cached on disk), a classifier on the embeddings vs on raw pixels', load: async () => (await import('./autoencoder.js')).autoencoder }],
  ['sensors', { name: 'sensors', summary: 'sensor network anomalies (0.8% positives): classifier on trailing-window features, focal loss or class weights, vs unweighted', load: async () => (await import('./sensors.js')).sensors }],
]);

/** The recipe list for help and error messages. */
export function recipeList(): string {
  return [...RECIPES.values()].map((r) => `${r.name} (${r.summary})`).join(', ');
}

/**
 * `fitstream fit`'s recipe: the user's model and data, built from its configuration. Not among {@link RECIPES} (it has
 * no defaults to train without a model and data: `fitstream fit` runs it), but a config file or run directory naming
 * `recipe: fit` resolves to it (`fitstream train fit.yaml`, `resume`, `evaluate`, `predict`, `report`).
 */
export const FIT_RECIPE: RecipeEntry = {
  name: 'fit',
  summary: 'your own model and data: model.path, data.path, data.columns.target',
  load: async () => (await import('../fit/fit-recipe.js')).createFitRecipe(),
};
