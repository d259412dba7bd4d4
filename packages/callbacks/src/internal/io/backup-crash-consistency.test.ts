// Crash consistency of backupAndRestore's save (issue 17, item 4): the save is killed at each of its file-system steps
// in turn — the fault is injected at an exact step (test-support/fs-faults.ts), not timed — and every time a fresh
// trainer's plain `fit` resumes from the newest published state (the new backup once it is renamed into place, else
// the previous one, moved aside or not) and ends with the weights of the uninterrupted run, bit for bit. Where the kill
// left a complete new copy unpublished, damaging the published one makes the resume use that copy: nothing complete
// is lost.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend } from '@fitstream/core';
import { backupAndRestore } from '../../index.js';
import { blobs, mlp, weightsOf } from '../../test-support/fixtures.js';
import { injectFsFaults, type FsFaults } from '../../test-support/fs-faults.js';

let root: string;
let faults: FsFaults;

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  root = await mkdtemp(join(tmpdir(), 'fitstream-crash-'));
  faults = injectFsFaults(root);
});
afterAll(async () => {
  faults.dispose();
  await rm(root, { recursive: true, force: true });
});

const data = blobs(24, 3, 2, 9);
const OPTIONS = { epochs: 2, batchSize: 8, handleSignals: false } as const; // 3 steps per epoch

function trainer(dir: string) {
  const model = mlp(3, 8, 2, 4);
  const t = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 5, backend: 'current', log: null });
  t.use(backupAndRestore({ dir, everySteps: 1, everyEpochs: false, deleteOnFinish: false }));
  return { model, trainer: t };
}

/** Trains with a backup every step; from the moment step 1's backup is saved, the save of step 2 is killed at `killAt`. */
async function runKilledAt(dir: string, killAt: number | undefined): Promise<{ steps: readonly string[]; error: unknown; killed: boolean }> {
  const { model, trainer: t } = trainer(dir);
  t.events$.subscribe((e) => {
    const ev = e as { type: string; step?: number };
    if (ev.type === 'backupAndRestore:saved' && ev.step === 1) faults.arm(killAt);
    // The dry run counts the steps of step 2's save; a killed run stays "dead" (its later writes all fail) to the end.
    if (ev.type === 'backupAndRestore:saved' && ev.step === 2 && killAt === undefined) faults.disarm();
  });
  const error = await t.fit(data, OPTIONS).then(
    () => undefined,
    (e: unknown) => e,
  );
  const killed = faults.killed;
  faults.disarm();
  const steps = [...faults.steps];
  t.dispose();
  model.dispose();
  return { steps, error, killed };
}

describe('backupAndRestore: a kill at every file-system step of a save never loses the newest published state', () => {
  it('each step killed in turn: resume starts from the newest published backup (an unpublished complete copy when the published one is damaged) and ends bit-identical to the uninterrupted run', async () => {
    const reference = trainer(join(root, 'reference'));
    await reference.trainer.fit(data, OPTIONS);
    const expected = weightsOf(reference.model);
    reference.trainer.dispose();
    reference.model.dispose();

    const dry = await runKilledAt(join(root, 'dry'), undefined);
    expect(dry.error).toBeUndefined();
    const steps = dry.steps;
    // The new backup is complete once its state.json is written (a kill keeps what was written; fsync is for power cuts).
    const complete = steps.findIndex((s) => /^handle\.writeFile [^ ]*\/\.backup\.tmp-[^/]+\/state\.json$/.test(s)) + 1;
    expect(complete, steps.join('\n')).toBeGreaterThan(0);
    expect(steps.some((s) => /^rename [^ ]*\/backup → [^ ]*\/\.backup\.old-/.test(s)), 'the save moves the previous backup aside').toBe(true);
    const published = steps.findIndex((s) => /^rename [^ ]*\/\.backup\.tmp-[^ ]+ → [^ ]*\/backup$/.test(s)) + 1;
    expect(published).toBeGreaterThan(complete);
    expect(steps.length).toBeGreaterThan(published + 4); // latest.json and the cleanup after it

    const outcomes: string[] = [];
    for (let killAt = 1; killAt <= steps.length + 1; killAt++) {
      const dir = join(root, `kill-${killAt}`);
      const killed = await runKilledAt(dir, killAt);
      const at = steps[killAt - 1] ?? 'after the save';
      expect(killed.killed, `killed before step ${killAt} (${at})`).toBe(true);

      const resumed = trainer(dir);
      let from: { step: number; path: string | undefined } | undefined;
      resumed.trainer.events$.pipe(ofType('fit:start')).subscribe((e) => (from = { step: e.step, path: e.resumedFrom }));
      await resumed.trainer.fit(data, OPTIONS);
      const want = killAt > published ? 2 : 1;
      expect(from?.step, `killed before step ${killAt} (${at}): resumed from ${from?.path}`).toBe(want);
      expect(weightsOf(resumed.model), `killed before step ${killAt} (${at})`).toEqual(expected);
      outcomes.push(`${killAt}: ${at} → step ${from!.step} (${from!.path!.slice(dir.length + 1)})`);
      resumed.trainer.dispose();
      resumed.model.dispose();
    }
    // Killed with the new copy complete but unpublished: with the published (or moved-aside) one damaged, resume finds it.
    let unpublishedUsed = 0;
    for (let killAt = complete + 1; killAt <= published; killAt++) {
      const dir = join(root, `damaged-${killAt}`);
      await runKilledAt(dir, killAt);
      const older = (await readdir(dir)).map((n) => join(dir, n)).filter((p) => /\/(backup|\.backup\.old-[^/]+)$/.test(p));
      expect(older).toHaveLength(1);
      const weights = await readFile(join(older[0]!, 'weights.bin'));
      weights[0] = weights[0]! ^ 0xff;
      await writeFile(join(older[0]!, 'weights.bin'), weights);
      const resumed = trainer(dir);
      let from: number | undefined;
      resumed.trainer.events$.pipe(ofType('fit:start')).subscribe((e) => (from = e.step));
      await resumed.trainer.fit(data, OPTIONS);
      expect(from, `killed before step ${killAt} (${steps[killAt - 1]}), the older copy damaged`).toBe(2);
      expect(weightsOf(resumed.model)).toEqual(expected);
      unpublishedUsed++;
      resumed.trainer.dispose();
      resumed.model.dispose();
    }
    console.info(`[crash consistency] ${steps.length} file-system steps per save; every kill resumed from the newest published backup, ${unpublishedUsed} complete unpublished copies used when the older one was damaged:\n${outcomes.join('\n')}`);
  }, 120_000);
});
