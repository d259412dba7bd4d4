import * as tf from '@tensorflow/tfjs';
import { Subscription } from 'rxjs';
import { FitstreamInputError, createTrainer, getLearningRate, LearningRateBase, ofType, provide, setLearningRate, type DataSource, type Trainer, type TrainerOptions } from '@fitstream/core';
import { assertFiniteNumber, assertPositiveInt } from './monitor.js';
import { lineChartSvg } from './svg-plot.js';

/** Options of {@link lrFinder}: fastai `lr_find` / Lightning `lr_find` names where they exist. */
export interface LrFinderOptions {
  /** First learning rate of the sweep (default 1e-7). */
  readonly minLr?: number;
  /** Last learning rate of the sweep (default 10). */
  readonly maxLr?: number;
  /** Optimizer steps of the sweep, one batch each (default 100). */
  readonly steps?: number;
  /** Weight of the exponential moving average of the loss, debiased as in fastai (default 0.98; 0 = no smoothing). */
  readonly smoothing?: number;
  /** Stop once the smoothed loss exceeds this many times its best value (default 4, as fastai/Lightning); `null` never stops early. */
  readonly divergeThreshold?: number | null;
  /** Batch size for in-memory data (default 32). */
  readonly batchSize?: number;
  /** Points ignored at the start and end when picking the suggestion (defaults 10 and 1, as Lightning). */
  readonly skipStart?: number;
  readonly skipEnd?: number;
}

/** What {@link lrFinder} found. */
export interface LrFinderResult {
  /** Learning rate of each recorded step. */
  readonly lrs: readonly number[];
  /** Raw batch loss of each step. */
  readonly losses: readonly number[];
  /** Smoothed loss of each step. */
  readonly smoothed: readonly number[];
  /** The learning rate where the smoothed loss falls fastest (steepest descent), if there were enough points. */
  readonly suggestion: number | undefined;
  /** Whether the sweep stopped early because the loss diverged. */
  readonly diverged: boolean;
  /** An SVG line plot: loss against learning rate (log scale), the suggestion marked. */
  readonly svg: string;
}

interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Steepest descent of `values` (np.gradient over the index; log-spaced rates make it the slope in log lr). */
export function steepestIndex(values: readonly number[], skipStart: number, skipEnd: number): number | undefined {
  const from = skipStart;
  const to = values.length - skipEnd; // exclusive
  if (to - from < 3) return undefined;
  let best: number | undefined;
  let bestSlope = Number.POSITIVE_INFINITY;
  for (let i = from; i < to; i++) {
    const prev = values[i === from ? i : i - 1]!;
    const next = values[i === to - 1 ? i : i + 1]!;
    const slope = (next - prev) / (i === from || i === to - 1 ? 1 : 2);
    if (Number.isFinite(slope) && slope < bestSlope) {
      bestSlope = slope;
      best = i;
    }
  }
  return best;
}

/** Exponentially spaced rates from `minLr` to `maxLr` (both included). */
export function exponentialSweep(minLr: number, maxLr: number, steps: number): number[] {
  if (steps === 1) return [minLr];
  return Array.from({ length: steps }, (_, i) => minLr * (maxLr / minLr) ** (i / (steps - 1)));
}

/** fastai's debiased exponential moving average. */
export function smoothLosses(losses: readonly number[], beta: number): number[] {
  let avg = 0;
  return losses.map((loss, i) => {
    avg = beta * avg + (1 - beta) * loss;
    return beta === 0 ? loss : avg / (1 - beta ** (i + 1));
  });
}

const isTrainer = (t: unknown): t is Trainer => typeof t === 'object' && t !== null && 'events$' in t && typeof (t as Trainer).fit === 'function';

/**
 * The learning-rate range test (Leslie Smith; fastai `lr_find`, Lightning `Tuner.lr_find`): trains for a few steps while
 * the rate grows exponentially from `minLr` to `maxLr`, records the loss, and suggests the rate where the smoothed loss
 * falls fastest. The model's weights, the optimizer's state and its learning rate are restored afterwards.
 *
 * Runs on a private trainer that shares the model and the optimizer but none of the plugins (no checkpoints or early
 * stopping fire during the sweep). Each step reads its loss back: one device read per step.
 *
 * @example
 * ```ts
 * const { suggestion, svg } = await lrFinder(trainer, { x, y }, { minLr: 1e-6, maxLr: 1, steps: 100 });
 * writeFileSync('lr-finder.svg', svg);
 * ```
 */
