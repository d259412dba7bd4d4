import * as tf from '@tensorflow/tfjs';
import {
  FitstreamInputError,
  LossTransform,
  provide,
  resolveLoss,
  type Batch,
  type LossContext,
  type LossSpec,
  type Plugin,
} from '@fitstream/core';
import type * as Transfer from '@fitstream/transfer';
import { assertNumber, requireOptions } from '../assert.js';
import { DeviceAccumulator, reportAccumulated, resolveReport, type ReportSetting } from '../report/reporter.js';
import { EPSILON, perSample } from './cross-entropy.js';
import { actsOn, checkOutputChoice, outputNamesOf, outputOption, withOutput, type OutputChoice } from './output-choice.js';

/** What a model's last layer gives: normalised class probabilities (a softmax) or unnormalised logits. */
export type DistillationOutputs = 'probabilities' | 'logits';

/**
 * A teacher as a function of the (transformed) batch inputs, returning its outputs `[batch, …, K]`; multi-input models
 * receive the array of inputs. Use it for ensembles, graph models (`(x) => graphModel.predict(x) as tf.Tensor`) or
 * anything that is not a `tf.LayersModel`. It must not train anything: its result is taken as a constant.
 *
 * @example
 * ```ts
 * // the mean of two teachers' probabilities
 * const ensemble: TeacherFunction = (x: tf.Tensor) => tf.div(tf.add(a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor), 2);
 * trainer.use(distillation({ teacher: ensemble }));
 * ```
 */
export type TeacherFunction = ((x: tf.Tensor) => tf.Tensor) | ((x: tf.Tensor[]) => tf.Tensor);

/**
 * The teacher: a `tf.LayersModel` (run with `training: false`), a path to a tfjs layers `model.json` or its directory
 * (loaded with `loadPretrained` from `@fitstream/transfer`, an optional peer, when each fit starts; disposed when it
 * ends), or a {@link TeacherFunction}.
 */
export type Teacher = tf.LayersModel | TeacherFunction | string;

/** Options of {@link distillationLoss}; {@link DistillationOptions} extends them. */
export interface DistillationLossOptions {
  /**
   * The softmax temperature T > 0 applied to both models' logits (default 4, within Hinton et al.'s 2–20; the Keras
   * example uses 10 with logits). Higher T softens the teacher's distribution and weighs its small probabilities more.
   * With probability outputs, which are floored at 1e-7, a very high T also lifts the floored classes: prefer logits
   * there.
   */
  readonly temperature?: number;
  /**
   * α ∈ [0, 1], the weight of the hard-label loss; the distillation term gets `1 − α` (default 0.1, as the Keras
   * example). α = 1 is the plain hard loss (the teacher is not run); α = 0 learns from the teacher alone.
   */
  readonly alpha?: number;
  /** What the student's last layer outputs (default `'probabilities'`: a softmax, the usual tfjs classifier). */
  readonly studentOutputs?: DistillationOutputs;
  /** What the teacher outputs (default `'probabilities'`). */
  readonly teacherOutputs?: DistillationOutputs;
}

/** Options of {@link distillation}. */
export interface DistillationOptions extends DistillationLossOptions {
  /** The trained model to learn from; see {@link Teacher}. */
  readonly teacher: Teacher;
  /**
   * The student's output to distil into, by name, for a student with several outputs: the teacher's single output is
   * matched with that output's predictions and only its loss (`<output>_loss`) changes. Required when the student has
   * several outputs; optional otherwise (then it must name the one output).
   */
  readonly output?: string;
  /** The plugin's name (default `'distillation'`, or `'distillation:<output>'` with `output`). */
  readonly name?: string;
  /** `regulariser:report` (kind `'distillation'`): mean `hardLoss` and `distillationLoss` since the previous report; lazy. */
  readonly report?: ReportSetting;
}

interface Resolved {
  readonly temperature: number;
  readonly alpha: number;
  readonly studentOutputs: DistillationOutputs;
  readonly teacherOutputs: DistillationOutputs;
}

