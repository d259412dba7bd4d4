/**
 * Applies an optimizer's update through a fused kernel when one is registered for the active backend, and through the
 * optimizer's own `applyGradients` otherwise. This package registers no fused kernel itself: it asks tfjs' kernel
 * registry (`tf.getKernel(name, backend)`) for the names in {@link FUSED_UPDATE_KERNELS}, which `@fitstream/backend-wasm`
 * registers on wasm and on cpu (its `optimizerUpdates` groups; `@fitstream/core`'s `selectBackend` installs them when
 * that package is installed). So this module imports no backend package, and without one every update is the
 * optimizer's own.
 *
 * The fused path keeps the optimizer's own state objects: the same slot arrays (`accumulatedFirstMoment`, …) with the
 * same variable names, the same `accBeta1/accBeta2` variables and iteration count. So `getWeights()`,
 * `setWeights()`, checkpoints and resume behave exactly as with the stock update, and the numbers are bit-identical
 * to it (the kernels' package tests that, through this module). Nothing is patched on the optimizer instance.
 *
 * One deliberate difference: centered RMSProp divides by √(ms − mg² + ε), as Keras, TensorFlow and PyTorch do, on
 * every backend (without a fused kernel through this module's op-for-op path); tfjs 4.22's own update takes
 * √(ms − (mg² + ε)), which is NaN wherever ms − mg² < ε — any gradient below ≈ 1e-3 in the first step.
 *
 * Per variable, the fused kernel runs for variables up to the `maxElements(backend)` its registration carries
 * (unbounded for the WebAssembly SIMD kernel and for the JavaScript loop on cpu; a few thousand for that loop on wasm
 * without SIMD, where tfjs' own ops are SIMD), and tfjs' own elementwise ops (the stock formula, op for op) update
 * larger ones.
 *
 * Only optimizers whose `applyGradients` is tfjs' own (an `AdamOptimizer`, `RMSPropOptimizer`, `MomentumOptimizer`
 * or `SGDOptimizer` that no subclass or instance overrides) take the fused path; others, and float16/int variables,
 * use their own update.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Kernel names of the fused updates, by optimizer class: the seam with the backend package that registers them.
 * `@fitstream/backend-wasm` spells the same names (its fused-update-kernels.ts documents each kernel's inputs,
 * attributes and outputs, and its tests run this module against its kernels); neither package imports the other.
 * A backend of your own takes the fused path by registering a kernel under one of these names with `tf.registerKernel`
 * (optionally with a `maxElements(backend)` hint: the largest variable it should update).
 *
 * @example
 * ```ts
 * tf.getKernel(FUSED_UPDATE_KERNELS.adam, tf.getBackend()); // the registration applyOptimizerUpdate would use, if any
 * ```
 */
export const FUSED_UPDATE_KERNELS = {
  adam: 'FitstreamAdamUpdate',
  rmsprop: 'FitstreamRMSPropUpdate',
  momentum: 'FitstreamMomentumUpdate',
  sgd: 'FitstreamSgdUpdate',
} as const;

type FusedKernelName = (typeof FUSED_UPDATE_KERNELS)[keyof typeof FUSED_UPDATE_KERNELS];

/** A fused update's registration as read here: tfjs' kernel config and, optionally, the largest variable it should take. */
interface FusedUpdateRegistration extends tf.KernelConfig {
  /** Elements of the largest variable the kernel should update on `backend`; absent: no limit. */
  readonly maxElements?: (backend: tf.KernelBackend) => number;
}

/** What `Optimizer.applyGradients` accepts. */
type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** The private state of tfjs' optimizers the fused path reads and updates (same fields as tfjs 4.x). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<Slot | undefined>;
  accumulatedSecondMoment: Array<Slot | undefined>;
}
interface RMSPropState {
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
  centered: boolean;
  accumulatedMeanSquares: Array<Slot | undefined>;
  accumulatedMoments: Array<Slot | undefined>;
  accumulatedMeanGrads: Array<Slot | undefined>;
}
interface MomentumState {
  learningRate: number;
  momentum: number;
  m: tf.Scalar;
  c: tf.Scalar;
  useNesterov: boolean;
  accumulations: Array<Slot | undefined>;
}
interface SgdState {
  learningRate: number;
  c: tf.Scalar;
}

type Kind = 'adam' | 'rmsprop' | 'momentum' | 'sgd';

