import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { filter } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, LearningRateBase, ofType, OPTIMIZER_NAMES, provide, selectBackend, type Plugin } from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const data = () => classificationData(48, 3, 2);

describe('TrainerControl', () => {
  it('stop(reason) ends the fit after the current step with reason "stopped"', async () => {
    const trainer = createTrainer({ model: mlp(3, 8, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const stopper: Plugin = {
      name: 'stop-at-step-5',
      attach: (events$, control) => events$.pipe(ofType('step:end'), filter((e) => e.step === 5)).subscribe(() => control.stop('enough')),
    };
    const types: string[] = [];
    trainer.use(stopper).events$.subscribe((e) => types.push(e.type));
    const result = await trainer.fit(data(), { epochs: 10, batchSize: 8, handleSignals: false });
    expect(result).toMatchObject({ reason: 'stopped', stopReason: 'enough', step: 5, epochs: 0 });
    expect(types.at(-1)).toBe('fit:end');
    expect(types.filter((t) => t === 'epoch:end')).toHaveLength(0); // stopped mid-epoch: no partial epoch logs
  });

  it('stop() at epoch:end finishes that epoch (early stopping)', async () => {
    const trainer = createTrainer({ model: mlp(3, 8, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    trainer.use({ name: 'stop-after-epoch-2', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe((e) => e.epoch === 2 && c.stop('early')) });
    const result = await trainer.fit(data(), { epochs: 10, batchSize: 16, handleSignals: false });
    expect(result.reason).toBe('stopped');
    expect(result.history.epochs).toEqual([0, 1, 2]);
  });

  const constantRate = (name: string, lr: number): Plugin => ({ name, register: (c) => provide(c, LearningRateBase, { name, rate: () => lr }) });

  it.each(OPTIMIZER_NAMES)('the learning-rate pipeline drives %s (0 freezes weights; the rate shows in events)', async (name) => {
    const model = mlp(3, 4, 2, 3);
    const trainer = createTrainer({ model, optimizer: name, loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
    trainer.use(constantRate('freeze', 0));
    const rates: number[] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => rates.push(e.learningRate));
    const before = weightsOf(model);
    await trainer.fit(data(), { epochs: 1, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).toEqual(before);
    expect(new Set(rates)).toEqual(new Set([0]));
    expect(trainer.learningRate).toBe(0);
    trainer.dispose();
    const changed = createTrainer({ model, optimizer: name, loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
    changed.use(constantRate('raise', 0.05));
    await changed.fit(data(), { epochs: 1, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).not.toEqual(before);
    changed.dispose();
  });

  it('await(promise) holds the loop at the next boundary', async () => {
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const log: string[] = [];
    trainer.use({
      name: 'slow-writer',
      attach: (e$, c) =>
        e$.pipe(ofType('epoch:end')).subscribe((e) => {
          log.push(`write ${e.epoch} start`);
          c.await(new Promise<void>((r) => setTimeout(() => { log.push(`write ${e.epoch} done`); r(); }, 30)));
        }),
    });
    trainer.events$.pipe(ofType('epoch:start', 'fit:end')).subscribe((e) => log.push(e.type === 'fit:end' ? 'end' : `epoch ${e.epoch}`));
    await trainer.fit(data(), { epochs: 2, batchSize: 48, handleSignals: false });
    expect(log).toEqual(['epoch 0', 'write 0 start', 'write 0 done', 'epoch 1', 'write 1 start', 'write 1 done', 'end']);
  });

  it('a rejected awaited promise fails the fit', async () => {
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    trainer.use({ name: 'failing-writer', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe(() => c.await(Promise.reject(new Error('disk full')))) });
    await expect(trainer.fit(data(), { epochs: 3, batchSize: 48, handleSignals: false })).rejects.toThrow('disk full');
  });

  it('an error thrown in a subscriber fails the fit loudly, with fit:end reason "error"', async () => {
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    let endReason = '';
    trainer.events$.pipe(ofType('fit:end')).subscribe((e) => (endReason = e.reason));
    trainer.events$.pipe(ofType('batch:end')).subscribe((e) => {
      if (e.batch === 1) throw new Error('callback bug');
    });
    await expect(trainer.fit(data(), { epochs: 3, batchSize: 8, handleSignals: false })).rejects.toThrow('callback bug');
    expect(endReason).toBe('error');
    const steps: number[] = [];
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => steps.push(e.step));
    // The trainer stays usable and the broken subscriber keeps failing fits until it is removed.
    await expect(trainer.fit(data(), { epochs: 1, batchSize: 8, handleSignals: false })).rejects.toThrow('callback bug');
  });

  it('stops gracefully on an AbortSignal', async () => {
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const abort = new AbortController();
    trainer.events$.pipe(ofType('step:end'), filter((e) => e.step === 3)).subscribe(() => abort.abort('user'));
    const result = await trainer.fit(data(), { epochs: 5, batchSize: 8, signal: abort.signal, handleSignals: false });
    expect(result).toMatchObject({ reason: 'stopped', stopReason: 'aborted: user', step: 3 });
  });

  it('stops gracefully on SIGINT after the current step and removes its handlers', async () => {
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const listeners = process.listenerCount('SIGINT');
    trainer.events$.pipe(ofType('step:end'), filter((e) => e.step === 2)).subscribe(() => process.emit('SIGINT'));
    const result = await trainer.fit(data(), { epochs: 5, batchSize: 8 });
    expect(result).toMatchObject({ reason: 'stopped', stopReason: 'SIGINT', step: 2 });
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });

  it('a real SIGINT reaches a busy synchronous fit (the loop yields to the event loop) and stops it gracefully', async () => {
    const script = fileURLToPath(new URL('../../test-support/sigint-trainer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=@fitstream/source', '--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('training')) resolve();
        }),
      );
      child.kill('SIGINT');
      expect(await Promise.race([exit, new Promise((r) => setTimeout(() => r('still running 20 s after SIGINT'), 20_000))])).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { reason: string; stopReason: string; step: number };
    expect(result).toMatchObject({ reason: 'stopped', stopReason: 'SIGINT' });
    expect(result.step).toBeGreaterThanOrEqual(20);
  }, 60_000);

  it('snapshotWeights / restoreWeights round-trip (restore best weights)', async () => {
    const model = mlp(3, 4, 2);
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    let snapshot: Map<string, tf.Tensor> | undefined;
    let atEpoch0: number[][] = [];
    trainer.use({
      name: 'best-weights',
      attach: (e$, c) => [
        e$.pipe(ofType('epoch:end')).subscribe((e) => {
          if (e.epoch === 0) {
            snapshot = c.snapshotWeights();
            atEpoch0 = weightsOf(model);
          }
        }),
        e$.pipe(ofType('fit:end')).subscribe(() => c.restoreWeights(snapshot!)),
      ].reduce((a, s) => (a.add(s), a)),
    });
    await trainer.fit(data(), { epochs: 3, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).toEqual(atEpoch0);
    tf.dispose([...snapshot!.values()]);
  });
});
