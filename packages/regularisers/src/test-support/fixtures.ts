// Test fixtures for this package (not part of the build).
import * as tf from '@tensorflow/tfjs';
import {
  BatchTransform,
  GradientTransform,
  LossTransform,
  Random,
  WeightConstraint,
  createChildContainer,
  createTrainer,
  pluginRegistry,
  provide,
  resolveAll,
  selectBackend,
  withSeed,
  type FunctionModel,
  type LossOption,
  type Plugin,
  type TrainerEvent,
} from '@fitstream/core';
import type { RegulariserReport } from '../internal/report/events.js';

export async function cpu(): Promise<void> {
  await selectBackend({ prefer: 'cpu', log: null });
}

/** A small seeded MLP. */
export function mlp(options: { inputs?: number; hidden?: number; outputs?: number; activation?: 'softmax' | 'sigmoid' | 'linear'; seed?: number } = {}): tf.Sequential {
  const { inputs = 3, hidden = 6, outputs = 2, activation = 'softmax', seed = 1 } = options;
  return withSeed(seed, () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [inputs], units: hidden, activation: 'tanh', name: 'hidden' }));
    model.add(tf.layers.dense({ units: outputs, activation, name: 'head' }));
    return model;
  });
}

/** Separable-ish blobs: `n` samples, one-hot targets. */
export function blobs(n = 64, features = 3, classes = 2, seed = 5): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const r = Random.fromSeed(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => 2 * r.normal()));
  const labels = Array.from({ length: n }, () => r.int(classes));
  const xs = labels.map((c) => centres[c]!.map((m) => m + r.normal()));
  return { x: tf.tensor2d(xs), y: tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D, labels };
}

/** A linear FunctionModel `x·w + b` with named variables. */
export function linearModel(w: number[][], b: number[], prefix = 'lin'): FunctionModel & { w: tf.Variable; b: tf.Variable } {
  const wv = tf.variable(tf.tensor2d(w), true, `${prefix}/kernel`);
  const bv = tf.variable(tf.tensor1d(b), true, `${prefix}/bias`);
  return { w: wv, b: bv, variables: [wv, bv], apply: (x) => tf.add(tf.matMul(x as tf.Tensor2D, wv), bv) };
}

let unique = 0;
/** A fresh variable-name prefix: tfjs refuses two live variables with one name. */
export function fresh(prefix: string): string {
  return `${prefix}${unique++}`;
}

export function trainer(model: tf.LayersModel | FunctionModel, options: { optimizer?: 'sgd' | 'adam' | tf.Optimizer; loss?: LossOption; seed?: number } = {}) {
  return createTrainer({ model, optimizer: options.optimizer ?? 'sgd', loss: options.loss ?? 'categoricalCrossentropy', seed: options.seed ?? 1, backend: 'current', log: null });
}

/** Collects the reports (and other plugin events) a trainer publishes. */
export function collect(events$: { subscribe(fn: (e: TrainerEvent) => void): unknown }): { reports: RegulariserReport[]; events: TrainerEvent[] } {
  const out = { reports: [] as RegulariserReport[], events: [] as TrainerEvent[] };
  events$.subscribe((e) => {
    out.events.push(e);
    if (e.type === 'regulariser:report') out.reports.push(e);
  });
  return out;
}

/** Registers a plugin in a fresh container and returns what it contributed to each plugin point. */
export function contributions(plugin: Plugin) {
  const c = createChildContainer();
  plugin.register?.(pluginRegistry(c));
  return {
    batch: resolveAll(c, BatchTransform),
    loss: resolveAll(c, LossTransform),
    gradient: resolveAll(c, GradientTransform),
    constraint: resolveAll(c, WeightConstraint),
  };
}

/** A step context for calling plugin hooks directly. */
export function stepContext(overrides: Partial<{ epoch: number; batch: number; step: number; learningRate: number; training: boolean; seed: number }> = {}) {
  const { epoch = 0, batch = 0, step = 0, learningRate = 0.1, training = true, seed = 1 } = overrides;
  return { epoch, batch, step, learningRate, training, random: Random.fromSeed(seed).derive('step', epoch, batch) };
}

/** A test plugin that makes the loss of chosen optimizer steps NaN. */
export function nanLossAt(steps: ReadonlySet<number>): Plugin {
  return {
    name: 'nan-loss',
    register: (c) => provide(c, LossTransform, { name: 'nan-loss', total: (loss, ctx) => (steps.has(ctx.step) ? (tf.mul(loss, tf.scalar(Number.NaN)) as tf.Scalar) : loss) }),
  };
}

export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) throw new Error(`index ${i}: ${a} ≠ ${e} (tol ${tol})\nactual:   ${Array.from(actual).join(', ')}\nexpected: ${Array.from(expected).join(', ')}`);
  }
}

/** The reports of one kind, narrowed. */
export function reportsOf<K extends RegulariserReport['kind']>(reports: readonly RegulariserReport[], kind: K): Extract<RegulariserReport, { kind: K }>[] {
  return reports.filter((r): r is Extract<RegulariserReport, { kind: K }> => r.kind === kind);
}
