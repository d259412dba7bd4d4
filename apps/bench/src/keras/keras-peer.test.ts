import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KerasPeerUnavailable, startKerasPeer, type KerasPeer } from './keras-peer.js';
import { bestKeras, startKerasPeers } from './keras-contenders.js';
import type { ModelName } from '../suites/models.js';

describe('Keras peer protocol (needs a Python with tensorflow and keras)', () => {
  let peer: KerasPeer | undefined;
  let unavailable = '';

  beforeAll(async () => {
    try {
      peer = await startKerasPeer({ threads: 1 });
    } catch (error) {
      if (!(error instanceof KerasPeerUnavailable)) throw error;
      unavailable = `no usable Keras peer here: ${error.message}`;
    }
  }, 200_000);

  afterAll(async () => {
    await peer?.close();
  });

  it('says it is ready with the TensorFlow and Keras versions and the thread count it set', ({ skip }) => {
    const p = peer ?? skip(unavailable);
    expect(p.versions.tensorflow).toMatch(/^2\.\d+/);
    expect(p.versions.keras).toMatch(/^3\.\d+/);
    expect(p.versions.threads).toBe(1);
  });

  it('trains one epoch per request and answers steps/s, the same model again on the next request', async ({ skip }) => {
    const p = peer ?? skip(unavailable);
    await expect(p.train('mlp', 2)).resolves.toBeGreaterThan(0);
    await expect(p.train('mlp', 2)).resolves.toBeGreaterThan(0);
  }, 120_000);

  it('answers a bad request with an error and stays up', async ({ skip }) => {
    const p = peer ?? skip(unavailable);
    await expect(p.train('rnn' as ModelName, 1)).rejects.toThrow(/unknown model "rnn"/);
    expect(p.lastError).toMatch(/unknown model/);
    await expect(p.train('mlp', 1)).resolves.toBeGreaterThan(0);
  }, 120_000);

  it('stops waiting for the ready line after the timeout and kills the process', async ({ skip }) => {
    if (!peer) skip(unavailable);
    await expect(startKerasPeer({ threads: 1, readyTimeoutMs: 1 })).rejects.toThrow(/no ready line within 0\.001 s \(killed it\)/);
  });

  it('refuses requests once closed', async ({ skip }) => {
    const p = peer ?? skip(unavailable);
    await p.close();
    await expect(p.train('mlp', 1)).rejects.toThrow(/closed/);
  });
});

describe('Keras peers without a usable Python', () => {
  it('a missing Python is a reason to skip, not a crash', async () => {
    await expect(startKerasPeer({ threads: 1, python: '/nonexistent/python3' })).rejects.toThrow(KerasPeerUnavailable);
    await expect(startKerasPeer({ threads: 1, python: '/nonexistent/python3' })).rejects.toThrow(/\/nonexistent\/python3 not found/);
  });

  it('the suites get no peers and a note saying why the Keras rows are skipped', async () => {
    vi.stubEnv('FITSTREAM_BENCH_PYTHON', '/nonexistent/python3');
    const lines: string[] = [];
    const keras = await startKerasPeers('backend', (l) => lines.push(l));
    expect(keras.peers).toEqual([]);
    expect(keras.notes).toEqual([expect.stringMatching(/^skipped the Keras rows: \/nonexistent\/python3 not found\. .*FITSTREAM_BENCH_PYTHON/)]);
    expect(lines.at(-1)).toBe(`backend suite: ${keras.notes[0]!}`);
    expect(keras.best('mlp', {})).toBeUndefined();
    await keras.close();
  });
});

describe('bestKeras', () => {
  const fake = (threads: number, lastError?: string) => ({ threads, lastError }) as unknown as KerasPeer;

  it('takes the thread setting with the higher median and names the other', () => {
    const best = bestKeras([fake(1), fake(2)], { keras_1t: [10, 30, 20], keras_2t: [25, 24, 26] });
    expect(best).toEqual({ threads: 2, perRound: [25, 24, 26], remark: 'best of 2: 2 threads (1 thread: 20.0 steps/s)' });
  });

  it('leaves out a setting with a failed round, and skips when none is left', () => {
    expect(bestKeras([fake(1), fake(2, 'timeout')], { keras_1t: [10], keras_2t: [Number.NaN] })).toMatchObject({
      threads: 1,
      remark: 'best of 2: 1 thread (2 threads failed: timeout)',
    });
    expect(bestKeras([fake(1, 'died'), fake(2, 'timeout')], { keras_1t: [Number.NaN], keras_2t: [Number.NaN] })).toEqual({
      skipped: '1 thread failed: died; 2 threads failed: timeout',
    });
  });
});
