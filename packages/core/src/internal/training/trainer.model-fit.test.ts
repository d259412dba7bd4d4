import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, FitstreamInputError, ofType, selectBackend, withSeed } from '../../index.js';
import { classificationData, mlp, regressionData, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const quiet = { seed: 1, backend: 'current', log: null } as const;
const classifier = (seed = 1) => mlp(3, 8, 2, seed);
const functional = (seed = 1) =>
  withSeed(seed, () => {
    const input = tf.input({ shape: [3], name: 'features' });
    const hidden = tf.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, activation: 'softmax', name: 'species' }).apply(hidden) as tf.SymbolicTensor });
  });
const regressor = (seed = 2) => withSeed(seed, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 1 })] }));

/** Every hook call of a tfjs callback, with the log keys it saw. */
function recorder(calls: string[]): tf.CustomCallbackArgs {
  const keys = (logs?: object) => Object.keys(logs ?? {}).sort().join(',');
  return {
    onTrainBegin: (logs) => void calls.push(`trainBegin[${keys(logs)}]`),
    onEpochBegin: (epoch) => void calls.push(`epochBegin ${epoch}`),
    onBatchBegin: (batch, logs) => void calls.push(`batchBegin ${batch} [${keys(logs)}]`),
    onBatchEnd: (batch, logs) => void calls.push(`batchEnd ${batch} [${keys(logs)}]`),
    onEpochEnd: (epoch, logs) => void calls.push(`epochEnd ${epoch} [${keys(logs)}]`),
    onTrainEnd: () => void calls.push('trainEnd'),
  };
}

