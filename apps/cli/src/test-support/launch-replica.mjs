// A replica for the `fitstream launch` test: joins the group, trains a linear model data-parallel, reports its weights.
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { createTrainer, withSeed } from '@fitstream/core';
import { dataParallel, init } from '@fitstream/distributed';

const ctx = await init();
const rows = Array.from({ length: 64 }, (_, i) => [(i % 8) / 4 - 1, Math.floor(i / 8) / 4 - 1]);
const x = tf.tensor2d(rows);
const y = tf.tensor2d(rows.map(([a, b]) => [2 * a - b + 0.5]));
const model = withSeed(1, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] }));
const trainer = createTrainer({ model, optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError', seed: 1, backend: 'cpu', log: null }).use(dataParallel(ctx));
await trainer.fit({ x, y }, { epochs: 3, batchSize: 8, handleSignals: false });
parentPort?.postMessage({ rank: ctx.rank, weights: model.getWeights().map((w) => Array.from(w.dataSync())) });
