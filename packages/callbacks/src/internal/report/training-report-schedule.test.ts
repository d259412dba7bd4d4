import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '@fitstream/core';
import { trainingReport } from '../../index.js';
import { blobs, smallTrainer } from '../../test-support/fixtures.js';
import { rewriteSchedule } from './training-report.js';

// Every file write of the plugin goes through core's writeFileAtomic: counting (and stalling, failing) those calls
// shows when the report is written and whether the loop waits for it.
vi.mock('@fitstream/core', async (importOriginal) => {
  const actual = await importOriginal<typeof core>();
  return { ...actual, writeFileAtomic: vi.fn(actual.writeFileAtomic) };
});
const writeFileAtomic = vi.mocked(core.writeFileAtomic);
const htmlWrites = () => writeFileAtomic.mock.calls.filter(([path]) => String(path).endsWith('report.html')).length;

let tmp: string;
beforeAll(async () => {
  await core.selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-report-schedule-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));
beforeEach(() => {
  writeFileAtomic.mockClear(); // (a function returned from beforeEach would be run as its teardown)
});

const fit = (plugin: core.Plugin, watch?: (e: core.TrainerEvent) => void) => {
  const trainer = smallTrainer().use(plugin);
  if (watch) trainer.events$.subscribe(watch);
  return trainer.fit(blobs(32), { epochs: 5, batchSize: 16, handleSignals: false });
};

describe('when trainingReport writes', () => {
  it('rewrites at an epoch end at least everySeconds after the last write or the start', () => {
    let now = 1000;
    const schedule = rewriteSchedule(30_000, () => now);
    expect(schedule.due()).toBe(false);
    now += 29_999;
    expect(schedule.due()).toBe(false);
    now += 1;
    expect(schedule.due()).toBe(true);
    expect(schedule.due()).toBe(false); // counted from this write
    now += 30_000;
    expect(schedule.due()).toBe(true);
  });

  it('writes a fit shorter than everySeconds (default 30) once, when it ends', async () => {
    const report = trainingReport({ dir: join(tmp, 'once'), png: false });
    await fit(report);
    expect(htmlWrites()).toBe(1);
    expect(report.data?.epochs).toHaveLength(5);
  });

  it('with everySeconds: 0 writes at every epoch end, and with everyEpoch: false only at the end', async () => {
    await fit(trainingReport({ dir: join(tmp, 'every'), png: false, everySeconds: 0 }));
    expect(htmlWrites()).toBe(6);
    writeFileAtomic.mockClear();
    await fit(trainingReport({ dir: join(tmp, 'end'), png: false, everySeconds: 0, everyEpoch: false }));
    expect(htmlWrites()).toBe(1);
  });

  it('does not hold the loop while it writes during the fit; the fit waits for the last write only', async () => {
    // The first write (after epoch 1) stalls until fit:end. A loop that waited for it would only go on when the
    // fallback timer opens the gate, and the later epochs would end after it.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fallback = setTimeout(() => release(), 10_000);
    let firstWriteDone = false;
    writeFileAtomic.mockImplementationOnce(async (...args) => {
      await gate;
      const actual = await vi.importActual<typeof core>('@fitstream/core');
      await actual.writeFileAtomic(...args);
      firstWriteDone = true;
    });
    const seen: string[] = [];
    await fit(trainingReport({ dir: join(tmp, 'stalled'), png: false, everySeconds: 0 }), (e) => {
      if (e.type === 'epoch:end' || e.type === 'fit:end') seen.push(`${e.type}${firstWriteDone ? ' (after the first write)' : ''}`);
      if (e.type === 'fit:end') release();
    });
    clearTimeout(fallback);
    expect(seen).toEqual(['epoch:end', 'epoch:end', 'epoch:end', 'epoch:end', 'epoch:end', 'fit:end']);
    expect(firstWriteDone).toBe(true); // and fit() resolved only after every write, the stalled one included
    expect(htmlWrites()).toBe(6);
  });

  it('a failed write during the fit is left to the next one; a failed last write fails the fit', async () => {
    writeFileAtomic.mockRejectedValueOnce(new Error('ENOSPC: no space left on device'));
    await expect(fit(trainingReport({ dir: join(tmp, 'retry'), png: false, everySeconds: 0 }))).resolves.toBeDefined();
    const report = trainingReport({ dir: join(tmp, 'fails'), png: false });
    writeFileAtomic.mockRejectedValueOnce(new Error('ENOSPC: no space left on device'));
    await expect(fit(report)).rejects.toThrow(/ENOSPC/);
  });
});
