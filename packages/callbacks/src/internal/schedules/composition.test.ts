import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, PluginConflictError, selectBackend, type Trainer } from '@fitstream/core';
import { callback, cosineDecay, discriminativeLr, oneCycle, reduceLROnPlateau, warmup, type PolicyEvent } from '../../index.js';
import { blobs, mlp, smallTrainer, weightsOf } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-lr-composition-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** PyTorch `CosineAnnealingLR` by hand: `minLr + (base − minLr)(1 + cos(π·t/T))/2`. */
const cosineAt = (t: number, base: number, total: number) => (base * (1 + Math.cos((Math.PI * Math.min(t, total)) / total))) / 2;

/** The rate of every optimizer step, indexed by step (step:end reports the count after the update). */
function stepRates(trainer: Trainer): number[] {
  const rates: number[] = [];
  trainer.events$.pipe(ofType('step:end')).subscribe((e) => (rates[e.step - 1] = e.learningRate));
  return rates;
}

const data = () => blobs(64); // batch 16 → 4 steps per epoch
const fitOptions = { batchSize: 16, handleSignals: false } as const;

// minDelta 10 makes every epoch after the first "no improvement": with patience 1 the plateau reduces at the end of
// epochs 1 and 2, whatever the losses are.
const plateauOptions = { monitor: 'loss', mode: 'min', patience: 1, factor: 0.5, minDelta: 10, minLr: 0.001 } as const;

describe('cosineDecay × reduceLROnPlateau', () => {
  it('each step runs at cosine(t) × the plateau factor, floored at minLr without raising a rate the cosine took below it', async () => {
    const trainer = smallTrainer(); // SGD, lr 0.01
    const rates = stepRates(trainer);
    const plateau = reduceLROnPlateau(plateauOptions);
    const changes: PolicyEvent<'learningRate:changed'>[] = [];
    plateau.events$.subscribe((e) => changes.push(e));
    trainer.use(cosineDecay({ totalSteps: 16 })).use(plateau);
    const { history } = await trainer.fit(data(), { ...fitOptions, epochs: 4 });

    // Hand-computed: cosine(t) = 0.01·(1 + cos(πt/16))/2; factor 1 in epochs 0–1, 0.5 in epoch 2, 0.25 in epoch 3.
    // Epoch 3: cosine(12) = 0.0014645 · 0.25 < 0.001 → floored to 0.001; cosine(13..15) < 0.001 already → left alone.
    const expected = [
      ...[0.01, 0.00990393, 0.0096194, 0.00915735, 0.00853553, 0.00777785, 0.00691342, 0.00597545], // factor 1
      ...[0.005, 0.00402455, 0.00308658, 0.00222215].map((c) => c * 0.5), // all above 0.001 after the cut
      ...[0.001, 0.000842652, 0.000380602, 0.0000960736], // 0.00146447·0.25 → floor; the rest below minLr: unchanged
    ];
    const byFormula = Array.from({ length: 16 }, (_, t) => {
      const c = cosineAt(t, 0.01, 16);
      const f = t < 8 ? 1 : t < 12 ? 0.5 : 0.25;
      return t < 8 ? c : c * Math.min(1, Math.max(f, 0.001 / c));
    });
    expect(rates).toHaveLength(16);
    rates.forEach((r, t) => expect(r, `step ${t}`).toBeCloseTo(byFormula[t]!, 12));
    rates.forEach((r, t) => expect(r / expected[t]!, `step ${t}`).toBeCloseTo(1, 5));
    // Reductions at the ends of epochs 1 and 2: in force from epoch 2 (step 8) and epoch 3 (step 12).
    expect(changes.map((e) => [e.epoch, e.step, e.reason])).toEqual([
      [2, 8, 'plateau'],
      [3, 12, 'plateau'],
    ]);
    expect(plateau.factor).toBe(0.25);
    // History: the rate and each modifier's factor at every epoch's last update.
    expect(history.learningRate.map((r) => Number(r.toPrecision(6)))).toEqual([3, 7, 11, 15].map((t) => Number(byFormula[t]!.toPrecision(6))));
    expect(history.learningRateFactors['reduce-lr-on-plateau(loss)']).toEqual([1, 1, 0.5, 1]);
    trainer.dispose();
  });

  it('a resumed run (checkpoint mid-epoch, before the reductions) equals the uninterrupted one: rates and weights', async () => {
    const run = async (options: { checkpointAt?: number; resume?: string; checkpointDir?: string }) => {
      const model = mlp();
      const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.05 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
      const rates = stepRates(trainer);
      trainer.use(cosineDecay({ totalSteps: 20 })).use(reduceLROnPlateau({ ...plateauOptions, patience: 2, minLr: 0 }));
      if (options.checkpointAt !== undefined) {
        const at = options.checkpointAt;
        trainer.use(callback('checkpoint', (e$, c) => e$.pipe(ofType('step:end'), filter((e) => e.step === at)).subscribe(() => c.requestCheckpoint('test'))));
      }
      const opts = { ...fitOptions, epochs: 5, ...(options.checkpointDir ? { checkpointDir: options.checkpointDir } : {}) };
      await (options.resume ? trainer.resume(options.resume, data(), opts) : trainer.fit(data(), opts));
      trainer.dispose();
      return { rates, weights: weightsOf(model) };
    };
    const full = await run({});
    // Reductions at the ends of epochs 2 and 4 (patience 2): factor 0.5 from step 12.
    full.rates.forEach((r, t) => expect(r, `step ${t}`).toBeCloseTo(cosineAt(t, 0.05, 20) * (t < 12 ? 1 : 0.5), 12));

    const checkpoints = join(dir, 'resume');
    const first = await run({ checkpointAt: 6, checkpointDir: checkpoints });
    expect(first.rates).toEqual(full.rates);
    const resumed = await run({ resume: checkpoints });
    // It ran steps 6–19 only; the plateau's counters came from the checkpoint (fresh ones would cut at the end of epoch 3).
    expect(Object.keys(resumed.rates).map(Number)).toEqual(Array.from({ length: 14 }, (_, i) => 6 + i));
    expect(resumed.rates.slice(6)).toEqual(full.rates.slice(6));
    expect(resumed.weights).toEqual(full.weights);
  });
});

