// One MPI rank for the heartbeat tests: joins the group, then all-reduces in a loop. At iteration 5 rank VICTIM
// writes FITSTREAM_TEST_OUT/victim.json ({ pid, at }) and kills (HOW=kill) or freezes (HOW=stop) itself; every other
// rank writes the error its collective threw to FITSTREAM_TEST_OUT/rank-R.json ({ name, reason, lostRanks, message, at }).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { init } from '../index.js';

const out = process.env.FITSTREAM_TEST_OUT!;
mkdirSync(out, { recursive: true });
const ctx = await init();
const victim = Number(process.env.VICTIM ?? 1);
const buf = new Float32Array(16);
try {
  for (let i = 0; i < 1_000_000; i++) {
    if (i === 5 && ctx.rank === victim) {
      writeFileSync(join(out, 'victim.json'), JSON.stringify({ pid: process.pid, at: Date.now() }));
      process.kill(process.pid, process.env.HOW === 'stop' ? 'SIGSTOP' : 'SIGKILL');
    }
    ctx.comm.allreduce(buf);
  }
  throw new Error('no fault was seen');
} catch (error) {
  const e = error as { name: string; message: string; reason?: string; lostRanks?: readonly number[] };
  writeFileSync(join(out, `rank-${ctx.rank}.json`), JSON.stringify({ name: e.name, reason: e.reason ?? null, lostRanks: e.lostRanks ?? null, message: e.message, at: Date.now() }));
  throw error;
}