/** Which fused update applies to `optimizer` (its class' own `applyGradients`, not overridden), if any. */
function kindOf(optimizer: tf.Optimizer): Kind | undefined {
  // isPrototypeOf, not instanceof: tfjs' optimizer classes define Symbol.hasInstance as a duck-typed check under which
  // an SGDOptimizer is "an instance of" MomentumOptimizer.
  const classes = [
    ['momentum', tf.MomentumOptimizer], // extends SGD: test it first
    ['adam', tf.AdamOptimizer],
    ['rmsprop', tf.RMSPropOptimizer],
    ['sgd', tf.SGDOptimizer],
  ] as const;
  for (const [kind, cls] of classes) {
    if (Object.prototype.isPrototypeOf.call(cls.prototype, optimizer)) {
      return optimizer.applyGradients === cls.prototype.applyGradients ? kind : undefined;
    }
  }
  return undefined;
}

/** The fused update registered for `kind` on the active backend, if any. */
function registration(kind: Kind | undefined): FusedUpdateRegistration | undefined {
  return kind === undefined ? undefined : (tf.getKernel(FUSED_UPDATE_KERNELS[kind], tf.getBackend()) as FusedUpdateRegistration | undefined);
}

/**
 * Whether `optimizer`'s next update would run as one fused kernel per variable on the active backend (a fused kernel
 * for its class is registered there, as `@fitstream/backend-wasm` does on wasm and cpu).
 *
 * @example
 * ```ts
 * await selectBackend({ prefer: 'wasm' }); // with @fitstream/backend-wasm installed
 * usesFusedUpdate(tf.train.adam(0.01));    // true; false without that package, or for tf.train.adagrad(0.1)
 * ```
 */
export function usesFusedUpdate(optimizer: tf.Optimizer): boolean {
  return registration(kindOf(optimizer)) !== undefined;
}

/**
 * A per-variable factor on the optimizer's learning rate (discriminative learning rates): `1` leaves a variable's
 * update as it is, `0.1` makes it ten times smaller. Called with each variable's name on every update.
 */
export type LearningRateScale = (variableName: string) => number;

/**
 * `optimizer.applyGradients(grads)`, fused when possible (see the module comment). Semantics are those of tfjs:
 * slots are indexed by the position of the variable in `grads`, a missing gradient skips its variable but still
 * creates its slots, and the iteration count increases by one.
 *
 * With `scale`, each variable's update runs with the learning rate × `scale(name)`, as one optimizer per parameter
 * group would (PyTorch param groups): Adam's moments, RMSProp's mean squares and momentum buffers are those of the
 * unscaled optimizer. Optimizers without a fused path (Adagrad, Adadelta, Adamax, custom) take their own update and
 * the step of each scaled variable is then multiplied by its factor — exact for every update that is linear in the
 * learning rate, which all of tfjs' are.
 *
 * @example
 * ```ts
 * const { grads } = tf.variableGrads(() => lossOf(batch));
 * applyOptimizerUpdate(optimizer, grads); // what optimizer.applyGradients(grads) does, one fused kernel per variable where registered
 * applyOptimizerUpdate(optimizer, grads, (name) => (name.startsWith('backbone/') ? 0.1 : 1)); // a tenth of the rate for the backbone
 * tf.dispose(grads);
 * ```
 */
export function applyOptimizerUpdate(optimizer: tf.Optimizer, grads: VariableGradients, scale?: LearningRateScale): void {
  const kind = kindOf(optimizer);
  const fused = registration(kind);
  const entries = Array.isArray(grads)
    ? grads.map(({ name, tensor }) => ({ name, gradient: tensor as tf.Tensor | undefined, factor: 1 }))
    : Object.keys(grads).map((name) => ({ name, gradient: grads[name] as tf.Tensor | undefined, factor: 1 }));
  if (scale) for (const e of entries) e.factor = checkedFactor(scale(e.name), e.name);
  // Centered RMSProp takes this module's op-for-op path even where no fused kernel is registered: tfjs' own update
  // has the wrong denominator (see rmspropUpdate).
  const corrected = kind === 'rmsprop' && (optimizer as unknown as RMSPropState).centered;
  if (kind === undefined || (fused === undefined && !corrected) || !allFloat32(grads)) {
    applyScaledStock(optimizer, grads, entries);
    return;
  }
  const limit = fused === undefined ? 0 : (fused.maxElements?.(tf.backend()) ?? Number.POSITIVE_INFINITY);
  tf.tidy(() => {
    if (kind === 'adam') adamUpdate(optimizer as unknown as AdamState, entries, limit);
    else if (kind === 'rmsprop') rmspropUpdate(optimizer as unknown as RMSPropState, entries, limit);
    else if (kind === 'momentum') momentumUpdate(optimizer as unknown as MomentumState, entries, limit);
    else sgdUpdate(optimizer as unknown as SgdState, entries, limit);
  });
  (optimizer as unknown as { incrementIterations(): void }).incrementIterations();
}