describe('warm-up', () => {
  it('warmup({ steps }) is a modifier: on top of cosineDecay the first steps are scaled, then the cosine runs on (hand-computed)', async () => {
    const trainer = smallTrainer();
    const rates = stepRates(trainer);
    const factors: number[] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => factors.push(e.learningRateFactors.warmup!));
    const ramp = warmup({ steps: 3, startFactor: 0.1 });
    trainer.use(cosineDecay({ totalSteps: 8, initialLr: 0.2 })).use(ramp);
    await trainer.fit(data(), { ...fitOptions, epochs: 2 });
    // cosine(t) = 0.1·(1 + cos(πt/8)); warm-up factor 0.1 + 0.9·t/3 for t < 3, then 1.
    const expected = [0.02, 0.192388 * 0.4, 0.170711 * 0.7, 0.138268, 0.1, 0.061732, 0.029289, 0.007612];
    rates.forEach((r, t) => expect(r, `step ${t}`).toBeCloseTo(expected[t]!, 6));
    rates.forEach((r, t) => expect(r, `step ${t}`).toBeCloseTo(cosineAt(t, 0.2, 8) * ramp(t), 12));
    expect(factors.map((f) => Number(f.toFixed(12)))).toEqual([0.1, 0.4, 0.7, 1, 1, 1, 1, 1]);
    trainer.dispose();
  });

  it('a warm-up modifier beside oneCycle (which ramps up itself) is refused, naming both', async () => {
    const trainer = smallTrainer();
    trainer.use(oneCycle({ maxLr: 0.1, totalSteps: 8 })).use(warmup({ steps: 2 }));
    const error = await trainer.fit(data(), { ...fitOptions, epochs: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginConflictError);
    expect(String(error)).toMatch(/"one-cycle" and "warmup" both claim "learning-rate warm-up"/);
    // So is a composed warm-up beside the modifier.
    const twice = smallTrainer().use(warmup({ steps: 2 }, cosineDecay({ totalSteps: 8 }))).use(warmup({ steps: 2, name: 'extra-warmup' }));
    await expect(twice.fit(data(), { ...fitOptions, epochs: 1 })).rejects.toThrow(/"warmup\(cosine-decay\)" and "extra-warmup" both claim "learning-rate warm-up"/);
    trainer.dispose();
    twice.dispose();
  });
});

describe('discriminativeLr × cosineDecay', () => {
  it('with SGD each variable moves by −lr(t)·multiplier·gradient, lr(t) from the cosine (hand-computed gradients)', async () => {
    const model = mlp(3, 8, 2, 4);
    const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const { x, y } = blobs(32);
    // The loss as core computes it for softmax outputs: mean over samples of −Σ y·log(clip(p)).
    const loss = () => tf.mean(tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(model.apply(x) as tf.Tensor, 1e-7, 1 - 1e-7))), -1))) as tf.Scalar;
    const multipliers = new Map(model.layers.flatMap((layer, i) => layer.weights.map((w) => [w.name, i === 0 ? 0.25 : 1] as const)));
    const checked: number[] = [];
    let before: { grads: Map<string, Float32Array>; weights: Map<string, Float32Array> } | undefined;
    trainer.events$.pipe(ofType('batch:start')).subscribe(() => {
      const { value, grads } = tf.variableGrads(loss);
      before = {
        grads: new Map(Object.entries(grads).map(([name, g]) => [name, g.dataSync() as Float32Array])),
        weights: new Map(model.weights.map((w) => [w.name, w.read().dataSync() as Float32Array])),
      };
      tf.dispose([value, ...Object.values(grads)]);
    });
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => {
      const lr = e.learningRate;
      expect(lr).toBeCloseTo(cosineAt(e.step - 1, 0.1, 4), 12);
      for (const w of model.weights) {
        const after = w.read().dataSync();
        const m = multipliers.get(w.name)!;
        const g = before!.grads.get(w.name)!;
        const w0 = before!.weights.get(w.name)!;
        after.forEach((v, i) => expect(v - w0[i]!, `${w.name}[${i}] at step ${e.step - 1}`).toBeCloseTo(-lr * m * g[i]!, 6));
      }
      checked.push(e.step - 1);
    });
    trainer.use(cosineDecay({ totalSteps: 4, initialLr: 0.1 })).use(discriminativeLr({ groups: [0, 1], factors: [0.25, 1] }));
    await trainer.fit({ x, y }, { epochs: 3, batchSize: 32, shuffle: false, handleSignals: false });
    expect(checked).toEqual([0, 1, 2]);
    tf.dispose([x, y]);
    trainer.dispose();
  });
});
