/** A series of steps and values in two columns (typed arrays of the same length). */
export interface StepSeries {
  readonly steps: Float64Array;
  readonly values: Float64Array;
}

/**
 * Appends (step, value) pairs to two growing Float64Arrays: 16 bytes a point instead of an object per step (a
 * million-step run's curves stay a few megabytes, and the garbage collector has nothing to trace). `view()` is O(1)
 * and stays valid: what it shows is never written again (growing copies into new arrays).
 */
export class SeriesBuffer implements StepSeriesSink {
  private steps = new Float64Array(256);
  private values = new Float64Array(256);
  private length = 0;

  push(step: number, value: number): void {
    if (this.length === this.steps.length) {
      const steps = new Float64Array(this.length * 2);
      const values = new Float64Array(this.length * 2);
      steps.set(this.steps);
      values.set(this.values);
      this.steps = steps;
      this.values = values;
    }
    this.steps[this.length] = step;
    this.values[this.length] = value;
    this.length += 1;
  }

  view(): StepSeries {
    return { steps: this.steps.subarray(0, this.length), values: this.values.subarray(0, this.length) };
  }
}

/** What a report collects a per-step curve into: {@link SeriesBuffer} (every point) or {@link DecimatedSeries}. */
export interface StepSeriesSink {
  push(step: number, value: number): void;
  view(): StepSeries;
}

/**
 * A per-step curve of bounded size for a live view, whatever the run's length: the steps are cut into at most
 * `buckets` equal ranges, and each keeps its first, lowest, highest and last point (M4, as the charts draw them) and its
 * first non-finite one (so that a chart still says points were not drawn). When the steps outgrow the buckets, pairs of
 * neighbours merge and the ranges double. `push` is O(1) amortised, `view` O(buckets): a frame of a live dashboard
 * costs the same after a million steps as after a thousand. With more buckets than pixel columns (4096 by default,
 * about twice the widest chart's), every spike and dip stays drawn and the curve looks as the full one. Steps must
 * increase (an earlier step than the first is dropped); while they fit in the buckets one apiece, every point is kept.
 */
export class DecimatedSeries implements StepSeriesSink {
  // Per bucket, five points (first, low, high, last, first non-finite), each a step and a value; NaN step: none.
  private readonly steps: Float64Array;
  private readonly values: Float64Array;
  private origin = Number.NaN;
  private width = 1;
  private used = 0;

  constructor(private readonly buckets = 4096) {
    if (!Number.isInteger(buckets) || buckets < 2 || buckets % 2 !== 0) throw new RangeError(`DecimatedSeries: buckets must be an even integer ≥ 2, got ${buckets}.`);
    this.steps = new Float64Array(buckets * 5).fill(Number.NaN);
    this.values = new Float64Array(buckets * 5);
  }

  push(step: number, value: number): void {
    if (Number.isNaN(this.origin)) this.origin = step;
    let b = Math.floor((step - this.origin) / this.width);
    while (b >= this.buckets) {
      this.halve();
      b = Math.floor((step - this.origin) / this.width);
    }
    if (b < 0) return; // a step before the first: not in order
    this.used = Math.max(this.used, b + 1);
    const at = b * 5;
    if (!Number.isFinite(value)) {
      if (Number.isNaN(this.steps[at + 4]!)) this.set(at + 4, step, value);
      return;
    }
    if (Number.isNaN(this.steps[at]!)) {
      for (let k = 0; k < 4; k++) this.set(at + k, step, value);
      return;
    }
    if (value < this.values[at + 1]!) this.set(at + 1, step, value);
    if (value > this.values[at + 2]!) this.set(at + 2, step, value);
    this.set(at + 3, step, value);
  }

  view(): StepSeries {
    const steps: number[] = [];
    const values: number[] = [];
    const picks: number[] = [];
    for (let b = 0; b < this.used; b++) {
      picks.length = 0;
      for (let k = 0; k < 5; k++) if (!Number.isNaN(this.steps[b * 5 + k]!)) picks.push(b * 5 + k);
      picks.sort((i, j) => this.steps[i]! - this.steps[j]!);
      picks.forEach((i, n) => {
        if (n > 0 && this.steps[i] === this.steps[picks[n - 1]!] && this.values[i] === this.values[picks[n - 1]!]) return; // one point kept twice
        steps.push(this.steps[i]!);
        values.push(this.values[i]!);
      });
    }
    return { steps: Float64Array.from(steps), values: Float64Array.from(values) };
  }

  private set(i: number, step: number, value: number): void {
    this.steps[i] = step;
    this.values[i] = value;
  }

  /** Merges neighbouring buckets pairwise: ranges twice as wide, half as many. */
  private halve(): void {
    for (let b = 0; b < this.buckets / 2; b++) {
      const [to, left, right] = [b * 5, 2 * b * 5, (2 * b + 1) * 5];
      const has = (at: number) => !Number.isNaN(this.steps[at]!);
      const l = has(left);
      const r = has(right);
      const nonFinite = has(left + 4) ? left + 4 : right + 4;
      const [lo, hi, first, last] = !l
        ? [right + 1, right + 2, right, right + 3]
        : !r
          ? [left + 1, left + 2, left, left + 3]
          : [this.values[right + 1]! < this.values[left + 1]! ? right + 1 : left + 1, this.values[right + 2]! > this.values[left + 2]! ? right + 2 : left + 2, left, right + 3];
      // Read every source before writing: bucket b's slots are the left source's when b = 0.
      const sources = [first, lo, hi, last, nonFinite].map((s) => [this.steps[s]!, this.values[s]!] as const);
      sources.forEach(([step, value], k) => this.set(to + k, step, value));
    }
    this.steps.fill(Number.NaN, (this.buckets / 2) * 5);
    this.width *= 2;
    this.used = Math.ceil(this.used / 2);
  }
}
