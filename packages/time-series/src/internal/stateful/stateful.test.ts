import * as tf from '@tensorflow/tfjs';
import { createTrainer, ofType, withSeed } from '@fitstream/core';
import { shuffleSampler } from '@fitstream/samplers';
import { beforeAll, describe, expect, it } from 'vitest';
import { statefulData, statefulLayout } from './layout.js';
import { statefulForecaster } from './stateful-forecaster.js';
import { statefulRnn } from './stateful-rnn.js';
import { disposeState, resetState, restoreState, snapshotState, type StateSnapshot } from './state.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const F = 1;
function statefulModel(B: number, L: number | null, units = 6, seed = 7): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      layers: [
        tf.layers.lstm({ units, stateful: true, returnSequences: true, batchInputShape: [B, L, F] }),
        tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 1 }) }),
      ],
    }),
  );
}
function statelessModel(T: number, units = 6, seed = 8): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      layers: [tf.layers.lstm({ units, returnSequences: true, inputShape: [T, F] }), tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 1 }) })],
    }),
  );
}
const sine = (n: number) => Array.from({ length: n }, (_, t) => Math.sin(t / 4) + 0.3 * Math.sin(t / 11));
const values = (s: StateSnapshot) => s.layers.map((l) => l!.map((t) => [...t.dataSync()]));

describe('stateful layout', () => {
  it('puts chunk k of stream s at row s + k·B and drops the ragged tail', () => {
    const l = statefulLayout(103, { streams: 3, chunkLength: 5 });
    expect(l.chunksPerStream).toBe(6); // ⌊103/3⌋ = 34 → 6 chunks of 5
    expect(l.rows).toBe(18);
    expect(l.dropped).toBe(103 - 90);
    expect(l.rowOf(2, 4)).toBe(2 + 4 * 3);
    const data = statefulData(Array.from({ length: 104 }, (_, t) => t), { batchSize: 3, chunkLength: 5 });
    const x = data.x.arraySync();
    const y = data.y.arraySync();
    for (let s = 0; s < 3; s++) for (let k = 0; k < 6; k++) {
      const row = s + k * 3;
      expect(x[row]!.map((r) => r[0])).toEqual([0, 1, 2, 3, 4].map((j) => s * 34 + k * 5 + j));
      expect(y[row]!.map((r) => r[0])).toEqual(x[row]!.map((r) => r[0]! + 1));
    }
    expect(data.sequenceStarts).toEqual([0]);
    tf.dispose([data.x, data.y]);
  });
});

describe('stateful RNN semantics (tfjs-layers 4.22)', () => {
  it('a stateful model fed chunk by chunk equals a stateless model on the whole sequence (1e-5), also for B = 2 streams', () => {
    const T = 40;
    const L = 8;
    const series = sine(2 * T + 1);
    const full = statelessModel(T);
    const stateful = statefulModel(2, L);
    stateful.setWeights(full.getWeights());
    const data = statefulData(series, { batchSize: 2, chunkLength: L });
    resetState(stateful);
    const chunks: number[][] = [[], []];
    for (let k = 0; k < data.batches; k++) {
      const out = tf.tidy(() => (stateful.apply(data.x.slice([2 * k, 0, 0], [2, L, F]), { training: false }) as tf.Tensor).arraySync() as number[][][]);
      for (let s = 0; s < 2; s++) chunks[s]!.push(...out[s]!.map((r) => r[0]!));
    }
    for (let s = 0; s < 2; s++) {
      const segment = series.slice(s * T, s * T + T);
      const expected = tf.tidy(() => (full.apply(tf.tensor3d(segment, [1, T, 1]), { training: false }) as tf.Tensor).dataSync());
      chunks[s]!.forEach((v, t) => expect(Math.abs(v - expected[t]!)).toBeLessThan(1e-5));
    }
    tf.dispose([data.x, data.y]);
    full.dispose();
    stateful.dispose();
  });

  it('after resetState outputs equal a fresh model; snapshot/restore round-trips bit-exactly', () => {
    const model = statefulModel(1, 5);
    const x = tf.tensor3d(sine(5), [1, 5, 1]);
    const fresh = (model.apply(x, { training: false }) as tf.Tensor).dataSync().slice();
    const snap = snapshotState(model);
    const second = (model.apply(x, { training: false }) as tf.Tensor).dataSync().slice();
    expect([...second]).not.toEqual([...fresh]);
    restoreState(model, snap);
    expect([...snapshotState(model).layers[0]![0]!.dataSync()]).toEqual([...snap.layers[0]![0]!.dataSync()]);
    expect([...(model.apply(x, { training: false }) as tf.Tensor).dataSync()]).toEqual([...second]);
    resetState(model);
    expect([...(model.apply(x, { training: false }) as tf.Tensor).dataSync()]).toEqual([...fresh]);
    disposeState(snap);
    x.dispose();
    model.dispose();
  });
});

