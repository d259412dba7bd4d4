/**
 * The `fitstream` command (`bin/fitstream.js` runs the build of this file). Recipes and the doctor load tfjs only when
 * they run.
 *
 * @packageDocumentation
 */
export { main, createProgram } from './program.js';
export { EXIT } from './exit.js';
export { RECIPES } from './recipes/index.js';
export type { Io, RecipeDefinition, RecipeEntry, TrainSummary } from './recipes/recipe.js';
export type { RunConfig } from './config/schema.js';
export type { BackendCheck, DoctorReport } from './doctor/doctor.js';
export { installNativeBackend, readNativeRecord } from './native/native-install.js';
export type { NativeInstallOptions, NativeRecord } from './native/native-install.js';
export { NativeInstallError } from './native/native-install-error.js';
export type { NativeInstallStep } from './native/native-install-error.js';
export type { NativeCheck } from './native/verify-binding.js';
export type { TensorflowLibrary } from './native/find-tensorflow.js';
