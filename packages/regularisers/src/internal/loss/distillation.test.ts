import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FitstreamInputError, fileSystem, ofType, resolveLoss, withSeed, type LossContext } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobs, contributions, cpu, expectClose, mlp, stepContext, trainer, values } from '../../test-support/fixtures.js';
import { distillation, distillationLoss } from './distillation.js';

beforeAll(cpu);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'regularisers-distillation-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Plain JS doubles: the expected numbers of the specification.
const softmax = (z: number[], t = 1): number[] => {
  const m = Math.max(...z.map((v) => v / t));
  const e = z.map((v) => Math.exp(v / t - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const kl = (p: number[], q: number[]): number => p.reduce((s, pi, i) => s + pi * (Math.log(pi) - Math.log(q[i]!)), 0);
const relClose = (actual: number[], expected: number[], rel = 1e-5) =>
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]!) / Math.abs(expected[i]!), `index ${i}: ${a} vs ${expected[i]}`).toBeLessThan(rel));

const teacherProbs = [[0.7, 0.2, 0.1], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]];
const studentProbs = [[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]];
const teacherLogits = [[2, 0.5, -1], [-0.3, 1.7, 0.2], [4, -2, 0]];
const studentLogits = [[1, 1, -0.5], [0.4, 0.1, -0.2], [-1, 3, 0.5]];
const sparse = () => tf.tensor1d([0, 1, 2], 'int32');
const oneHot = () => tf.oneHot(sparse(), 3).toFloat();

