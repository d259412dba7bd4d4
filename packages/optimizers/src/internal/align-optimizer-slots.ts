/**
 * tfjs' optimizers keep their per-variable state (Adam's moments, RMSProp's mean squares, momentum buffers …) in
 * arrays indexed by the *position* of a variable in the gradients passed to `applyGradients`, not by its name. When
 * the set of trainable variables changes (a layer is frozen or unfrozen), every variable after the change would
 * silently take another variable's moments — or a slot of the wrong shape. {@link alignOptimizerSlots} reorders
 * those arrays by the slots' own names (`<variable>/<suffix>`, which tfjs and the fused path both write) so that
 * every variable that stays trainable keeps its state, a newly trainable one starts from zeros as tfjs would, and
 * the slots of frozen variables are parked after the active ones (kept for an unfreeze later, and saved in
 * checkpoints like any other slot).
 */
import * as tf from '@tensorflow/tfjs';

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

function isSlot(value: unknown): value is Slot {
  return typeof value === 'object' && value !== null && typeof (value as Slot).originalName === 'string' && (value as Slot).variable instanceof tf.Variable;
}

/** The optimizer's own arrays of slots (`accumulatedFirstMoment`, `accumulations` …), whatever its class. */
function slotArrays(optimizer: tf.Optimizer): Array<{ key: string; slots: Array<Slot | undefined> }> {
  const found: Array<{ key: string; slots: Array<Slot | undefined> }> = [];
  for (const [key, value] of Object.entries(optimizer)) {
    if (Array.isArray(value) && value.length > 0 && value.some(isSlot) && value.every((v) => v == null || isSlot(v))) {
      found.push({ key, slots: value as Array<Slot | undefined> });
    }
  }
  return found;
}

/** `dense/kernel/m` → `{ variable: 'dense/kernel', suffix: 'm' }`. */
function splitSlotName(name: string): { variable: string; suffix: string } {
  const cut = name.lastIndexOf('/');
  return { variable: name.slice(0, cut), suffix: name.slice(cut + 1) };
}

/**
 * Reorders `optimizer`'s slot arrays so that position `i` holds the slots of `variableNames[i]`. Returns whether
 * anything moved. Slots are never disposed: frozen variables' slots go after the active ones. Call it before each
 * update whose list of variables may differ from the previous one's, with the names in the order of that update's
 * gradients.
 *
 * @example
 * ```ts
 * const names = model.trainableWeights.map((w) => w.val.name); // after freezing or unfreezing a layer
 * alignOptimizerSlots(optimizer, names);
 * applyOptimizerUpdate(optimizer, grads); // grads listed in the order of `names`
 * ```
 */
export function alignOptimizerSlots(optimizer: tf.Optimizer, variableNames: readonly string[]): boolean {
  let moved = false;
  for (const { key, slots } of slotArrays(optimizer)) {
    const inOrder = variableNames.every((name, i) => slots[i] != null && splitSlotName(slots[i].originalName).variable === name);
    if (inOrder) continue;
    const byVariable = new Map<string, Slot>();
    let suffix: string | undefined;
    for (const s of slots) {
      if (s == null) continue;
      const parts = splitSlotName(s.originalName);
      byVariable.set(parts.variable, s);
      suffix ??= parts.suffix;
    }
    const aligned: Slot[] = variableNames.map((name) => {
      const existing = byVariable.get(name);
      if (existing) {
        byVariable.delete(name);
        return existing;
      }
      // A variable that becomes trainable after the optimizer's first update: zeros, as tfjs creates them. Created now
      // rather than left as a hole, because tfjs' `getWeights()` (checkpoints) cannot skip holes.
      const value = tf.engine().registeredVariables[name];
      if (value === undefined) throw new Error(`alignOptimizerSlots: no variable named "${name}" is registered`);
      return { originalName: `${name}/${suffix!}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
    });
    (optimizer as unknown as Record<string, unknown>)[key] = [...aligned, ...byVariable.values()];
    moved = true;
  }
  return moved;
}

/**
 * Renames `optimizer`'s slots after their variables (`old/kernel/m` → `new/kernel/m` for `old/kernel` → `new/kernel`):
 * slots restored from a checkpoint carry the variable names of the process that wrote it, and a model rebuilt in
 * another process (or a second copy in this one) has other auto-generated names. Slots of variables not in `names`
 * keep their names.
 *
 * @example
 * ```ts
 * await optimizer.setWeights(savedSlots); // named after the variables of the process that saved them
 * renameOptimizerSlots(optimizer, new Map([['dense_Dense1/kernel', 'dense_Dense3/kernel']]));
 * ```
 */
export function renameOptimizerSlots(optimizer: tf.Optimizer, names: ReadonlyMap<string, string>): void {
  for (const { slots } of slotArrays(optimizer)) {
    for (const s of slots) {
      if (s == null) continue;
      const { variable, suffix } = splitSlotName(s.originalName);
      const renamed = names.get(variable);
      if (renamed !== undefined) s.originalName = `${renamed}/${suffix}`;
    }
  }
}
