import type * as tf from '@tensorflow/tfjs';
import type { LearningRateRecord } from '@fitstream/checkpoint';
import { getLearningRate, setLearningRate } from '@fitstream/optimizers';
import type { LearningRateBase, LearningRateModifier, LearningRatePosition, LearningRateStage } from './learning-rate-points.js';

const STAGES: readonly LearningRateStage[] = ['warmup', 'scale', 'adapt', 'override'];

/** The effective rate of one update and how it was made. */
export interface LearningRateValue {
  /** What the optimizer applies: base × every modifier's factor. */
  readonly rate: number;
  /** The base schedule's rate. */
  readonly base: number;
  /** Each modifier's factor by name, in pipeline order (frozen; the same object while nothing changes). */
  readonly factors: Readonly<Record<string, number>>;
}

/** What checkpoints keep of the pipeline: the run's base rate, the schedule's last rate and each modifier's factor. */
export type { LearningRateRecord } from '@fitstream/checkpoint';

/** Orders modifiers by stage, stably within a stage. */
export function orderModifiers(modifiers: readonly LearningRateModifier[]): LearningRateModifier[] {
  return modifiers
    .map((m, i) => ({ m, i }))
    .sort((a, b) => STAGES.indexOf(a.m.stage ?? 'scale') - STAGES.indexOf(b.m.stage ?? 'scale') || a.i - b.i)
    .map(({ m }) => m);
}

function assertRate(value: number, who: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`Learning-rate ${who} returned ${String(value)}; it must return a finite number ≥ 0.`);
  }
  return value;
}

/**
 * Computes the effective learning rate once per optimizer update (base schedule × ordered modifiers) and is the only
 * writer of the optimizer's rate. The trainer owns one per trainer, so that `initialLr` survives between fits.
 */
export class LearningRatePipeline {
  private base: LearningRateBase | undefined;
  private modifiers: readonly LearningRateModifier[] = [];
  /** The run's base rate; captured from the optimizer at the first fit, restored from checkpoints. */
  private initial: number | undefined;
  /** The last rate this pipeline wrote, to tell a user's own `setLearningRate` between fits from ours. */
  private written: number | undefined;
  private last: LearningRateValue | undefined;

  constructor(private readonly optimizer: tf.Optimizer) {}

  /** Binds this fit's plugins; adopts a rate the user set on the optimizer since the last fit as the new base. */
  begin(base: LearningRateBase | undefined, modifiers: readonly LearningRateModifier[]): void {
    this.base = base;
    this.modifiers = orderModifiers(modifiers);
    const current = getLearningRate(this.optimizer);
    if (this.initial === undefined || (this.written !== undefined && current !== this.written)) this.initial = current;
  }

  /** Continues a run from a checkpoint's record (or, for older checkpoints, its plain rate). */
  restore(record: LearningRateRecord | undefined, fallbackRate: number): void {
    this.initial = record?.initialLr ?? fallbackRate;
  }

  /** The run's base rate (before any fit: the optimizer's rate). */
  get initialLr(): number {
    return this.initial ?? getLearningRate(this.optimizer);
  }

  /** The value last computed, or the optimizer's plain rate before the first update. */
  get current(): LearningRateValue {
    return this.last ?? { rate: getLearningRate(this.optimizer), base: getLearningRate(this.optimizer), factors: {} };
  }

  record(): LearningRateRecord {
    const { base, factors } = this.current;
    return { initialLr: this.initialLr, base, factors };
  }

  /** Computes the rate of the update at `position` and writes it into the optimizer when it changed. */
  update(position: Omit<LearningRatePosition, 'initialLr'>): LearningRateValue {
    const at: LearningRatePosition = { ...position, initialLr: this.initialLr };
    const base = this.base ? assertRate(this.base.rate(at), `schedule "${this.base.name}"`) : at.initialLr;
    let rate = base;
    let factors: Record<string, number> | undefined;
    const previous = this.last?.factors;
    let changed = previous === undefined || Object.keys(previous).length !== this.modifiers.length;
    for (const modifier of this.modifiers) {
      const factor = assertRate(modifier.factor({ ...at, rate }), `modifier "${modifier.name}"`);
      (factors ??= {})[modifier.name] = factor;
      if (!changed && previous?.[modifier.name] !== factor) changed = true;
      rate *= factor;
    }
    const frozen = changed || !previous ? Object.freeze(factors ?? {}) : previous;
    this.last = { rate, base, factors: frozen };
    if (rate !== getLearningRate(this.optimizer)) setLearningRate(this.optimizer, rate);
    this.written = rate;
    return this.last;
  }
}