/** A 2-class student and a fixed 2-class teacher with its own, differently named weights. */
function pair(options: { teacherSeed?: number; dropout?: boolean; teacherActivation?: 'softmax' | 'linear' } = {}) {
  const student = mlp({ seed: 3 });
  const teacher = withSeed(options.teacherSeed ?? 9, () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [3], units: 16, activation: 'relu' }));
    if (options.dropout) m.add(tf.layers.dropout({ rate: 0.5 }));
    m.add(tf.layers.dense({ units: 2, activation: options.teacherActivation ?? 'softmax' }));
    return m;
  });
  return { student, teacher };
}

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('distillationLoss: α·hard + (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T))', () => {
  it('α = 1 is the plain cross-entropy, bit for bit (one-hot and sparse targets, probabilities and logits)', () => {
    const s = tf.tensor2d(studentProbs);
    const t = tf.tensor2d(teacherProbs);
    expect(values(distillationLoss(oneHot(), s, t, { alpha: 1 }))).toEqual(values(resolveLoss('categoricalCrossentropy').fn(oneHot(), s)));
    expect(values(distillationLoss(sparse(), s, t, { alpha: 1 }))).toEqual(values(resolveLoss('sparseCategoricalCrossentropy').fn(sparse(), s)));
    const z = tf.tensor2d(studentLogits);
    expect(values(distillationLoss(sparse(), z, t, { alpha: 1, studentOutputs: 'logits' }))).toEqual(
      values(resolveLoss({ name: 'sparseCategoricalCrossentropy', fromLogits: true }).fn(sparse(), z)),
    );
    // the teacher is not looked at: not even its shape
    expect(values(distillationLoss(sparse(), s, tf.zeros([1, 7]), { alpha: 1 }))).toEqual(values(resolveLoss('sparseCategoricalCrossentropy').fn(sparse(), s)));
  });

  it('T = 1, α = 0: Σ pₜ (log pₜ − log pₛ), hand-computed', () => {
    const expected = teacherProbs.map((p, i) => kl(p, studentProbs[i]!));
    // 0.7·ln(0.7/0.5) + 0.2·ln(0.2/0.3) + 0.1·ln(0.1/0.2) = 0.235531 − 0.081093 − 0.069315, and so on
    expect(expected.map((v) => +v.toFixed(6))).toEqual([0.085123, 0.226289, 0.381909]);
    relClose(values(distillationLoss(sparse(), tf.tensor2d(studentProbs), tf.tensor2d(teacherProbs), { temperature: 1, alpha: 0 })), expected);
    // from logits
    const fromLogits = teacherLogits.map((z, i) => kl(softmax(z), softmax(studentLogits[i]!)));
    const got = distillationLoss(sparse(), tf.tensor2d(studentLogits), tf.tensor2d(teacherLogits), { temperature: 1, alpha: 0, studentOutputs: 'logits', teacherOutputs: 'logits' });
    relClose(values(got), fromLogits);
  });

  it('T = 3: T²·KL of the softened distributions; probabilities soften as p^(1/T) / Σ p^(1/T)', () => {
    const expected = teacherLogits.map((z, i) => 9 * kl(softmax(z, 3), softmax(studentLogits[i]!, 3)));
    const opts = { temperature: 3, alpha: 0, studentOutputs: 'logits', teacherOutputs: 'logits' } as const;
    relClose(values(distillationLoss(sparse(), tf.tensor2d(studentLogits), tf.tensor2d(teacherLogits), opts)), expected);
    // the same models as softmax outputs
    const probs = (z: number[][]) => tf.tensor2d(z.map((r) => softmax(r)));
    relClose(values(distillationLoss(sparse(), probs(studentLogits), probs(teacherLogits), { temperature: 3, alpha: 0 })), expected);
    const soften = (p: number[]) => {
      const r = p.map((v) => v ** (1 / 3));
      const s = r.reduce((a, b) => a + b, 0);
      return r.map((v) => v / s);
    };
    relClose(values(distillationLoss(sparse(), tf.tensor2d(studentProbs), tf.tensor2d(teacherProbs), { temperature: 3, alpha: 0 })), teacherProbs.map((p, i) => 9 * kl(soften(p), soften(studentProbs[i]!))));
  });

  it('mixes the two terms with α; the teacher gets no gradient, the student’s logits get (1 − α)·T·(qₛ − qₜ)', () => {
    const y = sparse();
    const s = tf.tensor2d(studentLogits);
    const t = tf.tensor2d(teacherLogits);
    const opts = { temperature: 2, studentOutputs: 'logits', teacherOutputs: 'logits' } as const;
    const ce = values(resolveLoss({ name: 'sparseCategoricalCrossentropy', fromLogits: true }).fn(y, s));
    const soft = values(distillationLoss(y, s, t, { ...opts, alpha: 0 }));
    expectClose(values(distillationLoss(y, s, t, { ...opts, alpha: 0.3 })), ce.map((c, i) => 0.3 * c + 0.7 * soft[i]!), 1e-6);

    const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(distillationLoss(y, a, b, { ...opts, alpha: 0 })))([s, t]);
    expect(values(gt!).every((v) => v === 0)).toBe(true);
    const expected = studentLogits.flatMap((z, i) => softmax(z, 2).map((q, k) => 2 * (q - softmax(teacherLogits[i]!, 2)[k]!)));
    expectClose(values(gs!), expected, 1e-5);
  });

  it('refuses bad options and mismatched outputs, naming the argument', () => {
    const s = tf.tensor2d(studentProbs);
    for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => distillationLoss(sparse(), s, s, { temperature })).toThrow(/distillationLoss: temperature: must be a finite number > 0/);
    }
    for (const alpha of [-0.1, 1.5, Number.NaN]) expect(() => distillationLoss(sparse(), s, s, { alpha })).toThrow(/distillationLoss: alpha: must be a number in \[0, 1\]/);
    expect(() => distillationLoss(sparse(), s, s, { studentOutputs: 'softmax' as 'logits' })).toThrow(/studentOutputs: must be 'probabilities'.*or 'logits'/);
    expect(() => distillationLoss(sparse(), s, tf.ones([3, 4]))).toThrow(/teacherOut: outputs of shape \[3, 4\] do not match the student's \[3, 3\]/);
    expect(() => distillationLoss(sparse(), s, tf.ones([3, 4]))).toThrow(FitstreamInputError);
  });
});

