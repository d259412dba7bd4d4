import * as tf from '@tensorflow/tfjs';
import { Window } from 'happy-dom';
import { Subject } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTrainer, FitstreamInputError, hostLazyValues, selectBackend, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { liveDashboard, type LiveDashboardOptions } from '../../index.js';
import { describeOnBackends } from '../../test-support/backends.js';
import { blobs, mlp } from '../../test-support/fixtures.js';

let window: Window;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  window = new Window();
});
afterAll(async () => {
  await window.happyDOM.close();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** A fresh element in happy-dom's document. */
function element() {
  const el = window.document.createElement('div');
  window.document.body.appendChild(el);
  return el;
}

const CLASSES = ['circle', 'square', 'triangle'];

function classifier(model = mlp(3, 8, 3)) {
  return createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
}

describe('liveDashboard in a DOM', () => {
  it('draws the curves (labelled axes, paths), the learning rate, the progress and a confusion matrix of the last epoch', async () => {
    const el = element();
    const model = mlp(3, 8, 3);
    const trainer = classifier(model);
    const train = blobs(96, 3, 3, 5);
    const val = blobs(45, 3, 3, 9);
    // everyMs 0: a redraw and a sample of the batch metrics whenever the loop lets one through (a short fit).
    const dashboard = liveDashboard({ element: el, title: 'Shapes <MLP>', everyMs: 0, confusionMatrix: { data: () => val, classes: CLASSES, batchSize: 16 } });
    trainer.use(dashboard);
    await trainer.fit(train, { epochs: 3, batchSize: 16, validation: val, handleSignals: false });

    expect(dashboard.frames).toBeGreaterThanOrEqual(1);
    const root = el.querySelector('.fitstream-dashboard')!;
    expect(root.querySelector('.heading')!.textContent).toBe('Shapes <MLP>');
    expect(root.querySelector('.status')!.textContent).toMatch(/^finished · 3 epochs · 18 steps · /);
    expect(root.querySelector('.metrics')!.textContent).toMatch(/^epoch 3: loss [\d.]+ · accuracy [\d.]+ · val_loss [\d.]+ · val_accuracy [\d.]+$/);
    expect((root.querySelector('.bar .done') as unknown as { style: { width: string } }).style.width).toBe('100%');

    // The report's panels: loss and accuracy per step and per epoch, then the learning rate.
    const charts = root.querySelector('svg.live-dashboard-charts')!;
    const titles = [...charts.querySelectorAll('.panel > text.title')].map((t) => t.textContent.replace(' (log scale)', ''));
    expect(titles).toEqual(['loss per step', 'loss per epoch', 'accuracy per step', 'accuracy per epoch', 'learning rate per step']);
    const panels = [...charts.querySelectorAll('g.panel')];
    for (const panel of panels) {
      expect(panel.querySelectorAll('.y-axis text').length).toBeGreaterThanOrEqual(2);
      expect(panel.querySelectorAll('.x-axis text:not(.x-label)').length).toBeGreaterThanOrEqual(2);
      expect(['step', 'epoch']).toContain(panel.querySelector('.x-axis .x-label')!.textContent);
      for (const path of panel.querySelectorAll('.series.line path')) expect(path.getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/);
    }
    expect([...panels[1]!.querySelectorAll('.legend-item')].map((l) => l.getAttribute('data-label'))).toEqual(['train', 'validation']);
    // Per step: the raw points the dashboard sampled (one read at a time, never more than one per step) and the smoothed line through them.
    const sampled = dashboard.data!.stepValues['loss']!.steps.length;
    expect(sampled).toBeGreaterThan(1);
    expect(sampled).toBeLessThanOrEqual(18);
    expect(panels[0]!.querySelectorAll('.series.scatter circle')).toHaveLength(sampled);
    expect(dashboard.data!.learningRate.steps.length).toBe(18);
    expect(dashboard.data!.epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);

    // The confusion matrix equals one computed here from the model's predictions.
    const scores = tf.tidy(() => (model.predict(val.x) as tf.Tensor).argMax(-1).arraySync() as number[]);
    const truth = tf.tidy(() => val.y.argMax(-1).arraySync() as number[]);
    const expected = Array.from({ length: 9 }, () => 0);
    truth.forEach((t, i) => (expected[t * 3 + scores[i]!]! += 1));
    const cells = [...root.querySelectorAll('svg.confusion-matrix g.cell')];
    expect(cells).toHaveLength(9);
    expect(cells.map((c) => Number(c.getAttribute('data-count')))).toEqual(expected);
    expect(Array.from(dashboard.confusion!.counts)).toEqual(expected);
    expect(dashboard.confusion!.epoch).toBe(2);
    const matrix = root.querySelector('svg.confusion-matrix')!;
    expect([...matrix.querySelectorAll('.y-axis text')].map((t) => t.textContent)).toEqual(CLASSES);
    expect([...matrix.querySelectorAll('.x-axis text')].map((t) => t.textContent)).toEqual(CLASSES);
    const correct = expected[0]! + expected[4]! + expected[8]!;
    expect(matrix.querySelector('.title')!.textContent).toBe('Confusion matrix · epoch 3');
    expect(matrix.querySelector('.summary')!.textContent).toBe(`accuracy ${Number((correct / 45).toPrecision(4))} on 45 examples`);
    trainer.dispose();
    tf.dispose([train.x, train.y, val.x, val.y]);
  });

  it('keeps tf.memory().numTensors flat across epochs with the confusion matrix on (data made inside the function is freed)', async () => {
    const trainer = classifier();
    const train = blobs(64, 3, 3, 5);
    const x = tf.randomNormal([40, 3], 0, 1, 'float32', 3);
    const labels = Array.from({ length: 40 }, (_, i) => i % 3);
    // A function that makes new tensors at every call: they are made and freed inside the dashboard's tidy.
    const data = () => ({ x: tf.mul(x, 1), y: tf.tensor1d(labels, 'int32') });
    trainer.use(liveDashboard({ element: element(), confusionMatrix: { data, classes: CLASSES } }));
    const counts: number[] = [];
    trainer.events$.subscribe((e) => {
      if (e.type === 'epoch:start') counts.push(tf.memory().numTensors);
    });
    await trainer.fit(train, { epochs: 5, batchSize: 16, handleSignals: false });
    expect(counts.slice(1)).toEqual(Array.from({ length: 4 }, () => counts[1]));
    trainer.dispose();
    tf.dispose([train.x, train.y, x]);
  });

  it('fails the fit with a clear error for a model that is no classifier of the given classes', async () => {
    const trainer = createTrainer({ model: mlp(3, 8, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const train = blobs(32, 3, 2, 5);
    trainer.use(liveDashboard({ element: element(), confusionMatrix: { data: train, classes: CLASSES } }));
    const fit = trainer.fit(train, { epochs: 1, batchSize: 16, handleSignals: false });
    await expect(fit).rejects.toThrow(FitstreamInputError);
    await expect(fit).rejects.toThrow(/output has shape \[32, 2\].*class scores \[batch, 3\].*classification models only/);
    trainer.dispose();
    tf.dispose([train.x, train.y]);
  });
});

describeOnBackends('liveDashboard confusion matrix', (backend) => {
  beforeAll(async () => {
    await selectBackend({ prefer: backend, log: null });
  });
  afterAll(async () => {
    await selectBackend({ prefer: 'cpu', log: null });
  });

  it('counts exactly what the model predicts, for one-hot targets and class indices [n] and [n, 1]', async () => {
    const train = blobs(48, 3, 3, 5);
    const indices = tf.tidy(() => train.y.argMax(-1));
    const truth = indices.arraySync() as number[];
    const targets = { 'one-hot': train.y, '[n]': indices, '[n, 1]': tf.reshape(indices, [-1, 1]) };
    for (const [name, y] of Object.entries(targets)) {
      const model = mlp(3, 8, 3);
      const trainer = classifier(model);
      const dashboard = liveDashboard({ element: { innerHTML: '' }, confusionMatrix: { data: { x: train.x, y }, classes: CLASSES, batchSize: 20 } });
      await trainer.use(dashboard).fit(train, { epochs: 1, batchSize: 16, handleSignals: false });
      const predicted = tf.tidy(() => (model.predict(train.x) as tf.Tensor).argMax(-1).arraySync() as number[]);
      const expected = Array.from({ length: 9 }, () => 0);
      truth.forEach((t, i) => (expected[t * 3 + predicted[i]!]! += 1));
      expect([name, Array.from(dashboard.confusion!.counts)]).toEqual([name, expected]);
      trainer.dispose();
    }
    tf.dispose([train.x, train.y, targets['[n]'], targets['[n, 1]']]);
  });
});

/** A fit driven by hand (a Subject), to control time exactly. */
function drive(options: Partial<LiveDashboardOptions> = {}) {
  const el = { innerHTML: '' };
  const dashboard = liveDashboard({ element: el, ...options });
  const events$ = new Subject<TrainerEvent>();
  const control = { metricNames: ['loss', 'accuracy'], await: () => undefined } as unknown as TrainerControl;
  const subscription = dashboard.attach!(events$, control) as { unsubscribe(): void };
  let step = 0;
  const emit = (e: object) => events$.next({ time: 0, ...e } as TrainerEvent);
  emit({ type: 'fit:start', epochs: 2, initialEpoch: 0, batchSize: 8, batchesPerEpoch: 1000, samples: 8000, accumulateBatches: 1, step: 0, learningRate: 0.1, resumedFrom: undefined });
  emit({ type: 'epoch:start', epoch: 0, step: 0, batchesPerEpoch: 1000 });
  const steps = (n: number) => {
    for (let i = 0; i < n; i++) {
      const metrics = hostLazyValues({ loss: 1 / (step + 1), accuracy: 0.5 });
      emit({ type: 'batch:end', epoch: 0, step, batch: step, size: 8, metrics });
      step += 1;
      emit({ type: 'step:end', epoch: 0, step, batch: step - 1, samples: 8, skipped: false, learningRate: 0.1, learningRateFactors: {}, metrics });
    }
  };
  const end = () => emit({ type: 'fit:end', epoch: 0, step, reason: 'stopped', stopReason: 'enough', error: undefined, history: { epochs: [], logs: {}, learningRate: [], learningRateFactors: {} } });
  return { el, dashboard, steps, end, subscription };
}

describe('liveDashboard throttling and timers', () => {
  it('redraws at most once per everyMs, however many events arrive', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { el, dashboard, steps } = drive({ everyMs: 500 });
    await vi.advanceTimersByTimeAsync(0);
    expect(dashboard.frames).toBe(1); // the first frame at once
    for (let t = 0; t < 490; t += 10) {
      steps(100);
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(dashboard.frames).toBe(1); // 4,900 steps in 490 ms: no redraw yet
    await vi.advanceTimersByTimeAsync(20);
    expect(dashboard.frames).toBe(2);
    expect(el.innerHTML).toContain('batch 4900/1000'); // (the hand-made fit has no epoch ends)
    expect(vi.getTimerCount()).toBe(0); // nothing changed since: nothing pending
    steps(1);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('keeps curves of bounded size however long the run, so that a frame costs the same after 100k steps', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { dashboard, steps } = drive({ everyMs: 500 });
    steps(100_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(dashboard.frames).toBe(1);
    const data = dashboard.data!;
    expect(data.learningRate.steps.length).toBeLessThanOrEqual(5 * 4096);
    expect(data.stepValues['loss']!.steps.length).toBeLessThanOrEqual(5 * 4096);
    expect(data.learningRate.steps[data.learningRate.steps.length - 1]).toBe(100_000);
  });

  it('draws on an animation frame when the page has them', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    vi.stubGlobal('requestAnimationFrame', (cb: () => void) => setTimeout(cb, 16) as unknown as number);
    vi.stubGlobal('cancelAnimationFrame', (id: number) => clearTimeout(id));
    const { dashboard } = drive({ everyMs: 100 });
    await vi.advanceTimersByTimeAsync(15);
    expect(dashboard.frames).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(dashboard.frames).toBe(1);
  });

  it('stops its timers and keeps the last frame on dispose, on unsubscribe and at fit end', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    for (const how of ['dispose', 'unsubscribe', 'fit end'] as const) {
      const { el, dashboard, steps, end, subscription } = drive({ everyMs: 500 });
      await vi.advanceTimersByTimeAsync(0);
      steps(10);
      expect(vi.getTimerCount()).toBe(1);
      const frames = dashboard.frames;
      if (how === 'dispose') dashboard.dispose();
      else if (how === 'unsubscribe') subscription.unsubscribe();
      else end();
      expect(vi.getTimerCount()).toBe(0);
      const last = el.innerHTML;
      expect(last).toContain('fitstream-dashboard');
      await vi.advanceTimersByTimeAsync(5000);
      steps(10); // (ignored after dispose or unsubscribe)
      await vi.advanceTimersByTimeAsync(5000);
      expect(vi.getTimerCount()).toBe(0);
      // Fit end draws the final frame (the outcome) at once; otherwise the last frame stays as it was.
      expect(dashboard.frames).toBe(how === 'fit end' ? frames + 1 : frames);
      expect(el.innerHTML).toBe(last);
      if (how === 'fit end') expect(last).toContain('stopped: enough');
      dashboard.dispose(); // idempotent
    }
  });
});

describe('liveDashboard options', () => {
  it('refuses bad options with a FitstreamInputError naming the option and the fix', () => {
    const el = { innerHTML: '' };
    const cases: [unknown, RegExp][] = [
      [undefined, /options are required/],
      [{ element: null }, /options\.element must be a DOM element.*got null \(no element matched/],
      [{}, /options\.element must be a DOM element.*querySelector/],
      [{ element: 'div' }, /options\.element must be a DOM element/],
      [{ element: el, everyMs: -1 }, /everyMs must be a number of milliseconds ≥ 0/],
      [{ element: el, everyMs: Number.NaN }, /everyMs/],
      [{ element: el, smoothing: 1 }, /smoothing: must be in \[0, 1\)/],
      [{ element: el, confusionMatrix: { data: () => ({}), classes: ['one'] } }, /confusionMatrix\.classes must be the class names \(at least 2/],
      [{ element: el, confusionMatrix: { data: null, classes: CLASSES } }, /confusionMatrix\.data must be \{ x, y \}/],
      [{ element: el, confusionMatrix: { data: () => ({}), classes: CLASSES, batchSize: 0 } }, /batchSize must be an integer ≥ 1/],
    ];
    for (const [options, message] of cases) {
      expect(() => liveDashboard(options as LiveDashboardOptions)).toThrow(FitstreamInputError);
      expect(() => liveDashboard(options as LiveDashboardOptions)).toThrow(message);
    }
  });
});
