// control.beforeCheckpoint (issue 17): what a plugin must make durable before a checkpoint is put in place — a logger's
// records up to it — is done before the checkpoint exists, and the checkpoint waits for it.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, FitstreamInputError, ofType, selectBackend, type Plugin } from '../../index.js';
import { classificationData, mlp } from '../../test-support/fixtures.js';

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  root = await mkdtemp(join(tmpdir(), 'fitstream-before-checkpoint-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const data = () => classificationData(32, 3, 2);
const trainer = () => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });

/** Saves a checkpoint to `<dir>/step-<n>` at every step:end of `steps`, and runs `hook` before each checkpoint. */
function saving(dir: string, steps: readonly number[], hook: () => void | PromiseLike<unknown>): Plugin {
  return {
    name: 'saving',
    attach: (events$, control) => {
      control.beforeCheckpoint(hook);
      return events$.pipe(ofType('step:end')).subscribe((e) => {
        // A failed save fails the fit (what the test checks); its promise's rejection is not this plugin's to report.
        if (steps.includes(e.step)) control.saveCheckpoint(join(dir, `step-${e.step}`), `step ${e.step}`).catch(() => undefined);
      });
    },
  };
}

describe('control.beforeCheckpoint(hook)', () => {
  it('runs before each checkpoint is put in place, once every subscriber saw the event, and the checkpoint waits for its promise', async () => {
    const dir = join(root, 'order');
    const seen: string[] = [];
    const t = trainer();
    let pending = -1;
    t.events$.pipe(ofType('step:end')).subscribe((e) => (pending = e.step));
    t.use(
      saving(dir, [2, 4], () => {
        seen.push(`hook at step ${pending}: ${existsSync(join(dir, `step-${pending}`)) ? 'written' : 'not written'}`);
        // A slow hook (a log flush on a loaded disk): the checkpoint is still not in place when it settles.
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            seen.push(`settled at step ${pending}: ${existsSync(join(dir, `step-${pending}`)) ? 'written' : 'not written'}`);
            resolve();
          }, 30),
        );
      }),
    );
    t.events$.pipe(ofType('checkpoint:saved')).subscribe((e) => seen.push(`saved at step ${e.step}: ${existsSync(e.path) ? 'written' : 'not written'}`));
    await t.fit(data(), { epochs: 1, batchSize: 8, handleSignals: false });
    t.dispose();
    expect(seen).toEqual([
      'hook at step 2: not written',
      'settled at step 2: not written',
      'saved at step 2: written',
      'hook at step 4: not written',
      'settled at step 4: not written',
      'saved at step 4: written',
    ]);
  });

  it('a hook that rejects fails the checkpoint and the fit with its error; nothing is put in place', async () => {
    const dir = join(root, 'rejects');
    const t = trainer();
    t.use(saving(dir, [2], () => Promise.reject(new Error('disk full'))));
    await expect(t.fit(data(), { epochs: 1, batchSize: 8, handleSignals: false })).rejects.toThrow('disk full');
    t.dispose();
    expect(existsSync(join(dir, 'step-2'))).toBe(false);
  });

  it('takes a function', async () => {
    const t = trainer();
    let error: unknown;
    t.use({
      name: 'wrong',
      attach: (_events$, control) => {
        try {
          control.beforeCheckpoint('flush' as unknown as () => void);
        } catch (e) {
          error = e;
        }
      },
    });
    await t.fit(data(), { epochs: 1, batchSize: 16, handleSignals: false });
    t.dispose();
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as Error).message).toMatch(/control\.beforeCheckpoint\(hook\) takes a function/);
  });
});
