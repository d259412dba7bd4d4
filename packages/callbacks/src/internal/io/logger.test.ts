import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FitstreamInputError, ofType, selectBackend } from '@fitstream/core';
import { createLogger, earlyStopping, jsonlLogger, modelCheckpoint, type LogRecord, type LoggerContext } from '../../index.js';
import { blobs, smallTrainer } from '../../test-support/fixtures.js';
import { stringifyEvent } from './json-lines.js';

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-logger-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The JSONL logger's lines, without the header. */
async function jsonlLines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').slice(1).filter((l) => l.length > 0);
}

const typeOf = (line: string) => (JSON.parse(line) as { type: string }).type;

describe('createLogger: a logger in a few lines receives exactly what jsonlLogger writes', () => {
  it('an in-memory logger gets the JSONL records, in order (all, step and epoch levels), records after fit:end included', async () => {
    const path = join(tmp, 'memory.jsonl');
    // The whole logger: two lines.
    const all: LogRecord[] = [];
    const memory = createLogger({ name: 'memory', write: (record) => void all.push(record) });
    const steps: LogRecord[] = [];
    const epochs: LogRecord[] = [];
    const trainer = smallTrainer({ optimizer: 'adam' })
      .use(memory)
      .use(jsonlLogger({ path, readBatchMetricsEvery: 3 }))
      .use(createLogger({ name: 'steps', records: 'step', write: (r) => void steps.push(r) }))
      .use(createLogger({ name: 'epochs', records: 'epoch', write: (r) => void epochs.push(r) }))
      // Emits earlyStopping:restored once every subscriber saw fit:end.
      .use(earlyStopping({ monitor: 'val_loss', patience: 1, restoreBestWeights: true, log: null }));
    await trainer.fit(blobs(64), { epochs: 4, batchSize: 16, validation: blobs(16, 3, 2, 8), handleSignals: false });
    trainer.dispose();

    const lines = await jsonlLines(path);
    expect(all.map((r) => stringifyEvent(r))).toEqual(lines);
    expect(steps.map((r) => stringifyEvent(r))).toEqual(lines.filter((l) => !['batch:start', 'batch:end'].includes(typeOf(l))));
    expect(epochs.map((r) => stringifyEvent(r))).toEqual(lines.filter((l) => !['batch:start', 'batch:end', 'step:end'].includes(typeOf(l))));
    // What the records hold: fit:start first, earlyStopping's restore after fit:end, batch metrics read every 3 steps.
    expect(all[0]!.type).toBe('fit:start');
    expect(all.map((r) => r.type).slice(-2)).toEqual(['fit:end', 'earlyStopping:restored']);
    const read = all.filter((r) => r.type === 'step:end' && r.metrics !== undefined).map((r) => (r.type === 'step:end' ? r.step : -1));
    expect(read).toEqual([3, 6, 9, 12, 15].filter((s) => s <= all.filter((r) => r.type === 'step:end').length));
    const epochEnd = all.find((r) => r.type === 'epoch:end');
    expect(epochEnd?.type === 'epoch:end' && typeof epochEnd.metrics.val_loss).toBe('number');
  });

  describe('a tracker that POSTs each epoch record to an HTTP server', () => {
    let server: Server;
    const received: { url: string; body: string }[] = [];
    beforeAll(async () => {
      server = createServer((request, response) => {
        let body = '';
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => (body += chunk));
        request.on('end', () => {
          received.push({ url: request.url ?? '', body });
          setTimeout(() => response.writeHead(201).end('{}'), 20); // a slow tracker: the loop waits for it
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('receives every epoch:end record jsonlLogger writes, each answered before the next epoch starts', async () => {
      const { port } = server.address() as AddressInfo;
      const path = join(tmp, 'http.jsonl');
      let answered = 0;
      // The whole tracker (an MLflow-style client would POST to its REST API the same way).
      const tracker = createLogger({
        name: 'http-tracker',
        records: 'epoch',
        timeoutMs: 5_000,
        write: async (record) => {
          if (record.type !== 'epoch:end') return;
          const response = await fetch(`http://127.0.0.1:${port}/runs/blobs/epochs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(record) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          answered += 1;
        },
      });
      const trainer = smallTrainer().use(tracker).use(jsonlLogger({ path }));
      const answeredAtEpochStart: number[] = [];
      trainer.events$.pipe(ofType('epoch:start')).subscribe(() => answeredAtEpochStart.push(answered));
      await trainer.fit(blobs(64), { epochs: 3, batchSize: 16, validation: blobs(16, 3, 2, 8), handleSignals: false });
      trainer.dispose();

      expect(answeredAtEpochStart).toEqual([0, 1, 2]);
      expect(answered).toBe(3);
      const epochLines = (await jsonlLines(path)).filter((l) => typeOf(l) === 'epoch:end');
      expect(received.map((r) => r.url)).toEqual(Array(3).fill('/runs/blobs/epochs'));
      expect(received.map((r) => JSON.parse(r.body) as unknown)).toEqual(epochLines.map((l) => JSON.parse(l) as unknown));
    });
  });
});

describe('createLogger: the contract', () => {
  it('flushes after each epoch:end, closes once a macrotask after fit:end, and counts fits', async () => {
    const calls: string[] = [];
    const contexts: LoggerContext[] = [];
    const logger = createLogger({
      name: 'hooks',
      records: 'epoch',
      write: (record, context) => {
        if (record.type === 'fit:start') contexts.push(context);
        calls.push(record.type);
      },
      flush: () => void calls.push('flush'),
      close: () => Promise.resolve().then(() => void calls.push('close')),
    });
    const trainer = smallTrainer().use(logger);
    await trainer.fit(blobs(32), { epochs: 2, batchSize: 16, handleSignals: false });
    expect(calls).toEqual(['fit:start', 'epoch:start', 'epoch:end', 'flush', 'epoch:start', 'epoch:end', 'flush', 'fit:end', 'close']);
    await trainer.fit(blobs(32), { epochs: 1, batchSize: 16, handleSignals: false });
    trainer.dispose();
    expect(calls.slice(9)).toEqual(['fit:start', 'epoch:start', 'epoch:end', 'flush', 'fit:end', 'close']);
    expect(contexts.map((c) => c.fit)).toEqual([0, 1]);
    expect(contexts[0]!.control.metricNames).toEqual(['loss', 'accuracy']);
  });

  it('a resumed fit starts with fit:start carrying resumedFrom', async () => {
    const dir = join(tmp, 'resume');
    const saved: string[] = [];
    const first = smallTrainer()
      .use(modelCheckpoint({ dir }))
      .use(createLogger({ name: 'saved', write: (r) => void (r.type === 'modelCheckpoint:saved' && saved.push(r.path)) }));
    await first.fit(blobs(32), { epochs: 2, batchSize: 16, handleSignals: false });
    first.dispose();
    expect(saved).toHaveLength(2);

    const records: LogRecord[] = [];
    let resumedFrom: string | undefined;
    const second = smallTrainer().use(
      createLogger({
        name: 'memory',
        records: 'epoch',
        write: (r, context) => {
          if (r.type === 'fit:start') resumedFrom = context.resumedFrom;
          records.push(r);
        },
      }),
    );
    await second.fit(blobs(32), { epochs: 3, batchSize: 16, handleSignals: false, resumeFrom: saved[0]! });
    second.dispose();
    const start = records[0]!;
    expect(start.type === 'fit:start' && [start.resumedFrom, start.initialEpoch]).toEqual([saved[0], 1]);
    expect(resumedFrom).toBe(saved[0]);
    expect(records.filter((r) => r.type === 'epoch:end').map((r) => (r.type === 'epoch:end' ? r.epoch : -1))).toEqual([1, 2]);
  });

  it('a logger that throws fails the fit naming the logger and the call, and is still closed', async () => {
    let closed = 0;
    const trainer = smallTrainer().use(
      createLogger({
        name: 'broken-tracker',
        write: (record) => {
          if (record.type === 'epoch:end') throw new Error('disk full');
        },
        close: () => void (closed += 1),
      }),
    );
    const failure = trainer.fit(blobs(32), { epochs: 3, batchSize: 16, handleSignals: false });
    await expect(failure).rejects.toThrow('logger "broken-tracker": write(epoch:end) failed: disk full');
    await expect(failure).rejects.toHaveProperty('cause.message', 'disk full');
    trainer.dispose();
    expect(closed).toBe(1);
  });

  it('a rejected promise fails the fit the same way; one that never settles fails after timeoutMs', async () => {
    const rejecting = smallTrainer().use(createLogger({ name: 'rejecting', records: 'epoch', write: (r) => (r.type === 'epoch:end' ? Promise.reject(new Error('HTTP 503')) : undefined) }));
    await expect(rejecting.fit(blobs(32), { epochs: 2, batchSize: 16, handleSignals: false })).rejects.toThrow('logger "rejecting": write(epoch:end) failed: HTTP 503');
    rejecting.dispose();

    const hanging = smallTrainer().use(createLogger({ name: 'hanging', records: 'epoch', timeoutMs: 100, write: (r) => (r.type === 'epoch:end' ? new Promise(() => {}) : undefined) }));
    const started = performance.now();
    await expect(hanging.fit(blobs(32), { epochs: 2, batchSize: 16, handleSignals: false })).rejects.toThrow(/logger "hanging": write\(epoch:end\) failed: write\(epoch:end\) did not settle within 100 ms/);
    expect(performance.now() - started).toBeLessThan(5_000);
    hanging.dispose();
  });

  it('calls never overlap: a pending promise queues the next call, in order', async () => {
    const log: string[] = [];
    let open = 0;
    const trainer = smallTrainer().use(
      createLogger({
        name: 'slow',
        records: 'epoch',
        write: async (record) => {
          open += 1;
          log.push(`${record.type}${open > 1 ? ' (overlap!)' : ''}`);
          await new Promise((resolve) => setTimeout(resolve, 2));
          open -= 1;
          if (record.type === 'epoch:end') log.push('epoch:end written');
        },
        flush: () => void log.push('flush'),
      }),
    );
    await trainer.fit(blobs(32), { epochs: 1, batchSize: 16, validation: blobs(16, 3, 2, 8), handleSignals: false });
    trainer.dispose();
    // Without close, flush ends the fit's log.
    expect(log).toEqual(['fit:start', 'epoch:start', 'validation:start', 'validation:end', 'epoch:end', 'epoch:end written', 'flush', 'fit:end', 'flush']);
  });

  it('rejects a bad spec with FitstreamInputError naming the field', () => {
    const write = () => undefined;
    expect(() => createLogger({ name: '', write })).toThrow(FitstreamInputError);
    expect(() => createLogger({ name: 'x', write: undefined as unknown as typeof write })).toThrow(/spec\.write/);
    expect(() => createLogger({ name: 'x', write, records: 'batch' as 'all' })).toThrow(/spec\.records of logger "x" must be one of 'epoch', 'step', 'all'/);
    expect(() => createLogger({ name: 'x', write, timeoutMs: Infinity })).toThrow(/timeoutMs/);
    expect(() => createLogger({ name: 'x', write, readBatchMetricsEvery: 1.5 })).toThrow(/readBatchMetricsEvery/);
  });
});
