import type { RecipeEntry } from './recipe.js';

/**
 * Every recipe `fitstream train` knows, by name. Listing them loads no tfjs: `--help` and usage errors stay instant.
 * Defaults are chosen to pass `fitstream train <name>` in a few seconds on the wasm backend.
 */
export const RECIPES: ReadonlyMap<string, RecipeEntry> = new Map([
  [
    'iris',
    {
      name: 'iris',
      summary: "Fisher's Iris (150 flowers, 3 species): MLP 4-16-3, Adam, stratified 80/20 split",
      defaults: { epochs: 50, batchSize: 16, learningRate: 0.01 },
      load: async () => (await import('./iris.js')).iris,
    },
  ],
]);
