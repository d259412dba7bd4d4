// One replica of the conformance suite, for the threads launcher (posts its report) and for mpirun (writes it to
// $FITSTREAM_TEST_OUT/rank-R.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { init } from '../index.js';
import { runConformance } from './conformance.js';

const ctx = await init();
const report = runConformance(ctx.comm, { large: Number(process.env.CONFORMANCE_LARGE ?? 300_007) });
if (parentPort) parentPort.postMessage(report);
else {
  mkdirSync(process.env.FITSTREAM_TEST_OUT!, { recursive: true });
  writeFileSync(`${process.env.FITSTREAM_TEST_OUT}/rank-${ctx.rank}.json`, JSON.stringify(report));
}
ctx.close();
