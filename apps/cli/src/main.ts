/**
 * The `fitstream` command (`bin/fitstream.js` runs the build of this file). Recipes and the doctor load tfjs only when
 * they run.
 *
 * @packageDocumentation
 */
export { main, createProgram, EXIT } from './program.js';
export { RECIPES } from './recipes/index.js';
export type { Io, Recipe, RecipeEntry, TrainFlags, TrainSummary } from './recipes/recipe.js';
export type { BackendCheck, DoctorReport } from './doctor/doctor.js';