describe('trainer.fit accepts what tfjs model.fit users write', () => {
  it('fit(x, y, options) trains exactly as fit({ x, y }, options): bit-identical weights', async () => {
    const { x, y } = classificationData(48, 3, 2);
    const a = classifier();
    const b = classifier();
    await createTrainer({ model: a, optimizer: 'adam', loss: 'categoricalCrossentropy', ...quiet }).fit(x, y, { epochs: 3, batchSize: 8 });
    await createTrainer({ model: b, optimizer: 'adam', loss: 'categoricalCrossentropy', ...quiet }).fit({ x, y }, { epochs: 3, batchSize: 8 });
    expect(weightsOf(a)).toEqual(weightsOf(b));
  });

  it('fit(x, y) takes x as a map by input name and y as a map by output name; epochs defaults to 1 as in tfjs', async () => {
    const { x, y } = classificationData(24, 3, 2);
    const model = functional();
    const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const result = await trainer.fit({ features: x }, { species: y }, { batchSize: 8 });
    expect(result.history.epochs).toEqual([0]);
    await expect(trainer.fit({ nope: x }, y)).rejects.toThrow(/x: names nope but the model's inputs are/);
  });

  it('validationSplit validates on exactly the rows tfjs takes (the last ones, split at floor(n·(1 − f)), before shuffling)', async () => {
    // 90 rows, split 0.3: tfjs splits at Math.floor(90 · 0.7) = 62 (90 · 0.7 is 62.99999…), so 28 rows validate, not 27.
    const { x, y } = regressionData(90, 4);
    const reference = regressor();
    reference.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
    const tfjs = await reference.fit(x, y, { epochs: 1, validationSplit: 0.3, batchSize: 16, verbose: 0 });

    const trainer = createTrainer({ model: regressor(), optimizer: tf.train.sgd(0), loss: 'meanSquaredError', ...quiet });
    const seen: { train?: number | undefined; validation?: number | undefined } = {};
    trainer.events$.pipe(ofType('fit:start')).subscribe((e) => (seen.train = e.samples));
    trainer.events$.pipe(ofType('validation:end')).subscribe((e) => (seen.validation = e.samples));
    const before = tf.memory().numTensors;
    const { history } = await trainer.fit(x, y, { epochs: 1, validationSplit: 0.3, batchSize: 16 });
    expect(tf.memory().numTensors).toBe(before); // the split's slices are freed
    expect(seen).toEqual({ train: 62, validation: 28 });
    expect(history.logs.val_loss![0]).toBeCloseTo(tfjs.history['val_loss']![0] as number, 5);
    // …and the choice matters: the last 27 rows give another loss.
    const lossOn = (start: number) => tf.tidy(() => tf.losses.meanSquaredError(y.slice(start), reference.predict(x.slice(start)) as tf.Tensor).dataSync()[0]!);
    expect(lossOn(62)).toBeCloseTo(history.logs.val_loss![0]!, 5);
    expect(Math.abs(lossOn(63) - history.logs.val_loss![0]!)).toBeGreaterThan(1e-4);
  });

  it('validationData takes a [x, y] tuple, a [x, y, sampleWeight] tuple or a tf.data.Dataset', async () => {
    const { x, y } = classificationData(32, 3, 2);
    const val = classificationData(12, 3, 2, 9);
    const run = async (validationData: unknown) => {
      const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
      const { history } = await trainer.fit(x, y, { epochs: 1, batchSize: 8, validationData: validationData as never });
      return history.logs.val_loss![0]!;
    };
    const tuple = await run([val.x, val.y]);
    expect(await run({ x: val.x, y: val.y })).toBe(tuple);
    expect(await run([val.x, val.y, tf.ones([12])])).toBeCloseTo(tuple, 6);
    const dataset = tf.data.zip({ xs: tf.data.array(tf.unstack(val.x)), ys: tf.data.array(tf.unstack(val.y)) }).batch(32);
    expect(await run(dataset)).toBeCloseTo(tuple, 6);
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    await expect(trainer.fit({ x, y }, { epochs: 1, validation: val, validationSplit: 0.2 })).rejects.toThrow(/options.validationSplit: gives validation data, and so does options.validation; give one of them/);
  });

  it('batchesPerEpoch is stepsPerEpoch, yieldEvery is yieldEveryMs, validationSteps is validationBatches', async () => {
    const { x, y } = classificationData(64, 3, 2);
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const batches: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => batches.push(e.batches));
    const validated: number[] = [];
    trainer.events$.pipe(ofType('validation:end')).subscribe((e) => validated.push(e.samples));
    await trainer.fit(x, y, { epochs: 2, batchSize: 8, batchesPerEpoch: 3, yieldEvery: 'epoch', validationData: [x, y], validationSteps: 2 });
    expect(batches).toEqual([3, 3]);
    expect(validated).toEqual([16, 16]);
    await expect(trainer.fit(x, y, { batchesPerEpoch: 3, stepsPerEpoch: 4 })).rejects.toThrow(/batchesPerEpoch: is tfjs' name for stepsPerEpoch/);
    await expect(trainer.fit(x, y, { yieldEvery: 'sometimes' as never })).rejects.toThrow(/yieldEvery: must be 'auto', 'batch', 'epoch', 'never'/);
  });

  it('verbose: 0 is silent; 1 and 2 log one line per epoch, 1 also names progressBar()', async () => {
    const { x, y } = classificationData(16, 3, 2);
    for (const [verbose, expected] of [[0, 0], [1, 3], [2, 2]] as const) {
      const lines: string[] = [];
      const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: (l) => lines.push(l) });
      await trainer.fit(x, y, { epochs: 2, batchSize: 8, verbose });
      expect(lines).toHaveLength(expected);
      if (verbose === 1) expect(lines[0]).toMatch(/progressBar\(\) from '@fitstream\/callbacks'/);
      if (verbose > 0) expect(lines.at(-1)).toMatch(/^Epoch 2\/2 - \d+ms - loss: [\d.]+ - accuracy: [\d.]+$/);
    }
  });
});

