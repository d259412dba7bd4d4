// `fitstream fit --model`: the model loaders, on real files — tfjs model.json with and without weights, Keras 3
// `.keras` and config.json written by Keras 3.15 (fixtures/make-fixtures.py), JS/TS modules — and their errors.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, Random, fileSystem, withSeed } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUserModel, type UserModelContext } from './load-user-model.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
let dir: string;
let logs: string[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fitstream-model-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function context(over: Partial<UserModelContext> = {}): UserModelContext {
  logs = [];
  return { inputShape: [4], outputUnits: 3, task: 'classification', seed: 42, random: Random.fromSeed(42).derive('model-init'), featureNames: ['a', 'b', 'c', 'd'], log: (l) => logs.push(l), ...over };
}

const weights = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

/** A tfjs Sequential 4-8-3 as `model.toJSON()` writes its topology. */
function topology(inputs = 4, units = 3): object {
  const model = tf.sequential({ layers: [tf.layers.dense({ name: 'hidden', inputShape: [inputs], units: 8, activation: 'relu' }), tf.layers.dense({ name: 'out', units, activation: 'softmax' })] });
  const json = model.toJSON(undefined, false) as object;
  model.dispose();
  return json;
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return path;
}

describe('a tfjs layers model.json', () => {
  it('without weights: fresh weights drawn from the run seed (same seed, same weights; another seed, others), said in one log line', async () => {
    const path = await file('bare/model.json', JSON.stringify({ format: 'layers-model', modelTopology: topology() }));
    const a = await loadUserModel({ path }, context());
    expect(logs).toEqual([`${path} has no weights: training from fresh weights seeded by the run's seed.`]);
    const b = await loadUserModel({ path }, context());
    const c = await loadUserModel({ path }, context({ random: Random.fromSeed(7).derive('model-init') }));
    expect(weights(b)).toEqual(weights(a));
    expect(weights(c)).not.toEqual(weights(a));
    expect(a.layers.map((l) => l.name)).toEqual(['hidden', 'out']);
    for (const m of [a, b, c]) m.dispose();
  });

  it('with weights: the saved weights (through @fitstream/transfer loadPretrained); a directory means its model.json', async () => {
    const saved = withSeed(3, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }));
    await saved.save(fileSystem(join(dir, 'trained')));
    const loaded = await loadUserModel({ path: join(dir, 'trained') }, context());
    expect(weights(loaded)).toEqual(weights(saved));
    expect(logs).toEqual([]);
    saved.dispose();
    loaded.dispose();
  });

  it('with its weight files missing: fresh weights, naming the missing files', async () => {
    const path = await file('lost/model.json', JSON.stringify({ format: 'layers-model', modelTopology: topology(), weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'hidden/kernel', shape: [4, 8], dtype: 'float32' }] }] }));
    const model = await loadUserModel({ path }, context());
    expect(logs[0]).toMatch(/lists weight files that are missing \(group1-shard1of1\.bin\): training from fresh weights/);
    model.dispose();
  });

  it('refuses a graph model, a JSON that is no model and a missing file, naming the file and the fix', async () => {
    const graph = await file('graph/model.json', JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    await expect(loadUserModel({ path: graph }, context())).rejects.toThrow(new RegExp(`${graph} is a tfjs graph model .*--output_format tfjs_layers_model`));
    const other = await file('other.json', JSON.stringify({ hello: 'world' }));
    await expect(loadUserModel({ path: other }, context())).rejects.toThrow(/is neither a tfjs layers model\.json .* nor a Keras model configuration/);
    await expect(loadUserModel({ path: join(dir, 'nope.json') }, context())).rejects.toThrow(/nope\.json does not exist; pass --model a tfjs layers model\.json/);
    const error = await loadUserModel({ path: other }, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FitstreamInputError);
  });
});

