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
export class SeriesBuffer {
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