function outputsOption(value: unknown, argument: string): DistillationOutputs {
  const v = value ?? 'probabilities';
  if (v !== 'probabilities' && v !== 'logits') {
    throw new FitstreamInputError(argument, `must be 'probabilities' (a softmax last layer) or 'logits' (a linear last layer), got ${String(value)}.`);
  }
  return v;
}

function resolveOptions(options: DistillationLossOptions, where: string): Resolved {
  return {
    temperature: assertNumber(options.temperature ?? 4, `${where}: temperature`, (v) => v > 0, 'a finite number > 0 (e.g. 2 to 20; 1 is the plain softmax)'),
    alpha: assertNumber(options.alpha ?? 0.1, `${where}: alpha`, (v) => v >= 0 && v <= 1, 'a number in [0, 1] (the weight of the hard-label loss)'),
    studentOutputs: outputsOption(options.studentOutputs, `${where}: studentOutputs`),
    teacherOutputs: outputsOption(options.teacherOutputs, `${where}: teacherOutputs`),
  };
}

/**
 * Logits of a softmax output. Softmax is shift-invariant, so `log p` serves as logits: `softmax(log p / T) ∝ p^(1/T)`.
 * Probabilities are floored at 1e-7 (Keras' epsilon, as the package's cross-entropies) so that the log and its
 * gradient stay finite; give logits to keep ratios below 1e-7 (they matter at high temperatures).
 */
function asLogits(out: tf.Tensor, kind: DistillationOutputs): tf.Tensor {
  return kind === 'logits' ? out : tf.log(tf.clipByValue(out, EPSILON, 1));
}