describe('tfjs callbacks', () => {
  it('a CustomCallbackArgs object sees the hooks, in the order and with the log keys tfjs model.fit gives', async () => {
    const { x, y } = classificationData(16, 3, 2);
    const options = { epochs: 2, batchSize: 8, shuffle: false, validationData: [x, y] as [tf.Tensor, tf.Tensor] };
    const tfjsCalls: string[] = [];
    const reference = classifier();
    reference.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['acc'] });
    const tfjs = await reference.fit(x, y, { ...options, verbose: 0, callbacks: recorder(tfjsCalls) });

    const calls: string[] = [];
    const model = classifier();
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['acc'] });
    const trainer = createTrainer({ model, ...quiet });
    const { history } = await trainer.fit(x, y, { ...options, callbacks: [recorder(calls)] });
    expect(calls).toEqual(tfjsCalls);
    expect(calls).toContain('epochEnd 1 [acc,loss,val_acc,val_loss]');
    expect(calls).toContain('batchEnd 0 [acc,batch,loss,size]');
    expect(history.logs.loss![1]).toBeCloseTo(tfjs.history['loss']![1] as number, 4);
    expect(history.logs.val_acc![1]).toBeCloseTo(tfjs.history['val_acc']![1] as number, 6);
  });

  it('a hook that returns a promise holds the loop (control.await); model.stopTraining = true stops the fit', async () => {
    const { x, y } = classificationData(16, 3, 2);
    const model = functional();
    const order: string[] = [];
    // A tf.Callback subclass works too: it gets the model (setModel) and the hooks.
    class Counter extends tf.Callback {
      batches = 0;
      override async onBatchEnd(): Promise<void> {
        this.batches += 1;
        if (this.model !== model) throw new Error('setModel was not called');
      }
    }
    const counter = new Counter();
    const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const result = await trainer.fit(x, y, {
      epochs: 5,
      batchSize: 8,
      callbacks: [
        {
          onEpochBegin: (epoch) => void order.push(`begin ${epoch}`),
          onEpochEnd: async (epoch) => {
            await new Promise((resolve) => setTimeout(resolve, 20));
            order.push(`end ${epoch} written`);
            if (epoch === 1) model.stopTraining = true;
          },
        },
        counter,
      ],
    });
    expect(order).toEqual(['begin 0', 'end 0 written', 'begin 1', 'end 1 written']);
    expect(counter.batches).toBe(4);
    expect(result.reason).toBe('stopped');
    expect(result.stopReason).toMatch(/model.stopTraining/);
  });

  it('tf.callbacks.earlyStopping is refused with the fitstream plugin and the same settings', async () => {
    const { x, y } = classificationData(16, 3, 2);
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const call = trainer.fit(x, y, { epochs: 5, callbacks: [tf.callbacks.earlyStopping({ monitor: 'val_acc', patience: 3, minDelta: 0.01 })] });
    await expect(call).rejects.toThrow(FitstreamInputError);
    await expect(call).rejects.toThrow(
      "options.callbacks[0]: tf.callbacks.earlyStopping works inside tfjs' model.fit only. Use earlyStopping from '@fitstream/callbacks': trainer.use(earlyStopping({ monitor: 'val_acc', patience: 3, minDelta: 0.01 }))",
    );
  });
});

describe('option names', () => {
  it('an unknown fit option is an error with a did-you-mean, never ignored', async () => {
    const { x, y } = classificationData(16, 3, 2);
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    await expect(trainer.fit({ x, y }, { epochs: 1, batchSzie: 8 } as never)).rejects.toThrow(/options: "batchSzie" is not an option; did you mean "batchSize"\?/);
    await expect(trainer.fit(x, y, { epochs: 1, steps_per_epoch: 2 } as never)).rejects.toThrow(/did you mean "stepsPerEpoch"\?/);
    await expect(trainer.fit(x, y, { validationFreq: 2 } as never)).rejects.toThrow(/"validationFreq": fitstream names it validationEvery/);
  });

  it('classWeight names classWeights from @fitstream/regularisers with the same weights', async () => {
    const { x, y } = classificationData(16, 3, 2);
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    await expect(trainer.fit(x, y, { epochs: 1, classWeight: { 0: 1, 1: 5 } })).rejects.toThrow(
      "options.classWeight: core does not weight classes. Use classWeights from '@fitstream/regularisers': trainer.use(classWeights({0: 1, 1: 5}))",
    );
  });

  it('an unknown createTrainer option is an error with a did-you-mean', () => {
    expect(() => createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', metric: ['accuracy'], ...quiet } as never)).toThrow(
      /createTrainer\(options\): "metric" is not an option; did you mean "metrics"\?/,
    );
    expect(() => createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', learningRate: 0.1, ...quiet } as never)).toThrow(/"learningRate": the learning rate belongs to the optimizer/);
  });
});

describe('a model compiled with model.compile', () => {
  it('trains with its compiled optimizer, loss and metrics when createTrainer names none', async () => {
    const { x, y } = classificationData(32, 3, 2);
    const compiled = classifier();
    const optimizer = tf.train.sgd(0.2);
    compiled.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const trainer = createTrainer({ model: compiled, ...quiet });
    expect(trainer.optimizer).toBe(optimizer);
    expect(trainer.metricNames).toEqual(['loss', 'accuracy']);
    const explicit = classifier();
    await createTrainer({ model: explicit, optimizer: tf.train.sgd(0.2), loss: 'categoricalCrossentropy', metrics: ['accuracy'], ...quiet }).fit(x, y, { epochs: 2, batchSize: 8 });
    const { history } = await trainer.fit(x, y, { epochs: 2, batchSize: 8 });
    expect(weightsOf(compiled)).toEqual(weightsOf(explicit));
    expect(history.logs.accuracy).toHaveLength(2);
    trainer.dispose(); // the compiled optimizer stays the model's
    expect(() => optimizer.getWeights()).not.toThrow();
  });

  it('takes tfjs loss names core has no built-in for, and loss functions', async () => {
    const { x, y } = regressionData(32, 4);
    const model = regressor();
    model.compile({ optimizer: 'sgd', loss: 'logcosh', metrics: ['mse', 'mape'] });
    const trainer = createTrainer({ model, ...quiet });
    expect(trainer.metricNames).toEqual(['loss', 'mse', 'mape']);
    const { history } = await trainer.fit(x, y, { epochs: 3, batchSize: 8 });
    expect(history.logs.loss![2]).toBeLessThan(history.logs.loss![0]!);
    const withFunction = regressor();
    withFunction.compile({ optimizer: 'sgd', loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.metrics.meanSquaredError(yTrue, yPred) });
    const result = await createTrainer({ model: withFunction, ...quiet }).fit(x, y, { epochs: 1, batchSize: 8 });
    expect(Number.isFinite(result.history.logs.loss![0])).toBe(true);
  });

  it("createTrainer's options win over model.compile's, said once per model", () => {
    const model = classifier();
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const lines: string[] = [];
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: (l) => lines.push(l) });
    expect(trainer.optimizer.getClassName()).toBe('Adam');
    expect(trainer.options.loss).toBe('categoricalCrossentropy');
    createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: (l) => lines.push(l) });
    expect(lines).toEqual(["fitstream: createTrainer's optimizer, loss win over model.compile's; ignored from model.compile: optimizer (SGD), loss."]);
    expect(() => createTrainer({ model: classifier(), ...quiet })).toThrow(/optimizer: is required.*or compile the model with one/);
  });
});

