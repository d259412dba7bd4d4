import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSystem } from '@fitstream/core';
import { withSeed } from '@fitstream/util';
import { modelFromArtifacts } from '../../model-artifacts.js';
import { featureCache } from './feature-cache.js';
import { readModelArtifacts } from './model-artifacts.js';

// The browser modules run here under Node: a page's loadPretrained is readModelArtifacts (this folder) followed by
// modelFromArtifacts (shared), and tfjs' HTTP handler fetches from a real server on 127.0.0.1 as it would in a page.

let dir: string;
let server: Server;
let base: string;
/** The paths the server was asked for, in order. */
const requests: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fitstream-transfer-browser-'));
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    requests.push(path);
    readFile(join(dir, normalize(path)))
      .then((body) => res.writeHead(200, { 'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(body))
      .catch(() => res.writeHead(404).end('not found'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const loadInPage = async (url: string, options: { frozen?: boolean } = {}): Promise<tf.LayersModel> => {
  const { source, artifacts } = await readModelArtifacts(url);
  return modelFromArtifacts(source, artifacts, options);
};

function classifier(): tf.LayersModel {
  return withSeed(4, () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu', name: 'features' }),
        tf.layers.batchNormalization({ name: 'features_bn' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'classes' }),
      ],
    }),
  );
}

describe('the browser build of @fitstream/transfer', () => {
  it('loadPretrained reads a saved model over HTTP once (model.json, then its weight shards beside it), weights equal', async () => {
    const source = classifier();
    // Make the batch-norm statistics differ from their initial values, so that they are seen to be loaded.
    tf.tidy(() => source.getLayer('features_bn').setWeights(source.getLayer('features_bn').getWeights().map((w, i) => w.add(i + 1))));
    const folder = join(dir, 'models', 'digits');
    await source.save(fileSystem(folder));
    // Two shards, the second longer (as two weight groups, a small then a large one, come out): tfjs 4.22 alone decodes
    // everything past the first shard as zeros then (see evenShards).
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    const bytes = await readFile(join(folder, 'weights.bin'));
    await writeFile(join(folder, 'group1-shard1of2.bin'), bytes.subarray(0, 40));
    await writeFile(join(folder, 'group1-shard2of2.bin'), bytes.subarray(40));
    json.weightsManifest[0]!.paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    await writeFile(join(folder, 'model.json'), JSON.stringify(json));

    requests.length = 0;
    const loaded = await loadInPage(`${base}/models/digits/model.json`, { frozen: true });
    expect(requests).toEqual(['/models/digits/model.json', '/models/digits/group1-shard1of2.bin', '/models/digits/group1-shard2of2.bin']);
    for (const layer of source.layers) {
      expect(loaded.getLayer(layer.name).getWeights().map((w) => Array.from(w.dataSync()))).toEqual(layer.getWeights().map((w) => Array.from(w.dataSync())));
    }
    expect(loaded.trainableWeights).toHaveLength(0);
    const x = tf.tensor2d([[1, -2, 0.5, 3]]);
    const [expected, got] = tf.tidy(() => [(source.predict(x) as tf.Tensor).dataSync(), (loaded.predict(x) as tf.Tensor).dataSync()]);
    expect(Array.from(got!)).toEqual(Array.from(expected!));
    x.dispose();
    source.dispose();
    loaded.dispose();
  });

  it('runs the same checks as under Node and names the URL and the fix', async () => {
    await writeFile(join(dir, 'graph.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    await expect(loadInPage(`${base}/graph.json`)).rejects.toThrow(
      new RegExp(`^path: ${base}/graph\\.json is a tfjs graph model \\(inference only.*--output_format tfjs_layers_model`),
    );
    await writeFile(join(dir, 'topology-only.json'), JSON.stringify({ modelTopology: { class_name: 'Sequential', config: { layers: [] } } }));
    await expect(loadInPage(`${base}/topology-only.json`)).rejects.toThrow(/topology-only\.json has no modelTopology\/weightsManifest: it is not a tfjs layers model\.json/);
    await expect(loadInPage(`${base}/missing/model.json`)).rejects.toThrow(
      /^path: http:\/\/127\.0\.0\.1:\d+\/missing\/model\.json could not be loaded as a layers model: .*404.*; in a browser pass a URL tfjs can load: the model\.json served with its weight files .*'indexeddb:\/\/<name>'/,
    );
    // No scheme: a URL relative to the page, read with tf.io.http (Node has no page to resolve it against).
    await expect(loadInPage('models/digits/model.json')).rejects.toThrow(/^path: models\/digits\/model\.json could not be loaded as a layers model: .*; in a browser pass a URL/);
    await expect(loadInPage('')).rejects.toThrow(/^path: is ""; in a browser pass a URL tfjs can load/);
  });

  it('refuses a feature cache directory: a page has no file system, and features are computed in memory', () => {
    expect(() => featureCache('.cache/features')).toThrow(
      /^options\.cacheDir: is "\.cache\/features", a directory, and a web page has no file system to cache features in; omit cacheDir in a browser/,
    );
  });
});
