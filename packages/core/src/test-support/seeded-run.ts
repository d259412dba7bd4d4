// Child process of the cross-process determinism test: trains a seeded MLP (dropout, shuffling, Adam) on the backend
// named in argv and prints a digest of the final weights and history.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { createTrainer, selectBackend, type BackendName } from '../index.js';
import { classificationData, mlp, weightsOf } from './fixtures.js';

const backend = process.argv[2] as BackendName;
await selectBackend({ prefer: backend, log: null });
const model = mlp(3, 32, 2, 5, 0.3);
const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 11, backend: 'current', log: null });
const data = classificationData(128, 3, 2);
const { history } = await trainer.fit(data, { epochs: 3, batchSize: 16, handleSignals: false });
const digest = createHash('sha256').update(JSON.stringify([weightsOf(model), history.logs])).digest('hex');
process.stdout.write(`${JSON.stringify({ backend: tf.getBackend(), digest })}\n`);
