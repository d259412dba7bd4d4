// Checkpoint stores: the same checkpoint, verified the same way, in IndexedDB (fake-indexeddb, a complete in-memory
// implementation of the IndexedDB spec, stands in for a browser's here; the example app's Chromium test runs the real
// one), as a zip, and on disk. (Exact resume from IndexedDB is the trainer's: @fitstream/core's tests.)
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointCorruptError,
  checkpointModel,
  checkpointStore,
  exportCheckpoint,
  findCheckpoint,
  importCheckpoint,
  joinLocation,
  markLatest,
  readCheckpoint,
  registerCheckpointStore,
  writeCheckpoint,
  type CheckpointFiles,
} from '../index.js';
import { trained, weightsOf } from '../test-support/fixtures.js';
import { fileStore as browserFileStore } from './platform/browser/file-store.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fitstream-stores-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A model and optimizer after `step` updates, checkpointed at `location` with that position. */
async function saved(location: string, step = 2) {
  const { model, optimizer } = trained(11, step);
  const info = await writeCheckpoint(location, { model, optimizer, epoch: 1, step });
  return { model, optimizer, info };
}

describe('IndexedDB checkpoints (indexeddb://)', () => {
  it('a collection: newest first, latest.json on ties, a damaged newest skipped for the previous good one', async () => {
    const { info: a } = await saved('indexeddb://collection/a', 2);
    const { info: b } = await saved('indexeddb://collection/b', 4);
    await markLatest(b.path);
    expect(await findCheckpoint('indexeddb://collection')).toBe('indexeddb://collection/b');
    // Damage b's weights in the store itself (a torn or tampered record): it no longer verifies.
    const { store } = checkpointStore('indexeddb://collection/b');
    const [stored] = await store.list('indexeddb://collection/b');
    const weights = new Uint8Array(await stored!.read('weights.bin'));
    weights[3] = weights[3]! ^ 0xff;
    const files = new Map<string, Uint8Array>();
    for (const name of ['state.json', 'model.json', 'optimizer.json', 'optimizer.bin']) files.set(name, await stored!.read(name));
    files.set('weights.bin', weights);
    await store.write('indexeddb://collection/b', files);
    const skipped: string[] = [];
    expect(await findCheckpoint('indexeddb://collection', { onSkip: (s) => skipped.push(`${s.path}: ${(s.error as CheckpointCorruptError).file}`) })).toBe(a.path);
    expect(skipped).toEqual(['indexeddb://collection/b: weights.bin']);
    await expect(readCheckpoint('indexeddb://collection/b')).rejects.toBeInstanceOf(CheckpointCorruptError);

    expect(await store.exists('indexeddb://collection/a')).toBe(true);
    await store.remove('indexeddb://collection');
    expect(await store.exists('indexeddb://collection/a')).toBe(false);
    expect(await findCheckpoint('indexeddb://collection')).toBeUndefined();
  });

  it('a rewrite replaces every file (nothing of the old checkpoint is left), and notes are atomic text', async () => {
    const { store } = checkpointStore('indexeddb://rewrite/x');
    const files = (n: number): CheckpointFiles => new Map(Array.from({ length: n }, (_, i) => [`f${i}`, Uint8Array.of(i)]));
    await store.write('indexeddb://rewrite/x', files(3));
    await store.write('indexeddb://rewrite/x', files(1));
    const [x] = await store.list('indexeddb://rewrite/x');
    await expect(x!.read('f2')).rejects.toThrow(/f2 is missing/);
    await store.writeText('indexeddb://rewrite/best.json', '{"name":"x"}');
    expect(await store.exists('indexeddb://rewrite/best.json')).toBe(true);
    expect(await store.cleanUp('indexeddb://rewrite')).toEqual([]);
  });

  it('loads the checkpoint model with stock tf.loadLayersModel through checkpointModel()', async () => {
    const { model } = await saved('indexeddb://model/one');
    const loaded = await tf.loadLayersModel(checkpointModel('indexeddb://model/one'));
    expect(weightsOf(loaded)).toEqual(weightsOf(model));
    loaded.dispose();
  });

  it('refuses malformed locations and unknown schemes with the fix', () => {
    expect(() => checkpointStore('indexeddb://')).toThrow(/"indexeddb:\/\/<name>"/);
    expect(checkpointStore('indexeddb://a/b//').location).toBe('indexeddb://a/b');
    expect(() => checkpointStore('s3://bucket/x')).toThrow(/No checkpoint store for "s3:\/\/".*registerCheckpointStore\("s3", store\)/);
    expect(() => checkpointStore('')).toThrow(/non-empty string/);
    expect(() => registerCheckpointStore('no good', {} as never)).toThrow(/scheme must be/);
  });
});

