// Child process for the kill test: trains and checkpoints in a loop until killed.
// argv: <dir> <mode: unique|in-place>
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { createTrainer, ofType, selectBackend } from '../index.js';
import { classificationData, mlp } from './fixtures.js';

const [dir, mode] = process.argv.slice(2) as [string, 'unique' | 'in-place'];
await selectBackend({ prefer: 'cpu', log: null });
const model = mlp(3, 64, 2, 1);
const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
let saved = 0;
trainer.use({
  name: 'checkpoint-every-step',
  attach: (events$, control) =>
    events$.pipe(ofType('step:end')).subscribe((e) => {
      if (mode === 'unique') control.requestCheckpoint('test');
      else control.await(control.saveCheckpoint(join(dir, 'current'), 'test').then(() => process.stdout.write(`saved ${++saved}\n`)));
      if (mode === 'unique') control.await(Promise.resolve().then(() => process.stdout.write(`step ${e.step}\n`)));
    }),
});
trainer.events$.pipe(ofType('checkpoint:saved')).subscribe(() => process.stdout.write(`saved ${++saved}\n`));
await trainer.fit(classificationData(64, 3, 2), { epochs: 100_000, batchSize: 16, checkpointDir: join(dir, 'checkpoints'), handleSignals: false });
tf.dispose(model.getWeights());