describe('Keras 3', () => {
  it('a .keras archive: the topology of its config.json, fresh seeded weights, and one line on the HDF5 weights', async () => {
    const a = await loadUserModel({ path: join(FIXTURES, 'keras3-mlp.keras') }, context());
    expect(a.layers.map((l) => [l.name, l.outputShape])).toEqual([
      ['features', [null, 4]],
      ['hidden', [null, 8]],
      ['classes', [null, 3]],
    ]);
    expect(logs).toEqual([expect.stringMatching(/keras3-mlp\.keras: Keras' HDF5 weights \(model\.weights\.h5\) cannot be read in JavaScript; training the architecture from fresh weights/)]);
    const b = await loadUserModel({ path: join(FIXTURES, 'keras3-mlp.keras') }, context());
    expect(weights(b)).toEqual(weights(a));
    a.dispose();
    b.dispose();
  });

  it("a bare config.json (a functional model: branches, Concatenate) through transfer's Keras 3 translation", async () => {
    const path = join(dir, 'config.json');
    await copyFile(join(FIXTURES, 'keras3-functional.json'), path);
    const model = await loadUserModel({ path }, context());
    expect(model.layers.map((l) => l.name)).toEqual(['x', 'a', 'b', 'cat', 'out']);
    const y = tf.tidy(() => (model.predict(tf.ones([2, 4])) as tf.Tensor).sum(-1).arraySync() as number[]);
    expect(y[0]).toBeCloseTo(1, 5);
    model.dispose();
  });

  it('a model whose input does not fit the data: the file, both shapes, the feature names and the fix', async () => {
    const error = await loadUserModel({ path: join(FIXTURES, 'keras3-mlp.keras') }, context({ inputShape: [5], featureNames: ['a', 'b', 'note=red, big', 'note=blue', 'c'] })).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as Error).message).toMatch(
      /^model: .*keras3-mlp\.keras takes 4 features \(input shape \[null, 4\]\) but the data has 5 features \(a, b, "note=red, big", note=blue, c\); build the model's input for \[5\] .*keras\.Input\(shape=\(5,\)\)/,
    );
    await expect(loadUserModel({ path: join(FIXTURES, 'keras3-mlp.keras') }, context({ outputUnits: 2, classNames: ['no', 'yes'] }))).rejects.toThrow(
      /gives outputs of shape \[null, 3\] but the data has 2 classes \(no, yes\): end the model with a dense layer of 2 units and a softmax/,
    );
    await expect(loadUserModel({ path: join(FIXTURES, 'keras3-mlp.keras') }, context({ task: 'regression', outputUnits: 1 }))).rejects.toThrow(/has 1 target: end the model with a dense layer of 1 unit and no activation/);
  });
});

describe('a JS/TS module', () => {
  it('TypeScript without a build step: its default export gets model.with and the data (shape, units, task, seed, tf), under the run seed', async () => {
    const path = await file(
      'model.ts',
      `import type * as tfjs from '@tensorflow/tfjs';
interface Context { inputShape: readonly number[]; outputUnits: number; task: string; seed: number; tf: typeof tfjs }
export default function build(options: { hidden: number }, { inputShape, outputUnits, task, seed, tf }: Context): tfjs.LayersModel {
  const name: string = \`\${task}_\${seed}_\${options.hidden}\`;
  return tf.sequential({ name, layers: [tf.layers.dense({ inputShape: [...inputShape], units: options.hidden, activation: 'relu' }), tf.layers.dense({ units: outputUnits, activation: 'softmax' })] });
}
`,
    );
    const a = await loadUserModel({ path, with: { hidden: 5 } }, context());
    expect(a.name).toBe('classification_42_5');
    expect(a.layers[0]!.outputShape).toEqual([null, 5]);
    const b = await loadUserModel({ path, with: { hidden: 5 } }, context());
    expect(weights(b)).toEqual(weights(a));
    a.dispose();
    b.dispose();
  });

  it('JavaScript: a named buildModel export', async () => {
    const path = await file('named.mjs', `export function buildModel(_o, { tf }) { return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] }); }\n`);
    const model = await loadUserModel({ path }, context());
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    model.dispose();
  });

  it('refuses a module without a builder, an async builder, a builder returning no model or throwing: the file and the fix', async () => {
    const none = await file('none.mjs', 'export const units = 3;\n');
    await expect(loadUserModel({ path: none }, context())).rejects.toThrow(/none\.mjs exports no model builder \(found: units\); export a function `export default function buildModel\(config/);
    const later = await file('later.mjs', `export default async function (_o, { tf }) { return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 })] }); }\n`);
    await expect(loadUserModel({ path: later }, context())).rejects.toThrow(/later\.mjs: the model builder returned a Promise; build and return the model synchronously/);
    const object = await file('object.mjs', 'export default () => ({ layers: 2 });\n');
    await expect(loadUserModel({ path: object }, context())).rejects.toThrow(/object\.mjs: the builder returned an object \(layers\), not a tf\.LayersModel/);
    const throws = await file('throws.mjs', "export default () => { throw new Error('no GPU here'); };\n");
    await expect(loadUserModel({ path: throws }, context())).rejects.toThrow(/throws\.mjs: the model builder threw: no GPU here/);
    const broken = await file('broken.ts', 'export default function (: number) {}\n');
    await expect(loadUserModel({ path: broken }, context())).rejects.toThrow(/broken\.ts could not be imported/);
    await expect(loadUserModel({ path: await file('model.onnx', '') }, context())).rejects.toThrow(/unknown kind of model file "\.onnx"/);
  });
});
