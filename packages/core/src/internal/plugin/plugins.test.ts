import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BatchTransform,
  createTrainer,
  EpochMetricsReducer,
  GradientTransform,
  injectableWith,
  LearningRateBase,
  LearningRateModifier,
  LossTransform,
  ofType,
  PluginConflictError,
  IndexSampler,
  provide,
  resolveAll,
  resolve,
  selectBackend,
  StateProvider,
  token,
  WeightConstraint,
  type Plugin,
} from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const base = () => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
const fit = { epochs: 1, batchSize: 8, handleSignals: false } as const;

describe('plugin points', () => {
  it('runs batch transforms on training batches only, unless asked for validation too', async () => {
    const seen: boolean[] = [];
    const both: boolean[] = [];
    const trainer = base()
      .use({ name: 'spy', register: (c) => provide(c, BatchTransform, { name: 'spy', transform: (b, ctx) => (seen.push(ctx.training), b) }) })
      .use({ name: 'spy-both', register: (c) => provide(c, BatchTransform, { name: 'spy-both', applyTo: 'train-and-validation', transform: (b, ctx) => (both.push(ctx.training), b) }) });
    const data = classificationData(16, 3, 2);
    await trainer.fit(data, { ...fit, validation: data });
    expect(seen).toEqual([true, true]);
    expect(both).toEqual([true, true, false, false]); // 2 train + 2 validation batches of 8
  });

  it('lets loss transforms reshape per-sample losses and add penalties', async () => {
    const data = classificationData(16, 3, 2);
    const losses = async (plugin?: Plugin) => {
      const trainer = base();
      if (plugin) trainer.use(plugin);
      const out: number[] = [];
      trainer.events$.pipe(ofType('batch:end')).subscribe((e) => out.push(e.metrics.loss));
      await trainer.fit(data, { ...fit, shuffle: false, epochs: 1, batchSize: 16 });
      return out[0]!;
    };
    const plain = await losses();
    const doubled = await losses({ name: 'double', register: (c) => provide(c, LossTransform, { name: 'double', perSample: (l) => tf.mul(l, 2) }) });
    const penalised = await losses({ name: 'plus-one', register: (c) => provide(c, LossTransform, { name: 'plus-one', total: (l) => tf.add(l, 1) }) });
    expect(doubled).toBeCloseTo(plain * 2, 5);
    expect(penalised).toBeCloseTo(plain + 1, 5);
  });

  it('runs gradient transforms in stage order; null skips the update', async () => {
    const order: string[] = [];
    const gt = (name: string, stage?: 'pre-reduce' | 'reduce' | 'post-reduce'): Plugin => ({
      name,
      register: (c) => provide(c, GradientTransform, { name, ...(stage ? { stage } : {}), transform: (g) => (order.push(name), g) }),
    });
    await base().use(gt('clip')).use(gt('reduce', 'reduce')).use(gt('compress', 'pre-reduce')).fit(classificationData(8, 3, 2), fit);
    expect(order).toEqual(['compress', 'reduce', 'clip']);

    const model = mlp(3, 4, 2);
    const before = weightsOf(model);
    const skipper = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    skipper.use({ name: 'skip-all', register: (c) => provide(c, GradientTransform, { name: 'skip-all', transform: () => null }) });
    await skipper.fit(classificationData(16, 3, 2), fit);
    expect(weightsOf(model)).toEqual(before);
  });

  it('tells the transforms after a skip that the update was skipped (a reducer still joins its collective)', async () => {
    const calls: string[] = [];
    const trainer = base();
    trainer.use({ name: 'guard', register: (c) => provide(c, GradientTransform, { name: 'guard', stage: 'pre-reduce', transform: (g, ctx) => (ctx.step === 1 ? null : g) }) });
    trainer.use({
      name: 'reducer',
      register: (c) =>
        provide(c, GradientTransform, { name: 'reducer', stage: 'reduce', transform: (g, ctx) => (calls.push(`transform ${ctx.step}`), g), skipped: (ctx) => void calls.push(`skipped ${ctx.step}`) }),
    });
    await trainer.fit(classificationData(24, 3, 2), { ...fit, batchSize: 8 });
    expect(calls).toEqual(['transform 0', 'skipped 1', 'transform 2']);
  });

  it('applies weight constraints after every update', async () => {
    const model = mlp(3, 4, 2);
    const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.5 }, loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    trainer.use({
      name: 'non-negative',
      register: (c) => provide(c, WeightConstraint, { name: 'non-negative', apply: (vars) => vars.forEach((v) => v.assign(tf.relu(v))) }),
    });
    await trainer.fit(classificationData(32, 3, 2), fit);
    for (const w of weightsOf(model)) expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
  });

  it('gives every step hook a random stream unique to (seed, epoch, batch)', async () => {
    const draws: number[] = [];
    const plugin: Plugin = { name: 'draw', register: (c) => provide(c, BatchTransform, { name: 'draw', transform: (b, ctx) => (draws.push(ctx.random.nextUint32()), b) }) };
    await base().use(plugin).fit(classificationData(16, 3, 2), fit);
    const first = [...draws];
    draws.length = 0;
    await base().use(plugin).fit(classificationData(16, 3, 2), fit);
    expect(draws).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
  });
});