type Entry = { name: string; gradient: tf.Tensor | undefined; factor: number };

function checkedFactor(factor: number, name: string): number {
  if (!Number.isFinite(factor) || factor < 0) {
    throw new RangeError(`Learning-rate scale for variable "${name}" is ${factor}; it must be a finite number ≥ 0.`);
  }
  return factor;
}

/** The optimizer's own update; the step of each variable with a factor ≠ 1 is then scaled by it. */
function applyScaledStock(optimizer: tf.Optimizer, grads: VariableGradients, entries: Entry[]): void {
  const scaled = entries.filter((e) => e.factor !== 1 && e.gradient != null).map((e) => ({ ...e, value: variableOf(e.name) }));
  const before = scaled.map((e) => e.value.clone());
  optimizer.applyGradients(grads);
  tf.tidy(() => scaled.forEach((e, i) => e.value.assign(tf.add(before[i]!, tf.mul(tf.sub(e.value, before[i]!), e.factor)))));
  tf.dispose(before);
}

function allFloat32(grads: VariableGradients): boolean {
  const list = Array.isArray(grads) ? grads.map((g) => ({ name: g.name, tensor: g.tensor })) : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
  const registered = tf.engine().registeredVariables;
  return list.every(({ name, tensor }) => {
    const value = registered[name];
    return (
      value !== undefined &&
      value.dtype === 'float32' &&
      (tensor == null || (tensor.dtype === 'float32' && tf.util.arraysEqual(tensor.shape, value.shape)))
    );
  });
}

function variableOf(name: string): tf.Variable {
  const value = tf.engine().registeredVariables[name];
  if (value === undefined) throw new Error(`applyOptimizerUpdate: no variable named "${name}" is registered`);
  return value;
}