describe('validation that never ends', () => {
  const { x, y } = classificationData(16, 3, 2);
  const endless = () =>
    function* () {
      for (;;) yield tf.tidy(() => ({ x: x.slice(0, 4), y: y.slice(0, 4) }));
    };

  it('an endless stream without validationBatches is refused before anything trains, naming validationBatches', async () => {
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const events: string[] = [];
    trainer.events$.subscribe((e) => events.push(e.type));
    await expect(trainer.fit({ x, y }, { epochs: 1, validation: endless() })).rejects.toThrow(/options.validationBatches: is required: options.validation is a function returning a stream/);
    const generated = tf.data.generator(endless()).map((b) => b as tf.TensorContainer);
    await expect(trainer.fit({ x, y }, { epochs: 1, validation: generated })).rejects.toThrow(/validationBatches: is required: .*tf.data.Dataset of unknown size/);
    const repeated = tf.data.array([{ x: x.slice(0, 4), y: y.slice(0, 4) }]).repeat();
    await expect(trainer.fit({ x, y }, { epochs: 1, validationData: repeated })).rejects.toThrow(/endless tf.data.Dataset \(dataset.size is Infinity/);
    expect(events).not.toContain('fit:start');
  });

  it('with validationBatches it finishes, on that many batches each time', async () => {
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const validated: number[] = [];
    trainer.events$.pipe(ofType('validation:end')).subscribe((e) => validated.push(e.samples));
    const before = tf.memory().numTensors;
    const result = await trainer.fit({ x, y }, { epochs: 2, batchSize: 8, validation: endless(), validationBatches: 3 });
    expect(result.reason).toBe('completed');
    expect(validated).toEqual([12, 12]);
    expect(tf.memory().numTensors).toBe(before);
    // The former name still works, and the two cannot disagree.
    await expect(trainer.fit({ x, y }, { epochs: 1, validation: endless(), limitValidationBatches: 2 })).resolves.toMatchObject({ reason: 'completed' });
    await expect(trainer.fit({ x, y }, { epochs: 1, validation: endless(), validationBatches: 2, limitValidationBatches: 3 })).rejects.toThrow(/give only validationBatches/);
  });

  it('an abort during a long validation stops it at the next batch; the fit ends "stopped"', async () => {
    const trainer = createTrainer({ model: classifier(), optimizer: 'sgd', loss: 'categoricalCrossentropy', ...quiet });
    const controller = new AbortController();
    trainer.events$.pipe(ofType('validation:start')).subscribe(() => setTimeout(() => controller.abort('enough'), 100));
    let validated = 0;
    trainer.events$.pipe(ofType('validation:end')).subscribe((e) => (validated = e.samples));
    const started = performance.now();
    const result = await trainer.fit({ x, y }, { epochs: 3, batchSize: 8, validation: endless(), validationBatches: 1e9, signal: controller.signal, handleSignals: false });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ reason: 'stopped', stopReason: 'aborted: enough', epochs: 1 });
    expect(validated).toBeGreaterThan(0);
  });
});