describe('index samplers', () => {
  const reversePairs: Plugin = {
    name: 'reverse-pairs',
    register: (c) =>
      provide(c, IndexSampler, {
        name: 'reverse-pairs',
        order: 'sequential',
        plan: ({ size, epoch, labels }) => {
          expect(labels()).toHaveLength(size);
          const batches: Int32Array[] = [];
          for (let i = size - 1; i > 0; i -= 2) batches.push(Int32Array.from([i, i - 1]));
          return epoch === 0 ? batches : batches.slice(0, 2);
        },
      }),
  };

  it('plans the batches of in-memory data, epoch by epoch, replacing the trainer shuffle', async () => {
    const sizes: number[][] = [];
    const trainer = base().use(reversePairs);
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => sizes.push([e.epoch, e.batches, e.samples]));
    let firstTarget: number[] = [];
    trainer.use({ name: 'spy', register: (c) => provide(c, BatchTransform, { name: 'spy', transform: (b, ctx) => { if (ctx.epoch === 0 && ctx.batch === 0) firstTarget = Array.from((b.y as tf.Tensor).dataSync()); return b; } }) });
    const data = classificationData(6, 3, 2);
    await trainer.fit(data, { ...fit, epochs: 2 });
    expect(sizes).toEqual([[0, 3, 6], [1, 2, 4]]);
    const y = data.y.arraySync();
    expect(firstTarget).toEqual([...y[5]!, ...y[4]!]);
  });

  it('refuses two samplers, and a shuffling sampler with a sequential-order plugin', async () => {
    const shuffling = (name: string): Plugin => ({ name, register: (c) => provide(c, IndexSampler, { name, order: 'shuffled', plan: ({ size }) => [Int32Array.from({ length: size }, (_, i) => i)] }) });
    await expect(base().use(shuffling('a')).use(shuffling('b')).fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/"a" and "b" both claim "index-sampler"/);
    await expect(base().use(shuffling('a')).use({ name: 'statefulRnn', claims: [{ resource: 'batch-order', value: 'sequential' }] }).fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/"statefulRnn" and "a" both claim "batch-order"/);
    // An explicit shuffle: true next to a sequential sampler is refused rather than silently ignored.
    const sequential: Plugin = { name: 'seq', register: (c) => provide(c, IndexSampler, { name: 'seq', order: 'sequential', plan: ({ size }) => [Int32Array.from({ length: size }, (_, i) => i)] }) };
    await expect(base().use(sequential).fit(classificationData(8, 3, 2), { ...fit, shuffle: true })).rejects.toThrow(/"seq" and "the trainer \(fit option shuffle: true\)" both claim "batch-order"/);
    await expect(base().use(sequential).fit(classificationData(8, 3, 2), fit)).resolves.toMatchObject({ reason: 'completed' });
  });

  it('reports a planned row out of range', async () => {
    const broken: Plugin = { name: 'broken', register: (c) => provide(c, IndexSampler, { name: 'broken', order: 'sequential', plan: () => [Int32Array.from([0, 99])] }) };
    await expect(base().use(broken).fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/Sampler "broken" planned row 99 in batch 0 of epoch 0, outside \[0, 8\)/);
  });
});

