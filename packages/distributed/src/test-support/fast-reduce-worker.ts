// A thread replica that runs many back-to-back small all-reduces (the one-barrier path) while one rank at a time lags,
// and reports how many results differ from the exact sums. A rank that reused a buffer half a slower peer still reads
// would corrupt that peer's sums.
import { parentPort } from 'node:worker_threads';
import { init } from '../index.js';

const ctx = await init();
const { rank, size } = ctx.comm;
const lengths = [1, 5, 1000, 3];
let wrong = 0;
let checks = 0;
for (let i = 0; i < 3000; i++) {
  const n = lengths[i % lengths.length]!;
  const buf = Float32Array.from({ length: n }, (_, j) => ((i * 31 + rank * 7 + j) % 97) - 48);
  if (i % size === rank) {
    const until = performance.now() + (i % 7) * 0.02; // lag a little: the others run ahead into the next operation
    while (performance.now() < until);
  }
  ctx.comm.allreduce(buf, 'sum');
  for (let j = 0; j < n; j++) {
    let want = 0;
    for (let r = 0; r < size; r++) want += ((i * 31 + r * 7 + j) % 97) - 48;
    checks += 1;
    if (buf[j] !== want) wrong += 1;
  }
  if (i % 500 === 0) ctx.comm.barrier(); // other collectives interleaved
}
parentPort!.postMessage({ rank, wrong, checks });
ctx.close();
