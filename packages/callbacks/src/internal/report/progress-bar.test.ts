import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Subject } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMetricsRead, ofType, selectBackend, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { callback, progressBar, type ProgressStream } from '../../index.js';
import { blobs, smallTrainer } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const CLEAR = '\x1b[K';
const ESC = String.fromCharCode(27);

/** A terminal stand-in: what a TTY WriteStream offers the bar. */
class FakeTty implements ProgressStream {
  readonly isTTY: boolean;
  readonly columns = 120;
  text = '';
  constructor(isTTY = true) {
    this.isTTY = isTTY;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  /** What the screen shows: every `\r` returns to the line start, `\x1b[K` clears the rest. */
  get screen(): string[] {
    return this.text.split('\n').map((line) => {
      const parts = line.split('\r');
      return parts[parts.length - 1]!.replaceAll(CLEAR, '');
    });
  }
}

async function train(bar: ReturnType<typeof progressBar>, probe?: (read: boolean) => void) {
  const trainer = smallTrainer().use(bar);
  if (probe) trainer.use(callback('probe', (events$) => events$.pipe(ofType('step:end')).subscribe((e) => probe(isMetricsRead(e.metrics)))));
  return trainer.fit(blobs(64), { epochs: 2, batchSize: 16, validation: blobs(16, 3, 2, 8), handleSignals: false });
}

describe('progressBar on a terminal', () => {
  it('draws a bar with count, steps/s, ETA and metrics, then one final line per epoch with validation', async () => {
    const tty = new FakeTty();
    const bar = progressBar({ stream: tty, refreshMs: 0, env: {} });
    expect(bar.mode).toBe('bar');
    const { history } = await train(bar);
    expect(tty.text.replaceAll(CLEAR, '<K>')).toMatch(/\rEpoch 1\/2 \[=*>? *\] 2\/4 {2}[\d.]+k? steps\/s {2}ETA [\d.]+(ms|s) {2}loss \d\.\d{3,4} {2}accuracy \d\.\d+<K>/);
    const screen = tty.screen.filter(Boolean);
    expect(screen).toHaveLength(2);
    expect(screen[0]).toMatch(/^Epoch 1\/2 {2}4 batches {2}\S+ {2}\S+ steps\/s {2}loss \S+ {2}accuracy \S+ {2}val_loss \S+ {2}val_accuracy \S+$/);
    expect(screen[1]).toContain(`val_loss ${history.logs.val_loss![1]!.toPrecision(4)}`);
    expect(screen.every((l) => l.length <= 119)).toBe(true);
  });

  it('reads lazy batch metrics only when it renders (throttled), never per step', async () => {
    const reads: boolean[] = [];
    await train(progressBar({ stream: new FakeTty(), refreshMs: 60_000, env: {} }), (read) => reads.push(read));
    expect(reads).toEqual(new Array(8).fill(false));
    const eager: boolean[] = [];
    await train(progressBar({ stream: new FakeTty(), refreshMs: 0, env: {} }), (read) => eager.push(read));
    expect(eager).toEqual(new Array(8).fill(true));
  });
});

describe('progressBar as plain lines', () => {
  it('prints one line per epoch without escape codes when CI is set or the stream is not a TTY', async () => {
    for (const [stream, env] of [[new FakeTty(true), { CI: 'true' }], [new FakeTty(false), {}]] as const) {
      const bar = progressBar({ stream, env });
      expect(bar.mode).toBe('lines');
      await train(bar);
      expect(stream.text.includes('\r') || stream.text.includes(ESC)).toBe(false);
      expect(stream.text.trim().split('\n')).toHaveLength(2);
    }
  });

  it('formats tiny losses with an exponent and says why a fit stopped', () => {
    const stream = new FakeTty(false);
    const events$ = new Subject<TrainerEvent>();
    const control = { metricNames: ['loss'], await: () => undefined } as unknown as TrainerControl;
    progressBar({ stream, env: {} }).attach!(events$, control);
    const base = { time: 0, step: 10, learningRate: 0.1 };
    events$.next({ type: 'fit:start', ...base, step: 0, epochs: 3, initialEpoch: 0, batchSize: 8, batchesPerEpoch: 10, samples: 80, accumulateBatches: 1, resumedFrom: undefined });
    events$.next({ type: 'epoch:start', ...base, step: 0, epoch: 0, batchesPerEpoch: 10 });
    events$.next({ type: 'epoch:end', ...base, epoch: 0, learningRateFactors: {}, samples: 80, batches: 10, durationMs: 1250, metrics: { loss: 3.2e-5, val_loss: 0.00041 } as never });
    events$.next({ type: 'fit:end', ...base, epoch: 0, reason: 'stopped', stopReason: 'SIGINT', error: undefined, history: { epochs: [0], logs: {}, learningRate: [0.1], learningRateFactors: {} } });
    expect(stream.text).toBe('Epoch 1/3  10 batches  1.3s  8.00 steps/s  loss 3.200e-5  val_loss 4.100e-4\nStopped after 1 epochs: SIGINT\n');
  });
});

// A real pseudo-terminal through util-linux `script`, when present (no node-pty: it needs a native build).
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
describe.runIf(hasScript)('progressBar in a real pseudo-terminal', () => {
  it('detects the TTY and draws a live bar', () => {
    const code = `
      import { selectBackend, createTrainer, withSeed, Random } from '@fitstream/core';
      import { progressBar } from '@fitstream/callbacks';
      import * as tf from '@tensorflow/tfjs';
      await selectBackend({ prefer: 'cpu', log: null });
      const x = tf.randomNormal([64, 3], 0, 1, 'float32', 1); const y = tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 2), 'int32'), 2).toFloat();
      const model = withSeed(1, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' })] }));
      const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null }).use(progressBar({ refreshMs: 0 }));
      await trainer.fit({ x, y }, { epochs: 2, batchSize: 16, handleSignals: false });
    `.replace(/\n\s*/g, ' ');
    const cwd = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
    const command = `${process.execPath} --conditions=@fitstream/source --import tsx --input-type=module -e "${code.replace(/"/g, '\\"')}"`;
    const env: NodeJS.ProcessEnv = { ...process.env, COLUMNS: '100' };
    delete env.CI;
    const result = spawnSync('script', ['-qfec', command, '/dev/null'], { cwd, env, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/\rEpoch 1\/2 \[/);
    expect(result.stdout).toContain(CLEAR);
    expect(result.stdout).toMatch(/Epoch 2\/2 {2}4 batches .* loss \d\.\d+/);
  });
});