/** The slot at `i`, created as zeros like `value` (untrainable) the first time, exactly as tfjs does. */
function slot(slots: Array<Slot | undefined>, i: number, value: tf.Variable, suffix: string): tf.Variable {
  let s = slots[i];
  if (s == null) {
    s = { originalName: `${value.name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
    slots[i] = s;
  }
  return s.variable;
}

function run(kernel: FusedKernelName, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor[] {
  const out = tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

function assignAll(targets: tf.Variable[], values: tf.Tensor[]): void {
  targets.forEach((target, i) => {
    const value = values[i];
    if (value === undefined) throw new Error(`applyOptimizerUpdate: fused kernel returned ${values.length} outputs, expected ${targets.length}`);
    target.assign(value);
  });
}

function adamUpdate(o: AdamState, entries: Entry[], limit: number): void {
  // 1 − β₁ᵗ and 1 − β₂ᵗ, made only once an unfused variable needs them (two dispatches a step saved otherwise).
  let corrections: [tf.Tensor, tf.Tensor] | undefined;
  const oneMinusAccBetas = (): [tf.Tensor, tf.Tensor] => (corrections ??= [tf.sub(1, o.accBeta1), tf.sub(1, o.accBeta2)]);
  entries.forEach(({ name, gradient, factor }, i) => {
    const learningRate = o.learningRate * factor;
    const attrs = { beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, learningRate };
    const value = variableOf(name);
    const m = slot(o.accumulatedFirstMoment, i, value, 'm');
    const v = slot(o.accumulatedSecondMoment, i, value, 'v');
    if (gradient == null) return;
    if (value.size <= limit) {
      assignAll([value, m, v], run(FUSED_UPDATE_KERNELS.adam, { value, gradient, m, v, accBeta1: o.accBeta1, accBeta2: o.accBeta2 }, attrs));
      return;
    }
    // tfjs' AdamOptimizer.applyGradients, op for op.
    const newM = tf.add(tf.mul(m, o.beta1), tf.mul(gradient, 1 - o.beta1));
    const newV = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(gradient), 1 - o.beta2));
    const [oneMinusAccBeta1, oneMinusAccBeta2] = oneMinusAccBetas();
    const mHat = tf.div(newM, oneMinusAccBeta1);
    const vHat = tf.div(newV, oneMinusAccBeta2);
    m.assign(newM);
    v.assign(newV);
    value.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), o.epsilon)), -learningRate), value));
  });
  o.accBeta1.assign(tf.mul(o.accBeta1, o.beta1));
  o.accBeta2.assign(tf.mul(o.accBeta2, o.beta2));
}

function rmspropUpdate(o: RMSPropState, entries: Entry[], limit: number): void {
  entries.forEach(({ name, gradient, factor }, i) => {
    const learningRate = o.learningRate * factor;
    const attrs = { decay: o.decay, momentum: o.momentum, epsilon: o.epsilon, learningRate, centered: o.centered };
    const value = variableOf(name);
    const ms = slot(o.accumulatedMeanSquares, i, value, 'rms');
    const mom = slot(o.accumulatedMoments, i, value, 'momentum');
    const mg = o.centered ? slot(o.accumulatedMeanGrads, i, value, 'mg') : undefined;
    if (gradient == null) return;
    if (value.size <= limit) {
      const inputs: tf.NamedTensorMap = { value, gradient, ms, mom };
      if (mg) inputs['mg'] = mg;
      assignAll(mg ? [value, ms, mom, mg] : [value, ms, mom], run(FUSED_UPDATE_KERNELS.rmsprop, inputs, attrs));
      return;
    }
    // tfjs' RMSPropOptimizer.applyGradients, op for op — except centered RMSProp's denominator, which is
    // √(ms − mg² + ε) as in Keras, TensorFlow and PyTorch: tfjs 4.22 takes √(ms − (mg² + ε)), NaN wherever ms − mg² < ε
    // (any |gradient| below ≈ 1e-3 on the first step).
    const newMs = tf.add(tf.mul(ms, o.decay), tf.mul(tf.square(gradient), 1 - o.decay));
    let newMom: tf.Tensor;
    if (mg) {
      const newMg = tf.add(tf.mul(mg, o.decay), tf.mul(gradient, 1 - o.decay));
      const contribution = tf.div(tf.mul(gradient, learningRate), tf.sqrt(tf.add(tf.sub(newMs, tf.square(newMg)), o.epsilon)));
      newMom = tf.add(tf.mul(mom, o.momentum), contribution);
      mg.assign(newMg);
    } else {
      newMom = tf.add(tf.mul(mom, o.momentum), tf.div(tf.mul(gradient, learningRate), tf.sqrt(tf.add(newMs, o.epsilon))));
    }
    ms.assign(newMs);
    mom.assign(newMom);
    value.assign(tf.sub(value, newMom));
  });
}

function momentumUpdate(o: MomentumState, entries: Entry[], limit: number): void {
  entries.forEach(({ name, gradient, factor }, i) => {
    const attrs = { momentum: o.momentum, learningRate: o.learningRate * factor, nesterov: o.useNesterov };
    const value = variableOf(name);
    const acc = slot(o.accumulations, i, value, 'momentum');
    if (gradient == null) return;
    if (value.size <= limit) {
      assignAll([value, acc], run(FUSED_UPDATE_KERNELS.momentum, { value, gradient, acc }, attrs));
      return;
    }
    // tfjs' MomentumOptimizer.applyGradients, op for op (its `m` and `c` scalars).
    const c = factor === 1 ? o.c : tf.mul(o.c, factor);
    const newAcc = tf.add(tf.mul(o.m, acc), gradient);
    const newValue = o.useNesterov ? tf.add(tf.mul(c, tf.add(gradient, tf.mul(newAcc, o.m))), value) : tf.add(tf.mul(c, newAcc), value);
    acc.assign(newAcc);
    value.assign(newValue);
  });
}

function sgdUpdate(o: SgdState, entries: Entry[], limit: number): void {
  for (const { name, gradient, factor } of entries) {
    if (gradient == null) continue;
    const value = variableOf(name);
    if (value.size <= limit) assignAll([value], run(FUSED_UPDATE_KERNELS.sgd, { value, gradient }, { learningRate: o.learningRate * factor }));
    else value.assign(tf.add(tf.mul(factor === 1 ? o.c : tf.mul(o.c, factor), gradient), value)); // tfjs' SGDOptimizer, op for op
  }
}
