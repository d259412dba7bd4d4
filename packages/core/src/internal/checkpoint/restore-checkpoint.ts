// Putting a loaded checkpoint back: model weights, optimizer slots and extras, the other parts of a custom step.
import * as tf from '@tensorflow/tfjs';
import type { ModelAdapter } from '../model/model.js';
import { renameOptimizerSlots } from '@fitstream/optimizers';
import type { LoadedCheckpoint, NamedTensor } from '@fitstream/checkpoint';
import { FitstreamInputError } from '@fitstream/util';

/** A checkpoint of a model alone (`writeCheckpoint` of @fitstream/checkpoint) holds no loop to continue. */
export function withoutTrainer(path: string): FitstreamInputError {
  return new FitstreamInputError('options.resumeFrom', `${path} was written without a trainer (writeCheckpoint): it holds no optimizer state or fit options to continue; load its model with tf.loadLayersModel(checkpointModel(path)) and start a new fit instead.`);
}

/**
 * Writes loaded weights into the model: by name when every name matches, otherwise by position (a model rebuilt in
 * another process, or a second copy in this one, gets other auto-generated layer names but the same weight order, as
 * Keras's `load_weights` assumes). Names the weight and both shapes on a mismatch.
 */
export function assignWeights(model: ModelAdapter, weights: tf.NamedTensorMap, source: string): void {
  const targets = [...model.namedWeights()];
  const byName = targets.every(([name]) => name in weights);
  const saved = Object.entries(weights);
  if (!byName && saved.length !== targets.length) {
    throw new Error(`${source} holds ${saved.length} weights but ${model.label} has ${targets.length}; was it written by a different model?`);
  }
  targets.forEach(([name, variable], i) => {
    const [savedName, value] = byName ? [name, weights[name]!] : saved[i]!;
    if (!tf.util.arraysEqual(value.shape, variable.shape)) {
      throw new Error(
        `${source}: weight "${savedName}" has shape [${value.shape.join(', ')}] but ${model.label}'s weight "${name}" has [${variable.shape.join(', ')}]; the architectures differ.`,
      );
    }
  });
  targets.forEach(([name, variable], i) => variable.assign(byName ? weights[name]! : saved[i]![1]));
}

/** Restores optimizer slots and the extras saved beside them. */
export async function restoreOptimizer(optimizer: tf.Optimizer, loaded: LoadedCheckpoint, model: ModelAdapter): Promise<void> {
  const written = loaded.state.optimizer;
  if (!written) throw withoutTrainer(loaded.path);
  const saved = { className: written.className, weights: loaded.optimizerWeights, extras: written.extras };
  await restoreOptimizerSlots(optimizer, saved, loaded, slotRenames(loaded, new Map([['model', model]])) ?? legacySlotRenames(loaded, model));
}

/** Checkpoints of fitstream < 0.2 name no variables: their slots follow the trainable variables' order. */
function legacySlotRenames(loaded: LoadedCheckpoint, model: ModelAdapter): Map<string, string> {
  const trainable = model.trainableVariables().map((v) => v.name);
  const slots = loaded.optimizerWeights.filter((w) => w.name !== 'iter').map((w) => w.name.slice(0, w.name.lastIndexOf('/')));
  return new Map(slots.slice(0, trainable.length).map((name, i) => [name, trainable[i]!]));
}

/** Restores the other models and optimizers of a custom train step, by name. */
export async function restoreParts(loaded: LoadedCheckpoint, models: ReadonlyMap<string, ModelAdapter>, optimizers: ReadonlyMap<string, tf.Optimizer>): Promise<void> {
  for (const [name, model] of models) {
    if (name === 'model') continue;
    const weights = loaded.parts.models[name];
    if (!weights) throw new Error(`Checkpoint ${loaded.path} holds no model "${name}" (it has ${Object.keys(loaded.parts.models).map((n) => `"${n}"`).join(', ') || 'none besides the main one'}); resume with the models it was written with.`);
    assignWeights(model, weights, `Checkpoint ${loaded.path} (model "${name}")`);
  }
  const renames = slotRenames(loaded, models);
  for (const [name, optimizer] of optimizers) {
    const slots = loaded.parts.optimizers[name];
    const saved = loaded.state.parts?.optimizers[name];
    if (!slots || !saved) throw new Error(`Checkpoint ${loaded.path} holds no optimizer "${name}"; resume with the optimizers it was written with.`);
    await restoreOptimizerSlots(optimizer, { className: saved.className, weights: slots, extras: saved.extras }, loaded, renames);
  }
}

/**
 * Saved variable name → this process's, over every model: optimizer slots are named after the variables, whose unique
 * names differ between processes. By weight key when they all match, else by position (a model rebuilt with other
 * auto-generated layer names), as assignWeights does.
 */
function slotRenames(loaded: LoadedCheckpoint, models: ReadonlyMap<string, ModelAdapter>): Map<string, string> | undefined {
  const pairs: [string, string][] = [];
  for (const [name, model] of models) {
    const saved = name === 'model' ? loaded.state.model.variables : loaded.state.parts?.models[name]?.variables;
    if (!saved) return undefined;
    const current = [...model.namedWeights()];
    const savedByKey = new Map(saved);
    const byKey = current.every(([key]) => savedByKey.has(key));
    current.forEach(([key, v], i) => pairs.push([byKey ? savedByKey.get(key)! : (saved[i]?.[1] ?? v.name), v.name]));
  }
  return new Map(pairs);
}

async function restoreOptimizerSlots(
  optimizer: tf.Optimizer,
  saved: { readonly className: string; readonly weights: NamedTensor[]; readonly extras: Readonly<Record<string, number>> },
  loaded: LoadedCheckpoint,
  renames: Map<string, string> | undefined,
): Promise<void> {
  if (saved.className !== optimizer.getClassName()) {
    throw new Error(`Checkpoint ${loaded.path} was written with optimizer ${saved.className} but this trainer uses ${optimizer.getClassName()}; use the same optimizer to resume.`);
  }
  // setWeights replaces the slot variables without disposing the old ones; dispose them first so resuming into a
  // trainer that already trained does not leak.
  for (const w of await optimizer.getWeights()) w.tensor.dispose();
  await optimizer.setWeights(saved.weights);
  if (renames) renameOptimizerSlots(optimizer, renames);
  for (const [key, value] of Object.entries(saved.extras)) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable) tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
}
