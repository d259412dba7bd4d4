import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchThreads } from '../../test-support/launch-helpers.js';
import type { FaultErrorRecord as ErrorRecord, FaultReport as Report } from '../../test-support/fault-reports.js';

const dir = mkdtempSync(join(tmpdir(), 'fitstream-replica-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


const base = { MODE: 'backup', OPT: 'adam', MODEL: 'same', N: '40', BATCH: '4', EPOCHS: '4', EVERY: '3' };
const readJson = <T,>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** A step in [lo, hi] drawn from a fixed seed (reproducible trials at different steps). */
function faultStep(seed: number, lo: number, hi: number): number {
  const x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return lo + (x % (hi - lo + 1));
}

let clean: Report[] | undefined;
async function reference(): Promise<Report[]> {
  if (clean) return clean;
  const result = await launchThreads('./resume-worker.ts', 2, { env: { ...base, BACKUP: join(dir, 'clean', 'backup') }, timeoutMs: 60_000 });
  expect(result.ok).toBe(true);
  clean = result.results as Report[];
  expect(clean[1]!.weights).toEqual(clean[0]!.weights);
  return clean;
}

/** Rank 1 fails by `kind` at `step` of the first attempt; the group restarts once from rank 0's newest backup. */
async function faultedRun(name: string, kind: 'throw' | 'spin', step: number, timeoutMs: number) {
  const expected = await reference();
  const root = join(dir, name);
  const started = Date.now();
  const result = await launchThreads('./resume-worker.ts', 2, { env: { ...base, BACKUP: join(root, 'backup'), FAIL: `${kind}:1:${step}` }, timeoutMs, maxRestarts: 1 });
  expect(result.ok, JSON.stringify(result.attempts)).toBe(true);
  expect(result.restarts).toBe(1);
  const reports = result.results as Report[];
  for (const r of reports) {
    expect(r.restartCount).toBe(1);
    expect(r.resumedFrom).toMatch(/backup$/);
    expect(r.step).toBe(20);
    expect(r.weights).toEqual(expected[0]!.weights); // bitwise: the run ends where an uninterrupted one ends
  }
  const faultAt = Number(readFileSync(join(root, 'fault-at-1'), 'utf8'));
  const survivorFile = join(root, 'error-0-0.json');
  expect(existsSync(survivorFile)).toBe(true);
  const survivor = readJson<ErrorRecord>(survivorFile);
  const attemptEnd = started + result.attempts[0]!.durationMs;
  return {
    failures: result.attempts[0]!.failures,
    survivor,
    detectedMs: survivor.at - faultAt,
    endedMs: Math.round(attemptEnd - faultAt),
    resumedMs: Math.round(Math.min(...reports.map((r) => r.firstStepAt ?? Number.POSITIVE_INFINITY)) - attemptEnd),
  };
}

describe('replica faults on thread replicas: PeerLostError naming the rank, a restart from rank 0’s newest backup, bitwise', () => {
  it.each([21, 22])('a replica that throws mid-epoch (seed %i): its peer gets PeerLostError with the rank and the error at once', async (seed) => {
    const step = faultStep(seed, 4, 16);
    const run = await faultedRun(`throw-${seed}`, 'throw', step, 60_000);
    // The failing fit aborts the group on its way out (dataParallel's abortOnError), so the peer learns the error itself.
    expect(run.survivor).toMatchObject({ name: 'PeerLostError', reason: 'aborted', lostRanks: [1] });
    expect(run.survivor.message).toMatch(new RegExp(`^rank 0 lost its group in \\w+ #\\d+: rank 1 aborted: Error: rank 1's fit failed: Error: injected fault at step ${step}$`));
    expect(run.failures.find((f) => f.rank === 1)!.error).toBe(`Error: injected fault at step ${step}`);
    console.info(`[threads throw at step ${step}] rank 0 threw PeerLostError (aborted, lost [1]) ${run.detectedMs} ms after the throw; group ended ${run.endedMs} ms after it; restarted and resumed to the first step in ${run.resumedMs} ms; weights bitwise equal`);
    expect(run.detectedMs).toBeLessThan(2000); // the launcher sees the exit at once; far below the 60 s collective timeout
  });

  it.each([23, 24])('a replica that hangs in a busy loop (seed %i): its peer gets PeerLostError after the collective timeout and the launcher ends the hung one', async (seed) => {
    const step = faultStep(seed, 4, 16);
    const timeoutMs = 1500;
    const run = await faultedRun(`spin-${seed}`, 'spin', step, timeoutMs);
    expect(run.survivor).toMatchObject({ name: 'PeerLostError', reason: 'timeout', lostRanks: [1] });
    expect(run.survivor.message).toMatch(/^rank 0: no answer from rank 1 within 1500 ms \(seen by rank 0 in \w+ #\d+\); a peer is dead or hung$/);
    expect(run.failures.find((f) => f.rank === 1)!.error).toMatch(/terminated by the launcher: no answer within the 1500 ms collective timeout \(hung\)/);
    console.info(`[threads busy loop at step ${step}] rank 0 threw PeerLostError (timeout, lost [1]) ${run.detectedMs} ms after the hang (timeoutMs ${timeoutMs}); the launcher terminated the spinning thread and the group ended ${run.endedMs} ms after it; restarted and resumed to the first step in ${run.resumedMs} ms; weights bitwise equal`);
    expect(run.detectedMs).toBeGreaterThanOrEqual(timeoutMs - 100);
    expect(run.endedMs).toBeLessThan(timeoutMs + 3000); // terminated at once, no grace period on top
  });
});
