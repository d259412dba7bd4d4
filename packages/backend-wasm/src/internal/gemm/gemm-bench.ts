/**
 * Measures the two-thread GEMM prototype against tfjs-backend-wasm's matMul on the MLP's products and 1024³
 * (issue 18). Not part of the build (tsconfig.build.json excludes it) nor of the tests; run it from the package with
 *
 *   npx tsx --conditions=@fitstream/source src/internal/gemm/gemm-bench.ts [--with-kernels] [--rounds 7]
 *
 * `--with-kernels` installs fitstream's wasm kernels first, so the tfjs row is what training runs today (NT and TN
 * through fitstream's transposed matMul) instead of the stock kernels. Every tfjs call gets a new right-hand tensor, so
 * XNNPACK packs its weights each call, as in a training step. The GEMM's operands are views of tfjs' wasm heap, as an
 * integrated kernel would see them. Rounds interleave the variants; each round's time is the median of its calls;
 * the table shows the median round and the spread (min–max of the rounds).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels } from '../install-wasm-kernels.js';
import { createTwoThreadGemm, type GemmShape, type TwoThreadGemm } from './two-thread-gemm.js';

interface Case extends Required<GemmShape> {
  readonly label: string;
}

const CASES: readonly Case[] = [
  { label: 'x·W1 [64,784]·[784,256]', m: 64, k: 784, n: 256, transposeA: false, transposeB: false },
  { label: 'h·W2 [64,256]·[256,256]', m: 64, k: 256, n: 256, transposeA: false, transposeB: false },
  { label: 'dW1 [64,784]ᵀ·[64,256]', m: 784, k: 64, n: 256, transposeA: true, transposeB: false },
  { label: 'dx [64,256]·[784,256]ᵀ', m: 64, k: 256, n: 784, transposeA: false, transposeB: true },
  // The MLP step's other two 256-wide products (not in issue 18's list; for the step estimate).
  { label: 'dW2 [64,256]ᵀ·[64,256]', m: 256, k: 64, n: 256, transposeA: true, transposeB: false },
  { label: 'dh1 [64,256]·[256,256]ᵀ', m: 64, k: 256, n: 256, transposeA: false, transposeB: true },
  { label: '1024³ NN', m: 1024, k: 1024, n: 1024, transposeA: false, transposeB: false },
];

const args = process.argv.slice(2);
const withKernels = args.includes('--with-kernels');
const roundsArg = args.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(args[roundsArg + 1]) : 7;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Calls per round: about 40 ms of work, at least 3. */
const callsFor = (c: Case): number => Math.max(3, Math.min(50, Math.round(4e7 / (2 * c.m * c.k * c.n) * 4)));

interface Sample {
  tfjs: number[];
  one: number[];
  two: number[];
  twoCompute: number[];
  oneCompute: number[];
  load: number[];
  read: number[];
  workerShare: number[];
}

function filled(length: number, seed: number): Float32Array {
  // A cheap deterministic fill (values in [−1, 1)): benchmarks need no statistical quality.
  const out = new Float32Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 31 - 1;
  }
  return out;
}

function timeTfjs(c: Case, a: tf.Tensor2D, bValues: Float32Array, calls: number): number {
  const times: number[] = [];
  const bShape: [number, number] = c.transposeB ? [c.n, c.k] : [c.k, c.n];
  for (let i = 0; i < calls; i++) {
    const b = tf.tensor2d(bValues, bShape); // new weights: XNNPACK re-packs them
    const start = performance.now();
    const out = tf.matMul(a, b, c.transposeA, c.transposeB);
    times.push(performance.now() - start);
    out.dispose();
    b.dispose();
  }
  return median(times);
}

