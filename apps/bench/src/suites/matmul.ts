/** Timing helpers shared by the `backend` and `native` suites: median seconds of a call, matMul GFLOP/s rows. */
import * as tf from '@tensorflow/tfjs';
import { median, round, type BenchRow } from '../rows.js';

/** Median wall seconds of `fn` (after one warm-up), with fewer repeats for slow calls so the suite stays short. */
export function seconds(fn: () => void, maxRepeats: number, budget = 1.5): number {
  fn();
  const times: number[] = [];
  let spent = 0;
  while (times.length < maxRepeats && (times.length === 0 || spent < budget)) {
    const start = performance.now();
    fn();
    const t = (performance.now() - start) / 1000;
    times.push(t);
    spent += t;
  }
  return median(times);
}

/** Rows `matmul<n>_<nn|nt|tn>_<label>`: matMul GFLOP/s at each size for plain and transposed operands, on the active backend. */
export function matMulRows(label: string, sizes: readonly number[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]);
    const b = tf.randomNormal([n, n]);
    for (const [layout, ta, tb] of [['nn', false, false], ['nt', false, true], ['tn', true, false]] as const) {
      const s = seconds(() => {
        const c = tf.matMul(a, b, ta, tb);
        c.dataSync();
        c.dispose();
      }, 5);
      rows.push({ name: `matmul${n}_${layout}_${label}`, value: round((2 * n ** 3) / s / 1e9), unit: 'GFLOP/s' });
    }
    tf.dispose([a, b]);
  }
  return rows;
}
