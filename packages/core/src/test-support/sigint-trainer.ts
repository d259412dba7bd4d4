// Child process for the SIGINT test: trains "forever" on cpu with in-memory data and reports how the fit ended.
import { createTrainer, ofType, selectBackend } from '../index.js';
import { classificationData, mlp } from './fixtures.js';

await selectBackend({ prefer: 'cpu', log: null });
const trainer = createTrainer({ model: mlp(3, 32, 2), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
let announced = false;
trainer.events$.pipe(ofType('step:end')).subscribe((e) => {
  if (!announced && e.step >= 20) {
    announced = true;
    process.stdout.write('training\n');
  }
});
const result = await trainer.fit(classificationData(256, 3, 2), { epochs: 1_000_000, batchSize: 8 });
process.stdout.write(`${JSON.stringify({ reason: result.reason, stopReason: result.stopReason, step: result.step })}\n`);