/** Identity whose gradient is zero: the teacher's outputs are a constant of the student's loss. */
const stopGradient = tf.customGrad((x) => {
  const t = x as tf.Tensor;
  return { value: tf.clone(t), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/**
 * Runs the teacher as the forward function of one custom-gradient op. tfjs records nothing on the gradient tape while
 * a kernel runs (its kernel depth is above zero), and a custom op's forward runs as a kernel: so the teacher's own ops,
 * and the activations the tape would keep for them until the step's backward pass, are never recorded — only this one
 * op is, and no gradient flows through it (its inputs are the batch, not trained variables; its gradient is zero).
 * tfjs has no public way to pause the tape; this uses only the `tf.customGrad` contract.
 */
function runOffTape(x: Batch['x'], run: (x: Batch['x']) => tf.Tensor): tf.Tensor {
  const inputs = x instanceof tf.Tensor ? [x] : [...x];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const forwardInputs = args.slice(0, inputs.length) as tf.Tensor[];
    return {
      value: run(x instanceof tf.Tensor ? forwardInputs[0]! : forwardInputs),
      gradFunc: () => forwardInputs.map((t) => tf.zerosLike(t)),
    };
  });
  return op(...inputs);
}

function assertSameShape(student: tf.Tensor, teacher: tf.Tensor, where: string): void {
  if (!tf.util.arraysEqual(student.shape, teacher.shape)) {
    throw new FitstreamInputError(
      where,
      `outputs of shape [${teacher.shape.join(', ')}] do not match the student's [${student.shape.join(', ')}]; the teacher must predict the same classes for the same samples (a ${student.shape.at(-1)}-way output).`,
    );
  }
  if (student.rank < 2 || student.shape[student.rank - 1]! < 2) {
    throw new FitstreamInputError(where, `outputs of shape [${student.shape.join(', ')}] are not class scores [batch, K] with K ≥ 2; distillation matches softmax distributions over the last axis.`);
  }
}

/**
 * The distillation term per sample, `T²·KL(softmax(t/T) ‖ softmax(s/T))` over the last axis (averaged over any axes
 * between the batch and the classes). The teacher's side carries no gradient.
 */
function softTerm(student: tf.Tensor, teacher: tf.Tensor, o: Resolved): tf.Tensor1D {
  return tf.tidy(() => {
    const t = o.temperature;
    const logQt = tf.logSoftmax(tf.div(asLogits(stopGradient(teacher), o.teacherOutputs), t));
    const logQs = tf.logSoftmax(tf.div(asLogits(student, o.studentOutputs), t));
    const kl = tf.sum(tf.mul(tf.exp(logQt), tf.sub(logQt, logQs)), -1);
    return tf.mul(perSample(kl), t * t) as tf.Tensor1D;
  });
}

/** `α·hard + (1 − α)·soft`; the exact `hard` at α = 1 and `soft` at α = 0. */
function combine(hard: tf.Tensor1D, soft: tf.Tensor1D, alpha: number): tf.Tensor1D {
  if (alpha === 0) return soft;
  return tf.tidy(() => tf.add(tf.mul(hard, alpha), tf.mul(soft, 1 - alpha)) as tf.Tensor1D);
}

/**
 * Knowledge-distillation loss per sample (Hinton et al. 2015; the Keras "Knowledge Distillation" example):
 * `α·hard(y, student) + (1 − α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))`. `hard` is `options.loss` (any core
 * `LossSpec`; default categorical cross-entropy for one-hot targets and sparse categorical cross-entropy otherwise,
 * from logits when `studentOutputs` is `'logits'`). The T² keeps the soft term's gradients on the scale of the hard
 * term's as T changes. The teacher outputs are a constant (no gradient). α = 1 returns the hard loss exactly.
 *
 * @example
 * ```ts
 * const student = tf.tensor2d([[0.7, 0.2, 0.1]]);
 * const teacher = tf.tensor2d([[0.6, 0.3, 0.1]]);
 * distillationLoss(tf.tensor1d([0], 'int32'), student, teacher, { temperature: 1, alpha: 0 }); // Σ pₜ (log pₜ − log pₛ)
 * ```
 */
export function distillationLoss(
  yTrue: tf.Tensor,
  studentOut: tf.Tensor,
  teacherOut: tf.Tensor,
  options: DistillationLossOptions & { readonly loss?: LossSpec } = {},
): tf.Tensor1D {
  if (options == null || typeof options !== 'object') throw new FitstreamInputError('distillationLoss', 'options must be an object, e.g. { temperature: 4, alpha: 0.1 }.');
  const o = resolveOptions(options, 'distillationLoss');
  return tf.tidy(() => {
    const fromLogits = o.studentOutputs === 'logits';
    const spec: LossSpec = options.loss ?? { name: tf.util.arraysEqual(yTrue.shape, studentOut.shape) ? 'categoricalCrossentropy' : 'sparseCategoricalCrossentropy', fromLogits };
    const hard = resolveLoss(spec).fn(yTrue, studentOut);
    if (o.alpha === 1) return hard;
    assertSameShape(studentOut, teacherOut, 'distillationLoss: teacherOut');
    return combine(hard, softTerm(studentOut, teacherOut, o), o.alpha);
  });
}

/** The last layer's kind, when its configuration says (a softmax, or a linear layer); otherwise `undefined`. */
function declaredOutputs(model: tf.LayersModel): DistillationOutputs | undefined {
  const layer = model.outputs[0]?.sourceLayer;
  if (!layer) return undefined;
  if (layer.getClassName() === 'Softmax') return 'probabilities';
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  if (activation === 'softmax') return 'probabilities';
  if (activation === 'linear') return 'logits';
  return undefined;
}

/** Refuses a multi-output teacher and a `teacherOutputs` that contradicts the teacher's last layer. */
function checkTeacherModel(model: tf.LayersModel, expected: DistillationOutputs, where: string): void {
  if (model.outputs.length !== 1) throw new FitstreamInputError(`${where}: teacher`, `model "${model.name}" has ${model.outputs.length} outputs; pass a single-output model, or a function (x) => the output to distil from.`);
  const declared = declaredOutputs(model);
  if (declared !== undefined && declared !== expected) {
    const layer = model.outputs[0]!.sourceLayer.name;
    throw new FitstreamInputError(
      `${where}: teacherOutputs`,
      `is '${expected}' but the teacher's last layer "${layer}" ${declared === 'logits' ? 'is linear: it outputs logits' : 'applies a softmax: it outputs probabilities'}; set teacherOutputs: '${declared}'.`,
    );
  }
}

async function loadTeacher(path: string, expected: DistillationOutputs, where: string): Promise<tf.LayersModel> {
  // @fitstream/transfer is an optional peer: only a teacher given as a path needs its loader (local files without
  // tfjs-node, Keras-converted models, a clear error for graph models), so it is imported here, not at the top.
  let transfer: typeof Transfer;
  try {
    transfer = await import('@fitstream/transfer');
  } catch {
    throw new FitstreamInputError(`${where}: teacher`, `is a path ("${path}"), which needs @fitstream/transfer to load it: npm install @fitstream/transfer, or pass a tf.LayersModel.`);
  }
  let model: tf.LayersModel;
  try {
    model = await transfer.loadPretrained(path, { frozen: true });
  } catch (error) {
    throw new FitstreamInputError(
      `${where}: teacher`,
      `cannot load a tfjs layers model from "${path}" (${(error as Error).message}). Pass the directory or model.json written by model.save(fileSystem(dir)) or by tensorflowjs_converter, or a tf.LayersModel.`,
    );
  }
  try {
    checkTeacherModel(model, expected, where);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** Names of the teacher's weights that the trainer trains (a teacher must stay fixed). */
function sharedWeights(model: tf.LayersModel, trained: readonly tf.Variable[]): string[] {
  const set = new Set<tf.Variable>(trained);
  return model.weights.filter((w) => set.has(w.read() as tf.Variable)).map((w) => w.originalName);
}

/**
 * Knowledge distillation (Hinton et al. 2015) as a loss transform: each training batch's per-sample losses become
 * `α·loss + (1 − α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))`, where `loss` is the trainer's configured loss and
 * the teacher sees the same (transformed) inputs as the student, in inference mode (dropout off, batch-norm moving
 * statistics) and without gradients: it is never trained, and its tensors live only for the step. Defaults: T = 4,
 * α = 0.1 (the Keras example's α; its T = 10 suits logits). With α = 1 the teacher is not run and the loss is the
 * plain loss, bit for bit.
 *
 * Validation and `trainer.evaluate` run no loss transforms, so `val_loss` is the plain hard loss — comparable with an
 * undistilled model — while the training `loss` metric is the distillation objective. The data's `sampleWeight`
 * multiplies the distillation term as core already did the hard loss; a loss transform `.use`d before this one (e.g.
 * `classWeights`) shapes only the hard term, one after it the sum. The teacher's output shape must equal the student's
 * (checked every batch, host-side); a `LayersModel` teacher whose last layer is a softmax or linear contradicting
 * `teacherOutputs`, or that shares trained weights with the student, is refused. Reports `regulariser:report` (kind
 * `'distillation'`): mean `hardLoss` and `distillationLoss` (`T²·KL`) since the previous report, read lazily. A
 * student with several outputs needs `output`, the output the (single-output) teacher's predictions are matched with;
 * without it the plugin refuses the fit with a `FitstreamInputError` listing the outputs.
 *
 * @example
 * ```ts
 * const teacher = await tf.loadLayersModel(fileSystem('models/mnist-teacher'));
 * createTrainer({ model: student, optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: 1 })
 *   .use(distillation({ teacher, temperature: 4, alpha: 0.1 }));
 * // or let the plugin load (and dispose) it: distillation({ teacher: 'models/mnist-teacher' })
 * ```
 */
export function distillation(options: DistillationOptions): Plugin {
  requireOptions(options, 'distillation', '{ teacher, temperature: 4, alpha: 0.1 }');
  const choice: OutputChoice = { plugin: 'distillation', output: outputOption(options.output, 'distillation'), scope: 'one', verb: 'distil into' };
  const name = options.name ?? withOutput('distillation', choice.output);
  const o = resolveOptions(options, name);
  const report = resolveReport(options.report, `${name}: report`);
  const source = options.teacher;
  if (source instanceof tf.LayersModel) checkTeacherModel(source, o.teacherOutputs, name);
  else if (typeof source === 'string') {
    if (source.trim() === '') throw new FitstreamInputError(`${name}: teacher`, 'is an empty path; pass a tf.LayersModel, a model.json path or directory, or a function (x) => outputs.');
  } else if (typeof source !== 'function') {
    throw new FitstreamInputError(`${name}: teacher`, `must be a tf.LayersModel, a model.json path or directory, or a function (x) => outputs; got ${source === null ? 'null' : typeof source}.`);
  }
  const loaded: { model: tf.LayersModel | undefined } = { model: undefined };
  let checkedShared = false;
  const accumulator = new DeviceAccumulator(['hardLoss', 'distillationLoss'] as const, ['mean', 'mean']);

  const teacherModel = (): tf.LayersModel | undefined => {
    if (source instanceof tf.LayersModel) return source;
    if (typeof source !== 'string') return undefined;
    if (!loaded.model) throw new FitstreamInputError(`${name}: teacher`, `"${source}" is not loaded: the plugin loads it when a fit starts (trainer.fit); use the plugin through trainer.use, or pass a loaded tf.LayersModel.`);
    return loaded.model;
  };

  const runTeacher = (x: Batch['x'], ctx: LossContext): tf.Tensor => {
    const model = teacherModel();
    if (!model) {
      const out = (source as (x: Batch['x']) => unknown)(x);
      if (!(out instanceof tf.Tensor)) throw new FitstreamInputError(`${name}: teacher`, `the teacher function returned ${Array.isArray(out) ? 'an array' : typeof out}; it must return one tensor of the student's output shape.`);
      return out as tf.Tensor;
    }
    if (!checkedShared) {
      const shared = sharedWeights(model, ctx.variables);
      if (shared.length > 0) {
        throw new FitstreamInputError(`${name}: teacher`, `shares weights with the model being trained (${shared.slice(0, 3).join(', ')}${shared.length > 3 ? ', …' : ''}); a teacher must stay fixed — pass a separate copy (save it and load it back).`);
      }
      checkedShared = true;
    }
    const out = model.apply(x as tf.Tensor | tf.Tensor[], { training: false });
    if (!(out instanceof tf.Tensor)) throw new FitstreamInputError(`${name}: teacher`, `model "${model.name}" did not return one tensor; pass a single-output model.`);
    return out;
  };

  // Looks like weightPenalty's in weight-penalty.ts (every plugin is { name, register: provide(…), attach }); stays apart: per-sample teacher loss vs a total-loss term.
  return {
    name,
    register: (c) =>
      provide(c, LossTransform, {
        name,
        perSample: (losses, ctx) => {
          // Core runs no loss transforms outside training; the guard keeps the contract if one is ever called there.
          if (!ctx.training || !actsOn(choice, ctx)) return losses;
          if (o.alpha === 1) {
            if (report.every > 0) accumulator.record([tf.mean(losses), tf.scalar(Number.NaN)]);
            return losses;
          }
          const teacher = runOffTape(ctx.batchData.x, (x) => runTeacher(x, ctx));
          assertSameShape(ctx.yPred, teacher, `${name}: teacher`);
          let soft = softTerm(ctx.yPred, teacher, o);
          const weight = ctx.sampleWeight;
          if (weight) soft = tf.mul(soft, weight) as tf.Tensor1D;
          if (report.every > 0) accumulator.record([tf.mean(losses), tf.mean(soft)]);
          return combine(losses, soft, o.alpha);
        },
      }),
    attach: (events$, control) => {
      // Refused when the fit starts, before any step (and before a teacher is loaded), rather than inside the first one.
      checkOutputChoice(choice, outputNamesOf(control.model));
      checkedShared = false;
      const subscription = reportAccumulated(events$, control, accumulator, {
        name,
        report,
        body: (values) => ({ kind: 'distillation', alpha: o.alpha, temperature: o.temperature, values }),
      });
      if (typeof source === 'string' && o.alpha !== 1) {
        // The model is this fit's: loaded before the first step (control.await holds the loop), disposed at its end.
        const fit = { ended: false };
        control.await(
          loadTeacher(source, o.teacherOutputs, name).then((model) => {
            if (fit.ended) model.dispose();
            else loaded.model = model;
          }),
        );
        subscription.add(() => {
          fit.ended = true;
          loaded.model?.dispose();
          loaded.model = undefined;
        });
      }
      return subscription;
    },
  };
}