describe('moving checkpoints: zip export/import between stores, verified both ways', () => {
  it('IndexedDB → zip → disk → IndexedDB keeps every byte; the disk copy is a stock checkpoint directory', async () => {
    await saved('indexeddb://move/src');
    const zip = await exportCheckpoint('indexeddb://move/src');
    const onDisk = await importCheckpoint(zip, join(dir, 'moved'));
    expect((await readdir(onDisk)).sort()).toEqual(['model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'weights.bin']);
    expect(unzipSync(zip)['state.json']).toEqual(new Uint8Array(await readFile(join(onDisk, 'state.json'))));
    const back = await importCheckpoint(await exportCheckpoint(onDisk), 'indexeddb://move/back');
    const [original, copy] = await Promise.all([readCheckpoint('indexeddb://move/src'), readCheckpoint(back)]);
    expect(copy.state).toEqual(original.state);
    for (const [name, t] of Object.entries(original.weights)) expect(copy.weights[name]!.dataSync()).toEqual(t.dataSync());
    tf.dispose([original, copy].flatMap((c) => [...Object.values(c.weights), ...c.optimizerWeights.map((w) => w.tensor)]));
  });

  it('a folder upload (webkitRelativePath) is read below its folder; a damaged or incomplete upload is refused and nothing is written', async () => {
    const files = unzipSync(await exportCheckpoint((await saved('indexeddb://upload/src')).info.path));
    const asUpload = (entries: Record<string, Uint8Array>) =>
      Object.entries(entries).map(([name, bytes]) => ({ name: name.split('/').pop()!, webkitRelativePath: `backup/${name}`, arrayBuffer: () => Promise.resolve(bytes.slice().buffer) }));
    expect(await importCheckpoint(asUpload(files), 'indexeddb://upload/ok')).toBe('indexeddb://upload/ok');
    const damaged = { ...files, 'optimizer.bin': files['optimizer.bin']!.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    await expect(importCheckpoint(zipSync(damaged), 'indexeddb://upload/bad')).rejects.toMatchObject({ name: 'CheckpointCorruptError', file: 'optimizer.bin' });
    const { ['state.json']: _state, ...withoutState } = files;
    await expect(importCheckpoint(zipSync(withoutState), 'indexeddb://upload/bad')).rejects.toThrow(/state\.json is missing/);
    expect(await checkpointStore('indexeddb://upload/bad').store.exists('indexeddb://upload/bad')).toBe(false);
  });
});

describe('locations', () => {
  it('join under paths and store URLs alike; a plain path in a browser build is refused naming indexeddb://', async () => {
    expect(joinLocation('indexeddb://run/', 'backup')).toBe('indexeddb://run/backup');
    expect(joinLocation('runs/a', 'checkpoints', 'best')).toBe('runs/a/checkpoints/best');
    expect(checkpointStore('file:///tmp/x').location).toBe('/tmp/x');
    await expect(browserFileStore.write('runs/a', new Map())).rejects.toThrow(/web page has no file system; in a browser use "indexeddb:\/\/runs\/a"/);
  });
});
