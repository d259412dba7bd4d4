import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasMpirun, type LaunchResult } from '../../index.js';
import { launchMpi } from '../../test-support/launch-helpers.js';
import type { FaultErrorRecord as ErrorRecord, FaultReport as Report } from '../../test-support/fault-reports.js';

const mpi = hasMpirun();
if (!mpi && process.env.CI === 'true') throw new Error('CI=true but mpirun is missing: .ci/run installs openmpi-bin and libopenmpi-dev before the tests.');
if (!mpi) console.warn('MPI fault tests skipped: mpirun is not on the PATH (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; CI installs it).');
const out = mkdtempSync(join(tmpdir(), 'fitstream-mpi-faults-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Probe {
  pid: number;
  step: number;
  restartCount: number;
  at: number;
}

const base = { MODE: 'backup', OPT: 'adam', MODEL: 'same', N: '40', BATCH: '4', EPOCHS: '4', EVERY: '3' };
const readJson = <T,>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const readReport = (dir: string, rank: number): Report => readJson<Report>(join(dir, `rank-${rank}.json`));

/** A step in [lo, hi] drawn from a fixed seed (reproducible trials at different steps). */
function faultStep(seed: number, lo: number, hi: number): number {
  const x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return lo + (x % (hi - lo + 1));
}

/**
 * From outside the job, like an OOM killer or an operator: waits until `rank` of the first attempt has finished step
 * `step` (its probe file), then sends `signal` to its pid. Resolves with the pid, the step it had reached and when.
 */
async function signalAt(probe: string, rank: number, step: number, signal: NodeJS.Signals, job: Promise<unknown>): Promise<{ pid: number; step: number; at: number }> {
  let settled = false;
  void job.finally(() => (settled = true));
  const file = join(probe, `rank-${rank}.json`);
  while (!settled) {
    let p: Probe | undefined;
    try {
      p = existsSync(file) ? readJson<Probe>(file) : undefined;
    } catch {
      p = undefined; // caught mid-write
    }
    if (p && p.restartCount === 0 && p.step >= step) {
      process.kill(p.pid, signal);
      return { pid: p.pid, step: p.step, at: Date.now() };
    }
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  throw new Error(`rank ${rank} never reached step ${step}`);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let clean: Report | undefined;
async function reference(): Promise<Report> {
  if (clean) return clean;
  const dir = join(out, 'clean');
  const result = await launchMpi('./resume-worker.ts', 2, { env: { ...base, FITSTREAM_TEST_OUT: dir, BACKUP: join(out, 'clean-backup', 'backup') }, timeoutMs: 60_000 });
  expect(result.ok).toBe(true);
  clean = readReport(dir, 0);
  expect(readReport(dir, 1).weights).toEqual(clean.weights);
  return clean;
}

/** Runs a job with one fault from outside, then checks the restart: every rank resumed from rank 0's backup, bitwise. */
async function faultedRun(
  name: string,
  fault: { readonly rank: number; readonly step: number; readonly signal: NodeJS.Signals },
  options: { readonly heartbeatTimeoutMs?: number } = {},
): Promise<{ result: LaunchResult; fault: { pid: number; step: number; at: number }; attemptEnd: number; survivor: ErrorRecord | undefined; resumedIn: number }> {
  const expected = await reference();
  const root = join(out, name);
  const dir = join(root, 'reports');
  const started = Date.now();
  const job = launchMpi('./resume-worker.ts', 2, {
    env: { ...base, FITSTREAM_TEST_OUT: dir, BACKUP: join(root, 'backup'), PROBE: join(root, 'probe'), STEP_DELAY_MS: '60' },
    timeoutMs: 60_000,
    maxRestarts: 1,
    ...(options.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: options.heartbeatTimeoutMs }),
  });
  let done: { pid: number; step: number; at: number } | undefined;
  try {
    done = await signalAt(join(root, 'probe'), fault.rank, fault.step, fault.signal, job);
    const result = await job;
    expect(result.ok, JSON.stringify(result.attempts)).toBe(true);
    expect(result.restarts).toBe(1);
    // mpirun ends the lost rank (a stopped one too: SIGKILL reaches it); its exit may be reaped a moment after the job.
    const gone = Date.now() + 10_000;
    while (alive(done.pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(alive(done.pid), `rank ${fault.rank} (pid ${done.pid}) still runs 10 s after the job ended`).toBe(false);
    const reports = [readReport(dir, 0), readReport(dir, 1)];
    for (const r of reports) {
      expect(r.restartCount).toBe(1);
      expect(r.resumedFrom).toMatch(/backup$/);
      expect(r.step).toBe(20);
      expect(r.weights).toEqual(expected.weights); // bitwise: the run ends where an uninterrupted one ends
    }
    const attemptEnd = started + result.attempts[0]!.durationMs;
    const survivorFile = join(root, `error-${1 - fault.rank}-0.json`);
    const survivor = existsSync(survivorFile) ? readJson<ErrorRecord>(survivorFile) : undefined;
    const resumedIn = Math.min(...reports.map((r) => r.firstStepAt ?? Number.POSITIVE_INFINITY)) - attemptEnd;
    return { result, fault: done, attemptEnd, survivor, resumedIn };
  } finally {
    if (done && alive(done.pid)) process.kill(done.pid, 'SIGKILL');
    await job.catch(() => undefined);
  }
}

describe.skipIf(!mpi)('replica faults under real mpirun: a rank killed or frozen from outside, restart from rank 0’s newest backup, bitwise', () => {
  it.each([
    [1, 11],
    [0, 12],
    [1, 13],
  ])('SIGKILL of rank %i by pid mid-epoch (seed %i): mpirun ends the job promptly, the restart resumes and ends bitwise equal', async (rank, seed) => {
    const step = faultStep(seed, 4, 16);
    const run = await faultedRun(`kill-${seed}`, { rank, step, signal: 'SIGKILL' });
    const endedIn = Math.round(run.attemptEnd - run.fault.at);
    // mpirun needs ~1 s to end the survivors; the heartbeat sees the closed connection within milliseconds, so the
    // survivor throws PeerLostError first and aborts the job itself.
    expect(run.survivor).toMatchObject({ name: 'PeerLostError', reason: 'exited', lostRanks: [rank] });
    expect(run.survivor!.message).toMatch(new RegExp(`rank ${rank}'s process ended: its heartbeat connection closed without a goodbye`));
    const detected = run.survivor!.at - run.fault.at;
    console.info(`[mpi SIGKILL rank ${rank} at step ${run.fault.step}] rank ${1 - rank} threw PeerLostError (exited, lost [${rank}]) ${detected} ms after the kill; job ended ${endedIn} ms after it; restarted and resumed to the first step in ${Math.round(run.resumedIn)} ms; weights bitwise equal`);
    expect(detected).toBeLessThan(2000);
    expect(endedIn).toBeLessThan(5000);
  }, 60_000);

  it('SIGKILL with the heartbeat off (heartbeatTimeoutMs: 0): mpirun alone ends the survivors, about a second later', async () => {
    const run = await faultedRun('kill-no-heartbeat', { rank: 1, step: faultStep(16, 4, 16), signal: 'SIGKILL' }, { heartbeatTimeoutMs: 0 });
    expect(run.survivor).toBeUndefined(); // ended from outside, no exception
    const endedIn = Math.round(run.attemptEnd - run.fault.at);
    console.info(`[mpi SIGKILL rank 1 at step ${run.fault.step}, no heartbeat] mpirun ended the job ${endedIn} ms after the kill; resumed to the first step in ${Math.round(run.resumedIn)} ms; weights bitwise equal`);
    expect(endedIn).toBeLessThan(5000);
  }, 60_000);

  it('SIGSTOP of rank 1 (a frozen process or machine: no exit, no closed connection): silent for heartbeatTimeoutMs, then PeerLostError and a restart', async () => {
    const heartbeatTimeoutMs = 1500;
    const run = await faultedRun('stop', { rank: 1, step: faultStep(15, 4, 16), signal: 'SIGSTOP' }, { heartbeatTimeoutMs });
    expect(run.survivor).toMatchObject({ name: 'PeerLostError', reason: 'heartbeat', lostRanks: [1] });
    expect(run.survivor!.message).toMatch(/no heartbeat from rank 1 for \d+ ms \(heartbeatTimeoutMs 1500\)/);
    const detected = run.survivor!.at - run.fault.at;
    console.info(`[mpi SIGSTOP rank 1 at step ${run.fault.step}] rank 0 threw PeerLostError (heartbeat, lost [1]) ${detected} ms after the freeze (heartbeatTimeoutMs ${heartbeatTimeoutMs}); job aborted ${Math.round(run.attemptEnd - run.fault.at)} ms after it; resumed to the first step in ${Math.round(run.resumedIn)} ms; weights bitwise equal`);
    expect(detected).toBeGreaterThanOrEqual(heartbeatTimeoutMs - 200);
    expect(detected).toBeLessThan(heartbeatTimeoutMs + 2000);
  }, 60_000);
});

describe.skipIf(!mpi)('the heartbeat in a world of 3: rank 0 relays a loss, so every survivor names the lost rank', () => {
  it.each([
    ['kill', 2, 'exited'],
    ['kill', 0, 'exited'],
    ['stop', 1, 'heartbeat'],
  ] as const)('%s rank %i: every survivor throws PeerLostError (%s) naming it', async (how, victim, reason) => {
    const dir = join(out, `world3-${how}-${victim}`);
    const heartbeatTimeoutMs = 1000;
    const result = await launchMpi('./heartbeat-worker.ts', 3, { env: { FITSTREAM_TEST_OUT: dir, VICTIM: String(victim), HOW: how }, timeoutMs: 60_000, heartbeatTimeoutMs });
    const fault = readJson<{ pid: number; at: number }>(join(dir, 'victim.json'));
    if (alive(fault.pid)) process.kill(fault.pid, 'SIGKILL');
    expect(result.ok).toBe(false);
    const seen: string[] = [];
    for (const rank of [0, 1, 2].filter((r) => r !== victim)) {
      const e = readJson<ErrorRecord>(join(dir, `rank-${rank}.json`));
      expect(e).toMatchObject({ name: 'PeerLostError', reason, lostRanks: [victim] });
      seen.push(`rank ${rank} after ${e.at - fault.at} ms`);
      expect(e.at - fault.at).toBeLessThan(reason === 'heartbeat' ? heartbeatTimeoutMs + 2000 : 2000);
    }
    console.info(`[mpi ×3 ${how} rank ${victim}] PeerLostError (${reason}, lost [${victim}]) on ${seen.join(', ')}`);
  }, 60_000);
});