export async function lrFinder(target: Trainer | TrainerOptions, data: DataSource, options: LrFinderOptions = {}): Promise<LrFinderResult> {
  const minLr = assertFiniteNumber(options.minLr ?? 1e-7, 'lrFinder: minLr', (v) => v > 0, 'a number > 0');
  const maxLr = assertFiniteNumber(options.maxLr ?? 10, 'lrFinder: maxLr', (v) => v > minLr, `a number > minLr (${minLr})`);
  const steps = assertPositiveInt(options.steps ?? 100, 'lrFinder: steps');
  const beta = assertFiniteNumber(options.smoothing ?? 0.98, 'lrFinder: smoothing', (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  const diverge = options.divergeThreshold === null ? undefined : assertFiniteNumber(options.divergeThreshold ?? 4, 'lrFinder: divergeThreshold', (v) => v > 1, 'a number > 1');
  const skipStart = Math.min(options.skipStart ?? 10, Math.floor(steps / 4));
  const skipEnd = options.skipEnd ?? 1;

  const base = isTrainer(target) ? target.options : target;
  const optimizer = isTrainer(target) ? target.optimizer : base.optimizer;
  const seed = isTrainer(target) ? target.seed : base.seed;
  if (base.loss === undefined || base.trainStep) {
    throw new FitstreamInputError('lrFinder', 'sweeps the default step (one loss, one optimizer); a trainer with a custom trainStep has no single loss to sweep — run the sweep on a trainer built with the loss you want to tune.');
  }
  const sweep = createTrainer({ model: base.model, ...(optimizer === undefined ? {} : { optimizer }), loss: base.loss, ...(seed === undefined ? {} : { seed }), backend: 'current', log: null });
  const shared = typeof optimizer === 'object';

  // The optimizer's slots and iteration count, copied (getWeights returns the live variables).
  let savedSlots: NamedTensor[] | undefined;
  const lr0 = getLearningRate(sweep.optimizer);
  if (shared) {
    try {
      const current = await sweep.optimizer.getWeights();
      savedSlots = current.map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      // getWeights returns the live slot variables plus a fresh iteration-count scalar, which is ours to dispose.
      for (const w of current) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    } catch (error) {
      sweep.dispose();
      throw new Error(`lrFinder: the ${sweep.optimizer.getClassName()} optimizer cannot save its state (${String(error)}); pass trainer options with an optimizer name so the sweep uses a fresh optimizer.`);
    }
  }

  const lrs = exponentialSweep(minLr, maxLr, steps);
  const losses: number[] = [];
  const smoothed: number[] = [];
  let diverged = false;
  let avg = 0;
  let bestSmoothed = Number.POSITIVE_INFINITY;
  sweep.use({
    name: 'lr-finder',
    // The sweep is the base schedule of the private trainer: step t trains at lrs[t].
    register: (r) => provide(r, LearningRateBase, { name: 'lr-finder', rate: (p) => lrs[Math.min(p.step, lrs.length - 1)]! }),
    attach: (events$, control) => {
      const snapshot = control.snapshotWeights();
      const subscription = new Subscription(() => snapshot.forEach((t) => t.dispose()));
      subscription.add(
        events$.pipe(ofType('batch:end')).subscribe((e) => {
          const loss = e.metrics.loss;
          losses.push(loss);
          avg = beta * avg + (1 - beta) * loss;
          const s = beta === 0 ? loss : avg / (1 - beta ** losses.length);
          smoothed.push(s);
          if (!Number.isFinite(s) || (diverge !== undefined && losses.length > 1 && s > diverge * bestSmoothed)) {
            diverged = true;
            control.stop('lrFinder: loss diverged');
          }
          bestSmoothed = Math.min(bestSmoothed, s);
        }),
      );
      subscription.add(
        events$.pipe(ofType('step:end')).subscribe((e) => {
          if (e.step >= steps) control.stop('lrFinder: sweep done');
        }),
      );
      subscription.add(events$.pipe(ofType('fit:end')).subscribe(() => control.restoreWeights(snapshot)));
      return subscription;
    },
  });

  try {
    await sweep.fit(data, { epochs: steps, batchSize: options.batchSize ?? 32, handleSignals: false, checkData: 'never' });
  } finally {
    if (savedSlots) {
      const live = await sweep.optimizer.getWeights();
      await sweep.optimizer.setWeights(savedSlots);
      // setWeights builds new slot variables; the sweep's own are no longer referenced.
      for (const w of live) w.tensor.dispose();
      for (const w of savedSlots) w.tensor.dispose();
    }
    if (shared) setLearningRate(sweep.optimizer, lr0);
    sweep.dispose();
  }

  const recordedLrs = lrs.slice(0, losses.length);
  const index = steepestIndex(smoothed, skipStart, skipEnd);
  const suggestion = index === undefined ? undefined : recordedLrs[index];
  const first = smoothed.find(Number.isFinite);
  const svg = lineChartSvg({
    x: recordedLrs,
    logX: true,
    title: 'Learning-rate range test',
    xLabel: 'learning rate (log scale)',
    yLabel: 'loss',
    series: [
      { values: losses, color: '#1f77b4', opacity: 0.35, width: 1, label: 'loss' },
      { values: smoothed, color: '#1f77b4', label: 'smoothed loss' },
    ],
    ...(first === undefined ? {} : { yMax: Math.max(first * 1.5, smoothed.reduce((low, v) => (Number.isFinite(v) ? Math.min(low, v) : low), Infinity) * 4) }),
    ...(index === undefined || suggestion === undefined ? {} : { marker: { x: suggestion, y: smoothed[index]!, label: `suggested ${suggestion.toExponential(1)}` } }),
  });
  return { lrs: recordedLrs, losses, smoothed, suggestion, diverged, svg };
}
