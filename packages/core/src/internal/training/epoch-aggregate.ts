import * as tf from '@tensorflow/tfjs';

/**
 * Sample-weighted running sums of batch metrics, kept on the device: one tiny add per batch, one read per epoch.
 */
export class EpochAggregate {
  private sums: tf.Tensor1D | undefined;
  samples = 0;
  batches = 0;

  constructor(private readonly size: number) {}

  add(values: tf.Tensor1D, samples: number): void {
    const previous = this.sums;
    this.sums = tf.tidy(() => (previous ? previous.add(values.mul(samples)) : values.mul(samples)));
    tf.keep(this.sums);
    previous?.dispose();
    this.samples += samples;
    this.batches += 1;
  }

  /** Moves another aggregate's sums into this one (a finished step's batches) and resets it. */
  absorb(other: EpochAggregate): void {
    if (!other.sums) return;
    const previous = this.sums;
    this.sums = previous ? tf.keep(tf.add(previous, other.sums)) : tf.keep(other.sums.clone());
    previous?.dispose();
    this.samples += other.samples;
    this.batches += other.batches;
    other.dispose();
  }

  /** Reads the sums back (checkpoints). */
  readSums(): number[] {
    return this.sums ? Array.from(this.sums.dataSync()) : new Array<number>(this.size).fill(0);
  }

  /** Restores sums read with {@link readSums}. */
  restore(sums: readonly number[], samples: number, batches: number): void {
    this.sums?.dispose();
    this.sums = tf.keep(tf.tensor1d(sums as number[], 'float32'));
    this.samples = samples;
    this.batches = batches;
  }

  /** Sample-weighted means, one read-back. */
  async means(): Promise<number[]> {
    if (!this.sums || this.samples === 0) return new Array<number>(this.size).fill(Number.NaN);
    const means = tf.tidy(() => this.sums!.div(this.samples));
    const data = await means.data();
    means.dispose();
    return Array.from(data);
  }

  dispose(): void {
    this.sums?.dispose();
    this.sums = undefined;
    this.samples = 0;
    this.batches = 0;
  }
}
