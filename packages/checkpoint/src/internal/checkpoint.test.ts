// The checkpoint format without a trainer: what writeCheckpoint writes, and everything a reader verifies (a
// CheckpointCorruptError names the file and what is wrong). A trainer's checkpoints, fallback and resume are tested in
// @fitstream/core; both write through the same snapshot encoder.
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDirectoryAtomic, writeFileAtomic, FitstreamInputError } from '@fitstream/util';
import { CheckpointCorruptError, checkpointModel, fileSystem, readCheckpoint, writeCheckpoint } from '../index.js';
import { mlp, trained, weightsOf } from '../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fitstream-checkpoint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A model and its optimizer after a few updates, checkpointed under `name`. */
async function trainedCheckpoint(name: string) {
  const { model, optimizer } = trained(4, 3);
  const info = await writeCheckpoint(join(dir, name), { model, optimizer, epoch: 2, step: 8 });
  return { model, optimizer, info };
}

describe('writeCheckpoint: a plain LayersModel, no trainer', () => {
  it('is a directory of stock tfjs layers files, loadable with tf.loadLayersModel', async () => {
    const { model, info } = await trainedCheckpoint('format');
    expect(info).toMatchObject({ path: join(dir, 'format'), epoch: 2, batch: 0, step: 8 });
    expect((await readdir(info.path)).sort()).toEqual(['model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'weights.bin']);
    for (const handler of [fileSystem(join(info.path, 'model.json')), checkpointModel(info.path)]) {
      const loaded = await tf.loadLayersModel(handler);
      expect(weightsOf(loaded)).toEqual(weightsOf(model));
      const x = tf.randomNormal([5, 3]);
      expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
      tf.dispose([x, ...loaded.weights.map((w) => w.read())]);
    }
    const state = JSON.parse(await readFile(join(info.path, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ format: 'fitstream-checkpoint', version: 1, optimizer: { className: 'Adam' }, model: { kind: 'layers' }, learningRate: 0.01 });
    expect(Object.keys(state.files).sort()).toEqual(['model.json', 'optimizer.bin', 'optimizer.json', 'weights.bin']);
  });

  it('reads back the weights, the optimizer slots and your JSON state, verified', async () => {
    const { model, optimizer } = trained(4, 3);
    const info = await writeCheckpoint(join(dir, 'state'), { model, optimizer, state: { note: { accuracy: 0.97, tags: ['best'] } }, seed: 'run-7' });
    const loaded = await readCheckpoint(info.path);
    expect(loaded.state.plugins).toEqual({ note: { accuracy: 0.97, tags: ['best'] } });
    expect(loaded.state.fit).toBeUndefined();
    expect(Object.values(loaded.weights).map((t) => Array.from(t.dataSync()))).toEqual(weightsOf(model));
    const slots = await optimizer.getWeights();
    expect(loaded.optimizerWeights.map((w) => [w.name, Array.from(w.tensor.dataSync())])).toEqual(slots.map((w) => [w.name, Array.from(w.tensor.dataSync())]));
    tf.dispose([...Object.values(loaded.weights), ...loaded.optimizerWeights.map((w) => w.tensor), slots[0]!.tensor]);
  });

  it('without an optimizer: the model and state.json only, still verified', async () => {
    const model = mlp(3, 4, 2);
    const info = await writeCheckpoint(join(dir, 'model-only'), { model });
    expect((await readdir(info.path)).sort()).toEqual(['model.json', 'state.json', 'weights.bin']);
    const loaded = await readCheckpoint(info.path);
    expect(loaded.state.optimizer).toBeUndefined();
    expect(loaded.optimizerWeights).toEqual([]);
    tf.dispose(Object.values(loaded.weights));
    const bytes = await readFile(join(info.path, 'weights.bin'));
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(join(info.path, 'weights.bin'), bytes);
    await expect(tf.loadLayersModel(checkpointModel(info.path))).rejects.toMatchObject({ name: 'CheckpointCorruptError', file: 'weights.bin' });
  });

  it('refuses what is not a LayersModel or a position that is not an integer ≥ 0, naming the argument', async () => {
    await expect(writeCheckpoint(join(dir, 'bad'), { model: {} as tf.LayersModel })).rejects.toThrow(FitstreamInputError);
    await expect(writeCheckpoint(join(dir, 'bad'), { model: {} as tf.LayersModel })).rejects.toThrow(/options\.model/);
    await expect(writeCheckpoint(join(dir, 'bad'), { model: mlp(3, 4, 2), step: -1 })).rejects.toThrow(/options\.step.*integer ≥ 0/);
  });
});

describe('checkpoint format', () => {
  it('detects a corrupted file by its checksum', async () => {
    const { info } = await trainedCheckpoint('corrupt');
    const weights = await readFile(join(info.path, 'weights.bin'));
    weights[10] = weights[10]! ^ 0xff;
    await writeFile(join(info.path, 'weights.bin'), weights);
    await expect(readCheckpoint(info.path)).rejects.toThrow(/is corrupt: weights\.bin does not match its checksum/);
  });

  describe('verifies everything it reads: a CheckpointCorruptError names the file and what is wrong', () => {
    type StateJson = { [key: string]: unknown; files: Record<string, string>; checksum?: string };
    const editState = (edit: (state: StateJson) => void) => async (path: string) => {
      const state = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as StateJson;
      edit(state);
      await writeFile(join(path, 'state.json'), JSON.stringify(state));
    };
    const cases: Array<[string, (path: string) => Promise<void>, string, RegExp]> = [
      ['an edited epoch', editState((s) => (s.epoch = 99)), 'state.json', /does not match its own checksum/],
      ['an edited learning rate', editState((s) => (s.learningRate = 1)), 'state.json', /does not match its own checksum/],
      ['an empty files map', editState((s) => { s.files = {}; delete s.checksum; }), 'model.json', /is not listed in state\.json/],
      ['no files map', editState((s) => { delete (s as Partial<StateJson>).files; delete s.checksum; }), 'state.json', /has no valid "files" map/],
      ['a file outside the directory', editState((s) => { s.files['../escape.bin'] = 'x'; delete s.checksum; }), '../escape.bin', /not a relative path inside the checkpoint/],
      ['an absolute path', editState((s) => { s.files['/etc/passwd'] = 'x'; delete s.checksum; }), '/etc/passwd', /not a relative path inside the checkpoint/],
      ['state.json that is not JSON', (path) => writeFile(join(path, 'state.json'), '{"format": "fitstream-check'), 'state.json', /is not valid JSON/],
      ['a missing weights file', (path) => rm(join(path, 'weights.bin')), 'weights.bin', /is missing/],
      ['a FIFO in place of a file (never opened)', async (path) => {
        await rm(join(path, 'optimizer.bin'));
        await new Promise<void>((done, fail) => spawn('mkfifo', [join(path, 'optimizer.bin')]).on('exit', (code) => (code === 0 ? done() : fail(new Error(`mkfifo ${code}`)))));
      }, 'optimizer.bin', /is not a regular file/],
      ['a symbolic link leaving the checkpoint', async (path) => {
        await writeFile(join(dir, 'outside.bin'), await readFile(join(path, 'weights.bin')));
        await rm(join(path, 'weights.bin'));
        await symlink(join(dir, 'outside.bin'), join(path, 'weights.bin'));
      }, 'weights.bin', /is a symbolic link/],
    ];
    it.each(cases)('%s', async (_title, damage, file, problem) => {
      const { info } = await trainedCheckpoint(`verify-${file.replace(/\W/g, '')}-${cases.findIndex((c) => c[1] === damage)}`);
      await damage(info.path);
      const error = await readCheckpoint(info.path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointCorruptError);
      expect(error).toMatchObject({ checkpoint: info.path, file });
      expect((error as CheckpointCorruptError).problem).toMatch(problem);
      expect((error as Error).message).toMatch(/Resume from an earlier checkpoint/);
    });

    it('writes state.json with its own checksum, and still reads checkpoints written before it existed', async () => {
      const { info, model } = await trainedCheckpoint('verify-legacy');
      const state = JSON.parse(await readFile(join(info.path, 'state.json'), 'utf8'));
      expect(state.checksum).toMatch(/^[0-9a-f]{64}$/);
      delete state.checksum;
      await writeFile(join(info.path, 'state.json'), JSON.stringify(state));
      const loaded = await readCheckpoint(info.path);
      expect(Object.values(loaded.weights).map((t) => Array.from(t.dataSync()))).toEqual(weightsOf(model));
      tf.dispose([...Object.values(loaded.weights), ...loaded.optimizerWeights.map((w) => w.tensor)]);
    });
  });

  it('fileSystem() verifies a checkpoint before tf.loadLayersModel reads it, and never opens a FIFO', async () => {
    const { info } = await trainedCheckpoint('io-verify');
    const bytes = await readFile(join(info.path, 'weights.bin'));
    bytes[3] = bytes[3]! ^ 0xff;
    await writeFile(join(info.path, 'weights.bin'), bytes);
    await expect(tf.loadLayersModel(fileSystem(info.path))).rejects.toMatchObject({ name: 'CheckpointCorruptError', file: 'weights.bin' });
    const plain = join(dir, 'io-fifo');
    await mkdir(plain);
    await new Promise<void>((done, fail) => spawn('mkfifo', [join(plain, 'model.json')]).on('exit', (code) => (code === 0 ? done() : fail(new Error(`mkfifo ${code}`)))));
    await expect(tf.loadLayersModel(fileSystem(plain))).rejects.toThrow(/model\.json is not a regular file/);
  });

});

describe('atomic writes', () => {
  it('leaves the previous directory intact when filling the new one fails', async () => {
    const target = join(dir, 'atomic');
    await writeDirectoryAtomic(target, async (tmp) => writeFile(join(tmp, 'a.txt'), 'first'));
    await expect(writeDirectoryAtomic(target, async (tmp) => {
      await writeFile(join(tmp, 'a.txt'), 'second, half written');
      throw new Error('disk full');
    })).rejects.toThrow('disk full');
    expect(await readFile(join(target, 'a.txt'), 'utf8')).toBe('first');
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('replaces files atomically', async () => {
    const file = join(dir, 'pointer.json');
    await writeFileAtomic(file, '{"a":1}');
    await writeFileAtomic(file, '{"a":2}');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ a: 2 });
  });

});