describe('distillation(): the LossTransform plugin', () => {
  const data = () => {
    const { x, y, labels } = blobs(64, 3, 2, 21);
    return { x, y, sparseY: tf.tensor1d(labels, 'int32') };
  };

  it('α = 1 trains exactly as without the plugin (same seed): weights bit-identical, one-hot and sparse targets; the teacher is never run', async () => {
    const never = () => {
      throw new Error('the teacher ran');
    };
    for (const sparseTargets of [false, true]) {
      const run = async (withPlugin: boolean) => {
        const model = mlp({ seed: 4 });
        const loss = sparseTargets ? 'sparseCategoricalCrossentropy' : 'categoricalCrossentropy';
        const t = trainer(model, { optimizer: 'adam', loss });
        if (withPlugin) t.use(distillation({ teacher: never, alpha: 1, temperature: 5 }));
        const d = data();
        await t.fit({ x: d.x, y: sparseTargets ? d.sparseY : d.y }, { epochs: 3, batchSize: 16, handleSignals: false });
        return weightsOf(model);
      };
      expect(await run(true)).toEqual(await run(false));
    }
  });

  it('the transform computes α·loss + (1 − α)·T²·KL from the batch, the student output and the teacher on the same inputs; sample weights weight both terms', () => {
    const { student, teacher } = pair();
    const transform = contributions(distillation({ teacher, temperature: 3, alpha: 0.25 })).loss[0]!;
    const { x, y } = data();
    const yPred = student.apply(x) as tf.Tensor;
    const losses = resolveLoss('categoricalCrossentropy').fn(y, yPred);
    const ctx: LossContext = { ...stepContext(), batchData: { x, y }, output: undefined, outputs: ['output'], yTrue: y, yPred, sampleWeight: undefined, variables: student.trainableWeights.map((w) => w.read() as tf.Variable) };
    const out = transform.perSample!(losses, ctx);
    expectClose(values(out), values(distillationLoss(y, yPred, teacher.predict(x) as tf.Tensor, { temperature: 3, alpha: 0.25 })), 1e-6);
    // the data's sample weights (already in the hard loss, as core applies them) weight the distillation term too
    const w = tf.linspace(0, 2, 64) as tf.Tensor1D;
    const soft = values(distillationLoss(y, yPred, teacher.predict(x) as tf.Tensor, { temperature: 3, alpha: 0 }));
    const weighted = transform.perSample!(tf.mul(losses, w) as tf.Tensor1D, { ...ctx, batchData: { x, y, sampleWeight: w }, sampleWeight: w });
    const wv = values(w);
    expectClose(values(weighted), values(losses).map((l, i) => wv[i]! * (0.25 * l + 0.75 * soft[i]!)), 1e-5);
    // outside training (core never calls it there): the plain loss
    expect(transform.perSample!(losses, { ...ctx, training: false })).toBe(losses);
  });

  it('keeps the teacher off the gradient tape: the step records as many tape nodes for a 12-layer teacher as for a 1-layer one', () => {
    const { x, y } = data();
    const student = mlp({ seed: 3 });
    const variables = student.trainableWeights.map((w) => w.read() as tf.Variable);
    // The engine's tape is internal to tfjs; reading its length is the only direct view of what a step records.
    const tapeLength = () => (tf.engine().state as unknown as { activeTape: unknown[] }).activeTape.length;
    const teacherOf = (hidden: number) =>
      withSeed(5, () => {
        const m = tf.sequential();
        m.add(tf.layers.dense({ inputShape: [3], units: 8, activation: 'relu' }));
        for (let i = 1; i < hidden; i++) m.add(tf.layers.dense({ units: 8, activation: 'relu' }));
        m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
        return m;
      });
    const recorded = (teacher: tf.LayersModel | ((x: tf.Tensor) => tf.Tensor)) => {
      const transform = contributions(distillation({ teacher, temperature: 2, alpha: 0.5 })).loss[0]!;
      let nodes = 0;
      const { value, grads } = tf.variableGrads(() => {
        const yPred = student.apply(x) as tf.Tensor;
        const losses = resolveLoss('categoricalCrossentropy').fn(y, yPred);
        const before = tapeLength();
        const out = transform.perSample!(losses, { ...stepContext(), batchData: { x, y }, output: undefined, outputs: ['output'], yTrue: y, yPred, sampleWeight: undefined, variables });
        nodes = tapeLength() - before;
        return tf.mean(out) as tf.Scalar;
      }, variables);
      const g = Object.values(grads).map((t) => Array.from(t.dataSync()));
      tf.dispose([value, ...Object.values(grads)]);
      return { nodes, grads: g };
    };
    const shallow = teacherOf(1);
    const deep = teacherOf(12);
    const a = recorded(shallow);
    const b = recorded(deep);
    expect(b.nodes).toBe(a.nodes);
    // The control: run directly inside a step, a teacher records a node per op (matMul, bias add, relu…), so the two
    // teachers would differ by at least 3 nodes for each of the 11 extra layers.
    const direct = (teacher: tf.LayersModel) => {
      let n = 0;
      const control = tf.variableGrads(() => {
        const start = tapeLength();
        const out = teacher.apply(x, { training: false }) as tf.Tensor;
        n = tapeLength() - start;
        return tf.add(tf.mul(tf.sum(out), 0), tf.sum(variables[0]!)) as tf.Scalar;
      }, variables.slice(0, 1));
      tf.dispose([control.value, ...Object.values(control.grads)]);
      return n;
    };
    expect(direct(deep) - direct(shallow)).toBeGreaterThanOrEqual(3 * 11);
    // Same gradients as the pure loss with the teacher's outputs precomputed: nothing reaches the teacher.
    const { grads: expected } = (() => {
      const probs = deep.predict(x) as tf.Tensor;
      const { value, grads } = tf.variableGrads(() => {
        const yPred = student.apply(x) as tf.Tensor;
        return tf.mean(distillationLoss(y, yPred, probs, { temperature: 2, alpha: 0.5 })) as tf.Scalar;
      }, variables);
      const g = Object.values(grads).map((t) => Array.from(t.dataSync()));
      tf.dispose([value, probs, ...Object.values(grads)]);
      return { grads: g };
    })();
    b.grads.forEach((g, i) => expectClose(g, expected[i]!, 1e-6));
    // A teacher function runs off the tape too.
    expect(recorded((input: tf.Tensor) => deep.predict(input) as tf.Tensor).nodes).toBe(a.nodes);
    tf.dispose([x, y]);
    shallow.dispose();
    deep.dispose();
    student.dispose();
  });

  it('runs the teacher in inference mode: a teacher with Dropout(0.5) gives identical results on every call', () => {
    const { student, teacher } = pair({ dropout: true });
    const { x, y } = data();
    const noisy = values(tf.sub(teacher.apply(x, { training: true }) as tf.Tensor, teacher.apply(x, { training: true }) as tf.Tensor));
    expect(noisy.some((v) => v !== 0)).toBe(true); // dropout would show
    const transform = contributions(distillation({ teacher, alpha: 0 })).loss[0]!;
    const yPred = student.apply(x) as tf.Tensor;
    const losses = resolveLoss('categoricalCrossentropy').fn(y, yPred);
    const ctx: LossContext = { ...stepContext(), batchData: { x, y }, output: undefined, outputs: ['output'], yTrue: y, yPred, sampleWeight: undefined, variables: student.trainableWeights.map((w) => w.read() as tf.Variable) };
    const first = values(transform.perSample!(losses, ctx));
    expect(values(transform.perSample!(losses, { ...ctx, batch: 1, random: stepContext({ batch: 1 }).random }))).toEqual(first);
    expectClose(first, values(distillationLoss(y, yPred, teacher.predict(x) as tf.Tensor, { alpha: 0 })), 1e-6);
  });

  it('trains only the student: the teacher (LayersModel with dropout, or a function over its own variable) is unchanged bit for bit', async () => {
    const { student, teacher } = pair({ dropout: true });
    const before = weightsOf(teacher);
    const studentBefore = weightsOf(student);
    const d = data();
    const t = trainer(student, { optimizer: 'adam' }).use(distillation({ teacher, temperature: 4, alpha: 0.2 }));
    const { history } = await t.fit({ x: d.x, y: d.y }, { epochs: 3, batchSize: 16, handleSignals: false });
    expect(weightsOf(teacher)).toEqual(before);
    expect(weightsOf(student)).not.toEqual(studentBefore);
    expect(history.logs.loss!.at(-1)).toBeLessThan(history.logs.loss![0]!);

    const w = tf.variable(tf.randomNormal([3, 2], 0, 1, 'float32', 5), true, 'function-teacher/w');
    const wBefore = values(w);
    const fnTeacher = (x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, w);
    await trainer(mlp({ seed: 8 })).use(distillation({ teacher: fnTeacher, teacherOutputs: 'logits', alpha: 0 })).fit({ x: d.x, y: d.y }, { epochs: 2, batchSize: 16, handleSignals: false });
    expect(values(w)).toEqual(wBefore);
  });

  it('loads the teacher from a model.json written with fileSystem: same training as the teacher in memory, disposed after the fit', async () => {
    const { teacher } = pair({ teacherSeed: 12 });
    const d = data();
    await trainer(teacher, { optimizer: 'adam' }).fit({ x: d.x, y: d.y }, { epochs: 5, batchSize: 16, handleSignals: false });
    const saved = join(dir, 'teacher');
    await teacher.save(fileSystem(saved));

    const run = async (source: tf.LayersModel | string) => {
      const student = mlp({ seed: 6 });
      const t = trainer(student, { optimizer: 'adam' }).use(distillation({ teacher: source, temperature: 2, alpha: 0.5 }));
      const { history } = await t.fit({ x: d.x, y: d.y }, { epochs: 2, batchSize: 16, handleSignals: false });
      const result = { history: history.logs.loss, weights: weightsOf(student) };
      t.dispose();
      student.dispose();
      return result;
    };
    const inMemory = await run(teacher);
    const tensors = tf.memory().numTensors;
    expect(await run(saved)).toEqual(inMemory);
    expect(await run(join(saved, 'model.json'))).toEqual(inMemory);
    expect(tf.memory().numTensors).toBe(tensors); // the loaded teachers were disposed with their fits
  });

  it('refuses a wrong teacher with errors that name it and the fix', async () => {
    const d = data();
    const student = () => mlp({ seed: 2 });
    const threeWay = withSeed(1, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 3, activation: 'softmax' })] }));
    await expect(trainer(student()).use(distillation({ teacher: threeWay })).fit({ x: d.x, y: d.y }, { epochs: 1, handleSignals: false })).rejects.toThrow(
      /distillation: teacher: outputs of shape \[32, 3\] do not match the student's \[32, 2\]/,
    );
    await expect(trainer(student()).use(distillation({ teacher: join(dir, 'nope') })).fit({ x: d.x, y: d.y }, { epochs: 1, handleSignals: false })).rejects.toThrow(
      /distillation: teacher: cannot load a tfjs layers model from ".*nope".*model\.json.*fileSystem\(dir\)/s,
    );
    const s = student();
    await expect(trainer(s).use(distillation({ teacher: s })).fit({ x: d.x, y: d.y }, { epochs: 1, handleSignals: false })).rejects.toThrow(/teacher: shares weights with the model being trained \(hidden\/kernel/);

    const { teacher: linear } = pair({ teacherActivation: 'linear' });
    expect(() => distillation({ teacher: linear })).toThrow(/distillation: teacherOutputs: is 'probabilities' but the teacher's last layer ".*" is linear: it outputs logits; set teacherOutputs: 'logits'/);
    expect(() => distillation({ teacher: pair().teacher, teacherOutputs: 'logits' })).toThrow(/applies a softmax.*set teacherOutputs: 'probabilities'/);
    expect(() => distillation({ teacher: linear, temperature: 0 })).toThrow(/distillation: temperature: must be a finite number > 0 .*got 0\./);
    expect(() => distillation({ teacher: linear, alpha: 2 })).toThrow(/distillation: alpha: must be a number in \[0, 1\].*got 2/);
    expect(() => distillation({ teacher: 42 as unknown as string })).toThrow(/distillation: teacher: must be a tf.LayersModel, a model.json path or directory, or a function/);
    expect(() => distillation({ teacher: '' })).toThrow(/teacher: is an empty path/);
    expect(() => distillation(undefined as unknown as { teacher: string })).toThrow(/options are required/);
  });

  it('leaks no tensor: tf.memory().numTensors is flat across epochs (in-memory and loaded teachers)', async () => {
    const { student, teacher } = pair({ dropout: true });
    const saved = join(dir, 'leak-teacher');
    await teacher.save(fileSystem(saved));
    for (const source of [teacher, saved]) {
      const t = trainer(student, { optimizer: 'adam' }).use(distillation({ teacher: source, temperature: 4, report: { every: 2 } }));
      const counts: number[] = [];
      t.events$.pipe(ofType('epoch:end')).subscribe(() => counts.push(tf.memory().numTensors));
      const d = data();
      await t.fit({ x: d.x, y: d.y }, { epochs: 5, batchSize: 16, validation: d, handleSignals: false });
      expect(new Set(counts.slice(1)).size).toBe(1);
      t.dispose();
    }
  });

  it('reports the mean hard and distillation terms lazily; the training loss is their α-mix, val_loss the plain loss', async () => {
    const { student, teacher } = pair();
    const alpha = 0.3;
    const t = trainer(student, { optimizer: 'adam' }).use(distillation({ teacher, temperature: 3, alpha }));
    const reported: { hardLoss: number; distillationLoss: number }[] = [];
    t.events$.pipe(ofType('regulariser:report')).subscribe((e) => {
      expect(e).toMatchObject({ kind: 'distillation', name: 'distillation', alpha, temperature: 3, steps: 1 });
      if (e.kind === 'distillation') reported.push({ ...e.values }); // read now: values live until the next report
    });
    const stepLosses: number[] = [];
    t.events$.pipe(ofType('step:end')).subscribe((e) => stepLosses.push(e.metrics.loss));
    const d = data();
    const { history } = await t.fit({ x: d.x, y: d.y }, { epochs: 2, batchSize: 16, validation: d, handleSignals: false });
    expect(reported).toHaveLength(8);
    reported.forEach((r, i) => expect(r.hardLoss * alpha + r.distillationLoss * (1 - alpha)).toBeCloseTo(stepLosses[i]!, 6));
    expect(reported.every((r) => r.distillationLoss > 0)).toBe(true);
    // val_loss is the plain cross-entropy of the final model (no teacher term)
    const plain = tf.mean(resolveLoss('categoricalCrossentropy').fn(d.y, student.predict(d.x) as tf.Tensor)).dataSync()[0]!;
    expect(history.logs.val_loss!.at(-1)).toBeCloseTo(plain, 5);
  });
});