function timeGemm(gemm: TwoThreadGemm, c: Case, a: Float32Array, b: Float32Array, out: Float32Array, threads: 1 | 2, calls: number): { total: number; compute: number; load: number; read: number; workerShare: number } {
  const total: number[] = [];
  const share: number[] = [];
  const compute: number[] = [];
  const load: number[] = [];
  const read: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    gemm.load(a, b, c);
    const t1 = performance.now();
    gemm.compute(threads);
    const t2 = performance.now();
    gemm.read(out);
    const t3 = performance.now();
    const { main, worker } = gemm.lastChunks();
    share.push(worker / (main + worker));
    total.push(t3 - t0);
    compute.push(t2 - t1);
    load.push(t1 - t0);
    read.push(t3 - t2);
  }
  return { total: median(total), compute: median(compute), load: median(load), read: median(read), workerShare: median(share) };
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  if (withKernels) installWasmKernels(tf);
  const backend = tf.backend() as unknown as { typedArrayFromHeap(info: tf.TensorInfo): Float32Array };
  const gemm = await createTwoThreadGemm();
  const samples = new Map<Case, Sample>(CASES.map((c) => [c, { tfjs: [], one: [], two: [], twoCompute: [], oneCompute: [], load: [], read: [], workerShare: [] }]));
  try {
    const operands = CASES.map((c, index) => {
      const aValues = filled(c.m * c.k, 2 * index + 1);
      const bValues = filled(c.k * c.n, 2 * index + 2);
      const a = tf.tensor2d(aValues, c.transposeA ? [c.k, c.m] : [c.m, c.k]);
      const bHeld = tf.tensor2d(bValues, c.transposeB ? [c.n, c.k] : [c.k, c.n]);
      return { a, bHeld, bValues, out: new Float32Array(c.m * c.n) };
    });
    for (let round = -1; round < ROUNDS; round++) {
      CASES.forEach((c, index) => {
        const { a, bHeld, bValues, out } = operands[index]!;
        const calls = round < 0 ? 2 : callsFor(c);
        const t = timeTfjs(c, a, bValues, calls);
        // Heap views taken after the tfjs calls: a growing wasm heap detaches the views taken before.
        const one = timeGemm(gemm, c, backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(bHeld), out, 1, calls);
        const two = timeGemm(gemm, c, backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(bHeld), out, 2, calls);
        if (round < 0) return;
        const s = samples.get(c)!;
        s.tfjs.push(t);
        s.one.push(one.total);
        s.oneCompute.push(one.compute);
        s.two.push(two.total);
        s.twoCompute.push(two.compute);
        s.load.push(two.load);
        s.read.push(two.read);
        s.workerShare.push(two.workerShare);
      });
    }
    report(samples);
    for (const { a, bHeld } of operands) {
      a.dispose();
      bHeld.dispose();
    }
  } finally {
    await gemm.dispose();
  }
}

function report(samples: Map<Case, Sample>): void {
  const fmt = (values: readonly number[], flops: number): string => {
    const mid = median(values);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    return `${mid.toFixed(3)} ms (${lo.toFixed(3)}–${hi.toFixed(3)}) ${(flops / mid / 1e6).toFixed(1)} GF/s`;
  };
  console.log(`tfjs-backend-wasm ${withKernels ? 'with fitstream kernels' : 'stock'}; ${ROUNDS} rounds; median round (min–max)`);
  for (const [c, s] of samples) {
    const flops = 2 * c.m * c.k * c.n;
    console.log(`\n${c.label}  (${(flops / 1e6).toFixed(1)} MFLOP)`);
    console.log(`  (a) tfjs matMul, new B      ${fmt(s.tfjs, flops)}`);
    console.log(`  (b) gemm 1 thread, total    ${fmt(s.one, flops)}   compute ${fmt(s.oneCompute, flops)}`);
    console.log(`  (c) gemm 2 threads, total   ${fmt(s.two, flops)}   compute ${fmt(s.twoCompute, flops)}   worker took ${(median(s.workerShare) * 100).toFixed(0)} % of the chunks`);
    console.log(`  (d) copy in / copy out      ${median(s.load).toFixed(3)} / ${median(s.read).toFixed(3)} ms = ${((median(s.load) + median(s.read)) / median(s.two) * 100).toFixed(0)} % of (c)`);
    console.log(`  (c) vs (a): ×${(median(s.tfjs) / median(s.two)).toFixed(2)}   (b) vs (a): ×${(median(s.tfjs) / median(s.one)).toFixed(2)}`);
  }
}

await main();
