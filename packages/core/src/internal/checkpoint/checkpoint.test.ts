import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointCorruptError, FitstreamInputError, createTrainer, fileSystem, findCheckpoint, ofType, readCheckpoint, selectBackend, writeCheckpoint } from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';
import { writeDirectoryAtomic } from '@fitstream/util';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-checkpoint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function trainedCheckpoint(name: string) {
  const model = mlp(3, 8, 2, 4);
  const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
  await trainer.fit(classificationData(32, 3, 2), { epochs: 2, batchSize: 8, handleSignals: false });
  const info = await trainer.saveCheckpoint(join(dir, name));
  return { model, trainer, info };
}

describe('checkpoint format', () => {
  it('is a directory of stock tfjs layers files, loadable with tf.loadLayersModel', async () => {
    const { model, info } = await trainedCheckpoint('format');
    expect((await readdir(info.path)).sort()).toEqual(['model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'weights.bin']);
    const loaded = await tf.loadLayersModel(fileSystem(join(info.path, 'model.json')));
    expect(weightsOf(loaded)).toEqual(weightsOf(model));
    const x = tf.randomNormal([5, 3]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
    const state = JSON.parse(await readFile(join(info.path, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ format: 'fitstream-checkpoint', version: 1, optimizer: { className: 'Adam' }, model: { kind: 'layers' } });
    expect(Object.keys(state.files).sort()).toEqual(['model.json', 'optimizer.bin', 'optimizer.json', 'weights.bin']);
  });

  describe('falls back to the previous good checkpoint, and says so', () => {
    async function epochCheckpoints(name: string) {
      const checkpointDir = join(dir, name);
      const trainer = createTrainer({ model: mlp(3, 8, 2, 4), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
      trainer.use({ name: 'every-epoch', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe(() => c.requestCheckpoint('epoch end')) });
      await trainer.fit(classificationData(32, 3, 2), { epochs: 2, batchSize: 8, checkpointDir, handleSignals: false });
      return { checkpointDir, first: join(checkpointDir, 'epoch-0001-step-00000004'), newest: join(checkpointDir, 'epoch-0002-step-00000008') };
    }
    const flipByte = async (file: string) => {
      const bytes = await readFile(file);
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
      await writeFile(file, bytes);
    };

    it('a directory of checkpoints whose newest is damaged: the previous good one, onSkip told why; an exact path still throws', async () => {
      const { checkpointDir, first, newest } = await epochCheckpoints('fallback');
      expect(await findCheckpoint(checkpointDir)).toBe(newest);
      await flipByte(join(newest, 'weights.bin'));
      const skipped: string[] = [];
      expect(await findCheckpoint(checkpointDir, { onSkip: (s) => skipped.push(`${s.path}: ${(s.error as CheckpointCorruptError).file} ${(s.error as CheckpointCorruptError).problem}`) })).toBe(first);
      expect(skipped).toEqual([`${newest}: weights.bin does not match its checksum`]);
      await expect(readCheckpoint(newest)).rejects.toBeInstanceOf(CheckpointCorruptError);

      const lines: string[] = [];
      const trainer = createTrainer({ model: mlp(3, 8, 2, 4), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: (l) => lines.push(l) });
      let resumedFrom: string | undefined;
      trainer.events$.pipe(ofType('fit:start')).subscribe((e) => (resumedFrom = e.resumedFrom));
      await trainer.fit(classificationData(32, 3, 2), { epochs: 2, batchSize: 8, resumeFrom: checkpointDir, handleSignals: false });
      expect(resumedFrom).toBe(first);
      expect(lines.join('\n')).toMatch(new RegExp(`skipping checkpoint ${newest}: .*weights\\.bin does not match its checksum[^]*resuming from the previous good checkpoint ${first}`));
    });

    it('every checkpoint damaged: the newest one\'s CheckpointCorruptError, never a silent fresh start', async () => {
      const { checkpointDir, newest, first } = await epochCheckpoints('all-damaged');
      await flipByte(join(newest, 'optimizer.bin'));
      await rm(join(first, 'model.json'));
      const error = await findCheckpoint(checkpointDir).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'CheckpointCorruptError', checkpoint: newest, file: 'optimizer.bin' });
      expect(await findCheckpoint(join(dir, 'no-such-dir'))).toBeUndefined();
    });

    it('a replacement killed before or between its renames: the published or moved-aside copy first, the complete unpublished one when they do not verify', async () => {
      const { first, newest } = await epochCheckpoints('hidden');
      const copy = (from: string, to: string) =>
        writeDirectoryAtomic(join(dir, 'hidden', to), async (tmp) => {
          for (const name of await readdir(from)) await writeFile(join(tmp, name), await readFile(join(from, name)));
        });
      const slot = join(dir, 'hidden', 'slot');
      // Killed after the new copy was complete but before it was renamed into place: the published one stays first.
      await copy(first, 'slot');
      await copy(newest, '.slot.tmp-1-aaaa');
      expect(await findCheckpoint(slot)).toBe(slot);
      // Killed between the renames: the previous copy moved aside, then the new one.
      await rm(slot, { recursive: true });
      await copy(first, '.slot.old-1-aaaa');
      expect(await findCheckpoint(slot)).toBe(join(dir, 'hidden', '.slot.old-1-aaaa'));
      const skipped: string[] = [];
      await rm(join(dir, 'hidden', '.slot.old-1-aaaa', 'weights.bin'));
      expect(await findCheckpoint(slot, { onSkip: (s) => skipped.push(s.path) })).toBe(join(dir, 'hidden', '.slot.tmp-1-aaaa'));
      expect(skipped).toEqual([join(dir, 'hidden', '.slot.old-1-aaaa')]);
      // A new copy torn before its state.json was written is no checkpoint.
      await rm(join(dir, 'hidden', '.slot.tmp-1-aaaa', 'state.json'));
      expect(await findCheckpoint(slot).catch((e: unknown) => e)).toMatchObject({ name: 'CheckpointCorruptError', file: 'weights.bin' });
    });
  });

  it('names the weight and both shapes when resuming into another architecture', async () => {
    const { info } = await trainedCheckpoint('shapes');
    const other = createTrainer({ model: mlp(3, 9, 2), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
    await expect(other.resume(info.path, classificationData(8, 3, 2), { epochs: 3, batchSize: 8, handleSignals: false })).rejects.toThrow(/has shape \[3, 8\] but .* has \[3, 9\]; the architectures differ/);
  });

  it('refuses to resume a checkpoint written without a trainer (writeCheckpoint), naming how to load its model instead', async () => {
    const model = mlp(3, 8, 2, 4);
    const bare = await writeCheckpoint(join(dir, 'model-only'), { model, seed: 3 });
    const trainer = () => createTrainer({ model: mlp(3, 8, 2), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
    const fit = { epochs: 3, batchSize: 8, handleSignals: false };
    const error = await trainer().resume(bare.path, classificationData(8, 3, 2), fit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as Error).message).toMatch(/written without a trainer \(writeCheckpoint\).*checkpointModel/);
    const optimizer = tf.train.adam(0.01);
    const withOptimizer = await writeCheckpoint(join(dir, 'model-and-optimizer'), { model, optimizer, seed: 3 });
    await expect(trainer().resume(withOptimizer.path, classificationData(8, 3, 2), fit)).rejects.toThrow(/written without a trainer/);
    optimizer.dispose();
    model.dispose();
  });

  it('refuses to resume with another optimizer or another seed', async () => {
    const { info } = await trainedCheckpoint('mismatch');
    const sgd = createTrainer({ model: mlp(3, 8, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
    await expect(sgd.resume(info.path, classificationData(8, 3, 2), { epochs: 3, batchSize: 8, handleSignals: false })).rejects.toThrow(/written with optimizer Adam but this trainer uses SGD/);
  });

  it('requestCheckpoint writes epoch/step directories and latest.json at the next boundary', async () => {
    const model = mlp(3, 8, 2);
    const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 3, backend: 'current', log: null });
    trainer.use({ name: 'every-epoch', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe(() => c.requestCheckpoint('epoch end')) });
    const saved: string[] = [];
    trainer.events$.pipe(ofType('checkpoint:saved')).subscribe((e) => saved.push(`${e.epoch}:${e.batch}:${e.step}:${e.reason}`));
    const checkpointDir = join(dir, 'requested');
    await trainer.fit(classificationData(32, 3, 2), { epochs: 2, batchSize: 8, checkpointDir, handleSignals: false });
    expect(saved).toEqual(['1:0:4:epoch end', '2:0:8:epoch end']);
    expect(await findCheckpoint(checkpointDir)).toBe(join(checkpointDir, 'epoch-0002-step-00000008'));
    await expect(createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', backend: 'current', log: null })
      .use({ name: 'needs-dir', attach: (e$, c) => e$.pipe(ofType('epoch:end')).subscribe(() => c.requestCheckpoint()) })
      .fit(classificationData(8, 3, 2), { epochs: 1, batchSize: 8, handleSignals: false })).rejects.toThrow(/options\.checkpointDir/);
  });
});

describe('atomic writes', () => {
  it.each(['unique', 'in-place'] as const)('a process killed (SIGKILL) at random moments while checkpointing (%s) never loses the last good checkpoint', async (mode) => {
    const runDir = join(dir, `kill-${mode}`);
    const writer = fileURLToPath(new URL('../../test-support/checkpoint-writer.ts', import.meta.url));
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--conditions=@fitstream/source', '--import', 'tsx', writer, runDir, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      let saves = 0;
      const target = 3 + round * 2;
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          saves += (chunk.toString().match(/saved/g) ?? []).length;
          if (saves >= target) {
            // Kill a few milliseconds later, so that some kills land in the middle of the next write.
            setTimeout(() => child.kill('SIGKILL'), round * 3);
          }
        });
        child.on('exit', () => resolve());
      });
      const found = await findCheckpoint(mode === 'unique' ? join(runDir, 'checkpoints') : join(runDir, 'current'));
      expect(found).toBeDefined();
      const loaded = await readCheckpoint(found!); // verifies every checksum
      expect(loaded.state.step).toBeGreaterThan(0);
      tf.dispose(Object.values(loaded.weights));
      tf.dispose(loaded.optimizerWeights.map((w) => w.tensor));
    }
  }, 120_000);
});