describe('statefulRnn with the core trainer', () => {
  const setup = (B = 2, L = 10, n = 241) => {
    const model = statefulModel(B, L);
    const data = statefulData(sine(n), { batchSize: B, chunkLength: L });
    const plugin = statefulRnn({ model, data });
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'meanSquaredError', seed: 3, backend: 'cpu', log: null }).use(plugin);
    return { model, data, plugin, trainer };
  };

  it('refuses a shuffling sampler, naming both plugins, and a wrong batch size', async () => {
    const a = setup();
    a.trainer.use(shuffleSampler());
    await expect(a.trainer.fit(a.data, { epochs: 1, batchSize: 2 })).rejects.toThrow(/stateful-rnn.*shuffle-sampler|shuffle-sampler.*stateful-rnn/);
    const b = setup();
    await expect(b.trainer.fit(b.data, { epochs: 1, batchSize: 4 })).rejects.toThrow(/fixed batch size of 2/);
    expect(() => statefulRnn({ model: statelessModel(5) })).toThrow(/no stateful RNN layer/);
  });

  it('trains in row order, resets at epoch start, keeps memory flat, and validation/evaluate leave the training state unchanged', async () => {
    const { model, data, plugin, trainer } = setup();
    const val = statefulData(sine(81).map((v) => v + 0.1), { batchSize: 2, chunkLength: 10 });
    const planned: number[][] = [];
    let atLastStep: number[][][] | undefined;
    let afterValidation: number[][][] | undefined;
    const tensors: number[] = [];
    trainer.events$.pipe(ofType('batch:start')).subscribe((e) => planned.push([e.epoch, e.batch]));
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => {
      tensors.push(tf.memory().numTensors);
      if (e.batch === data.batches - 1) atLastStep = values(snapshotState(model));
    });
    trainer.events$.pipe(ofType('validation:end')).subscribe(() => (afterValidation = values(snapshotState(model))));
    await trainer.fit(data, { epochs: 2, batchSize: 2, validation: val, validationBatchSize: 2 });
    expect(planned.filter(([e]) => e === 0).map(([, b]) => b)).toEqual(Array.from({ length: data.batches }, (_, k) => k));
    const after = values(snapshotState(model));
    expect(afterValidation).not.toEqual(atLastStep); // validation did run the model…
    expect(after).toEqual(atLastStep); // …and the training state came back
    const evalSnapshot = values(snapshotState(model));
    await plugin.evaluate(trainer, val, { batchSize: 2 });
    expect(values(snapshotState(model))).toEqual(evalSnapshot);
    // one stateful epoch: tfjs keeps old states until a no-argument reset; the plugin frees them after every step
    expect(Math.max(...tensors.slice(2)) - Math.min(...tensors.slice(2))).toBeLessThanOrEqual(4);
    tf.dispose([data.x, data.y, val.x, val.y]);
  });

  it('memory stays bounded across 100 stateful steps', async () => {
    const { data, trainer } = setup(1, 4, 401);
    const counts: number[] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe(() => counts.push(tf.memory().numTensors));
    await trainer.fit(data, { epochs: 1, batchSize: 1 });
    expect(counts).toHaveLength(100);
    expect(counts[99]! - counts[9]!).toBeLessThanOrEqual(2);
    tf.dispose([data.x, data.y]);
  });

  it('continues into the unseen period: warm-up, teacher-forced scoring and closed-loop generation with a batch-1 copy', async () => {
    const { model, data, trainer } = setup(2, 10, 241);
    await trainer.fit(data, { epochs: 3, batchSize: 2 });
    const series = sine(300);
    const train = series.slice(0, 240);
    const test = series.slice(240, 260);
    const f = await statefulForecaster({ model });
    expect(f.model.inputs[0]!.shape[0]).toBe(1);
    // the batch-1 copy shares the trained weights: on stream 0's segment it reproduces the B = 2 model's stream 0
    resetState(model);
    const streamOut = tf.tidy(() => (model.apply(data.x.slice([0, 0, 0], [2, 10, 1]), { training: false }) as tf.Tensor).arraySync() as number[][][]);
    const warmFirst = f.warmUp(train.slice(0, 10));
    streamOut[0]!.forEach((r, t) => expect(Math.abs(r[0]! - warmFirst[t]!)).toBeLessThan(1e-5));

    const warmed = f.warmUp(train);
    expect(warmed).toHaveLength(240);
    const warm = f.snapshotState();
    const scored = f.teacherForced(test);
    expect(scored[0]).toBe(warmed[239]);
    // teacher forcing = feeding the observed values one at a time
    f.restoreState(warm);
    const stepwise = [f.next];
    for (const v of test.slice(0, -1)) {
      f.teacherForced([v]);
      stepwise.push(f.next);
    }
    stepwise.forEach((v, i) => expect(Math.abs(v - scored[i]!)).toBeLessThan(1e-5));
    f.restoreState(warm);
    const a = f.closedLoop(12);
    const b = f.closedLoop(12);
    expect([...a]).toEqual([...b]); // closed loop restores the warm state
    expect(a[0]).toBe(warmed[239]);
    f.dispose();
    disposeState(warm);
    tf.dispose([data.x, data.y]);
  });
});