describe('conflicts at start', () => {
  it('an epoch-metrics reducer rewrites the epoch logs before epoch:end and the history, given the sample counts; at most one', async () => {
    const seen: Array<{ logs: Record<string, number>; samples: number; validationSamples: number; names: readonly string[] }> = [];
    const reducer: Plugin = {
      name: 'halve',
      register: (c) =>
        provide(c, EpochMetricsReducer, {
          name: 'halve',
          reduce: (logs, ctx) => {
            seen.push({ logs: { ...logs }, samples: ctx.samples, validationSamples: ctx.validationSamples, names: ctx.metricNames });
            return Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v / 2]));
          },
        }),
    };
    const published: Array<Record<string, number>> = [];
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null }).use(reducer);
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => published.push({ ...e.metrics }));
    const data = classificationData(20, 3, 2);
    const validation = classificationData(7, 3, 2, 9);
    const result = await trainer.fit(data, { epochs: 2, batchSize: 8, validation, validationEvery: 2, handleSignals: false });
    expect(seen.map((s) => [s.samples, s.validationSamples])).toEqual([[20, 0], [20, 7]]);
    expect(seen[0]!.names).toEqual(['loss', 'accuracy']);
    expect(Object.keys(seen[1]!.logs).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    published.forEach((p, i) => Object.entries(p).forEach(([k, v]) => expect(v).toBe(seen[i]!.logs[k]! / 2)));
    expect(result.history.logs.loss).toEqual(published.map((p) => p.loss));
    expect(result.final).toEqual(published[1]);
    const two = base().use(reducer).use({ name: 'other', register: (c) => provide(c, EpochMetricsReducer, { name: 'other', reduce: (l) => ({ ...l }) }) });
    await expect(two.fit(data, fit)).rejects.toThrow(/Plugins "halve" and "other" both claim "epoch-metrics-reducer"/);
  });

  it('refuses two base learning-rate schedules, naming both', async () => {
    const schedule = (name: string): Plugin => ({ name, register: (c) => provide(c, LearningRateBase, { name, rate: (p) => p.initialLr }) });
    const trainer = base().use(schedule('cosineDecay')).use(schedule('stepDecay'));
    await expect(trainer.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(PluginConflictError);
    await expect(trainer.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/Plugins "cosineDecay" and "stepDecay" both claim "learning-rate base schedule"/);
  });

  it('refuses two plugins that both shape the warm-up, naming both', async () => {
    const trainer = base()
      .use({ name: 'oneCycle', register: (c) => provide(c, LearningRateBase, { name: 'oneCycle', shapesWarmup: true, rate: (p) => p.initialLr }) })
      .use({ name: 'warmup', register: (c) => provide(c, LearningRateModifier, { name: 'warmup', stage: 'warmup', shapesWarmup: true, factor: () => 1 }) });
    await expect(trainer.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/Plugins "oneCycle" and "warmup" both claim "learning-rate warm-up"/);
  });

  it('refuses a sequential-order plugin with the shuffling trainer, and accepts it with shuffle: false', async () => {
    const stateful: Plugin = { name: 'statefulRnn', claims: [{ resource: 'batch-order', value: 'sequential' }] };
    const trainer = base().use(stateful);
    await expect(trainer.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/"statefulRnn" and "the trainer \(fit option shuffle: true\)" both claim "batch-order" \("sequential" vs "shuffled"\)/);
    await expect(trainer.fit(classificationData(8, 3, 2), { ...fit, shuffle: false })).resolves.toMatchObject({ reason: 'completed' });
  });

  it('refuses two cross-replica reducers', async () => {
    const reducer = (name: string): Plugin => ({ name, register: (c) => provide(c, GradientTransform, { name, stage: 'reduce', transform: (g) => g }) });
    await expect(base().use(reducer('allReduce')).use(reducer('localSGD')).fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/Plugins "allReduce" and "localSGD" both claim "cross-replica gradient reduction"/);
  });

  it('refuses the same plugin twice', () => {
    const p: Plugin = { name: 'once' };
    expect(() => base().use(p).use(p)).toThrow(/already in use/);
  });

  it('trainer.dispose() disposes the plugins, last added first, once, and frees what they kept', async () => {
    const order: string[] = [];
    let kept: tf.Tensor | undefined;
    const keeper: Plugin = {
      name: 'keeper',
      attach: (e$) => e$.pipe(ofType('fit:end')).subscribe(() => (kept = tf.ones([3]))),
      dispose: () => {
        order.push('keeper');
        kept?.dispose();
      },
    };
    const optimizer = tf.train.sgd(0.1); // the caller's: trainer.dispose() leaves it, so only the plugin's tensor goes
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer, loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null })
      .use(keeper)
      .use({ name: 'second', dispose: () => order.push('second') })
      .use({ name: 'no-dispose' });
    await trainer.fit(classificationData(16, 3, 2), fit);
    expect(kept?.isDisposed).toBe(false); // kept after the fit, for as long as the trainer lives
    const afterFit = tf.memory().numTensors;
    trainer.dispose();
    trainer.dispose();
    expect(order).toEqual(['second', 'keeper']);
    expect(kept?.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(afterFit - 1);
    optimizer.dispose();
  });

  it('trainer.dispose() disposes every plugin even when one throws, then reports the failure', async () => {
    const disposed: string[] = [];
    const failing = (name: string): Plugin => ({ name, dispose: () => { disposed.push(name); throw new Error(`${name} broke`); } });
    const one = base().use({ name: 'a', dispose: () => disposed.push('a') }).use(failing('b'));
    expect(() => one.dispose()).toThrow(/^b broke$/);
    expect(disposed).toEqual(['b', 'a']);
    const two = base().use(failing('c')).use(failing('d'));
    expect(() => two.dispose()).toThrow(AggregateError);
    await expect(two.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/disposed/);
  });
});

declare module '../events/event-map.js' {
  // Declaration merging needs the same type parameter, even unused.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface TrainerEventMap<M extends string = string> {
    'test:ping': { readonly epoch: number; readonly note: string };
  }
}

describe('plugin events and gradient context', () => {
  it('lets plugins publish their own (augmented) event types in order with core events', async () => {
    const trainer = base().use({ name: 'pinger', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe((e) => c.emit('test:ping', { epoch: e.epoch, note: 'hi' })) });
    const seen: string[] = [];
    trainer.events$.subscribe((e) => seen.push(e.type === 'test:ping' ? `ping ${e.epoch} ${e.note}` : e.type));
    await trainer.fit(classificationData(8, 3, 2), { ...fit, epochs: 2 });
    expect(seen.filter((t) => t.startsWith('ping') || t === 'epoch:end' || t === 'fit:end')).toEqual(['epoch:end', 'ping 0 hi', 'epoch:end', 'ping 1 hi', 'fit:end']);
  });

  it('refuses plugin emits of core event types', async () => {
    const trainer = base().use({ name: 'impostor', attach: (e$, c) => e$.pipe(ofType('fit:start')).subscribe(() => c.emit('epoch:end' as 'test:ping', { epoch: 0, note: '' })) });
    await expect(trainer.fit(classificationData(8, 3, 2), fit)).rejects.toThrow(/core events are published by the trainer only/);
  });

  it('hands gradient transforms the step loss and reports skipped steps', async () => {
    const losses: number[] = [];
    const trainer = base().use({
      name: 'skip-odd',
      register: (c) => provide(c, GradientTransform, { name: 'skip-odd', transform: (g, ctx) => (losses.push(ctx.loss.dataSync()[0]!), ctx.step % 2 === 1 ? null : g) }),
    });
    const steps: [number, boolean, number][] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => steps.push([e.step, e.skipped, e.metrics.loss]));
    await trainer.fit(classificationData(32, 3, 2), { ...fit, batchSize: 8 });
    expect(steps.map(([s, skipped]) => [s, skipped])).toEqual([[1, false], [2, true], [3, false], [4, true]]);
    expect(losses).toEqual(steps.map(([, , loss]) => loss));
  });
});

describe('dependency injection', () => {
  it('gives each trainer its own child container', () => {
    const Greeting = token<string>('@fitstream/core-test/Greeting');
    const a = base().use({ name: 'a', register: (r) => r.provide(Greeting, 'hello from a') });
    const b = base();
    expect(resolve(a.container, Greeting)).toBe('hello from a');
    expect(b.container.isRegistered(Greeting, true)).toBe(false);
  });

  it('injectableWith wires explicit tokens and refuses a wrong arity at definition time', () => {
    const Unit = token<string>('@fitstream/core-test/Unit');
    const Scale = token<number>('@fitstream/core-test/Scale');
    class Formatter {
      constructor(readonly unit: string, readonly scale: number) {}
    }
    injectableWith(Unit, Scale)(Formatter);
    const trainer = base();
    trainer.container.register(Unit, { useValue: 'ms' });
    trainer.container.register(Scale, { useValue: 1000 });
    const f = trainer.container.resolve(Formatter);
    expect([f.unit, f.scale]).toEqual(['ms', 1000]);
    class Broken {
      constructor(readonly a: string, readonly b: number) {}
    }
    expect(() => injectableWith<[string, number]>(...([Unit] as unknown as [typeof Unit, typeof Scale]))(Broken)).toThrow(/takes 2 argument\(s\) but 1 token\(s\)/);
  });

  it('gives two declarations of one key (a package installed twice) one token, so both copies share plugin points', async () => {
    const first = token<number>('@fitstream/core-test/Twice');
    const second = token<number>('@fitstream/core-test/Twice');
    expect(second).toBe(first);
    const trainer = base().use({ name: 'copy-a', register: (r) => r.provide(first, 1) }).use({ name: 'copy-b', register: (r) => provide(r, second, 2) });
    expect(resolveAll(trainer.container, first)).toEqual([1, 2]);
  });

  it('hands plugins a registry that can add registrations but not resolve or replace them', () => {
    let given: unknown;
    base().use({ name: 'peek', register: (r) => void (given = r) });
    expect(Object.keys(given as object)).toEqual(['provide']);
    expect(() => provide(given as never, StateProvider, { useFactory: () => ({}) } as never)).toThrow(/plugins register values/);
  });

  it('collects state providers for checkpoints', async () => {
    const trainer = base().use({ name: 'counter', register: (c) => provide(c, StateProvider, { key: 'counter', getState: () => ({ n: 3 }), setState: () => undefined }) });
    expect(resolveAll(trainer.container, StateProvider).map((p) => p.getState())).toEqual([{ n: 3 }]);
  });
});
