import "@fitstream/backend-wasm";
import { selectBackend } from "@fitstream/core";
await selectBackend({ prefer: "wasm", log: null } as never);
import * as tf from '@tensorflow/tfjs';
const { createTrainer, withSeed } = await import("@fitstream/core");
const { MODELS, makeData, BATCH, SEED, LEARNING_RATE } = await import("../src/suites/models.js");
const { useBackend } = await import("../src/suites/contenders.js");
const spec = MODELS.find((m) => m.name === (process.argv[2] ?? "mlp"))!;
await useBackend('wasm', true);
const steps = 96;
const model = withSeed(SEED, () => spec.build());
const data = makeData(spec, steps * BATCH);
const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: LEARNING_RATE }, loss: spec.loss, seed: SEED, backend: 'current', log: null });
const inside: number[] = [], between: number[] = [], epochs: number[] = [];
let tStart = 0, tEnd = 0, last = 0;
trainer.events$.subscribe((e) => {
  const t = performance.now();
  if (e.type === 'batch:start') { if (tEnd) between.push(t - tEnd); tStart = t; }
  else if (e.type === 'step:end') { inside.push(t - tStart); tEnd = t; }
  else if (e.type === 'epoch:end') { tEnd = 0; }
});
for (let ep = 0; ep < 12; ep++) { const s = performance.now(); await trainer.fit(data, { epochs: ep + 1, initialEpoch: ep, batchSize: BATCH, shuffle: true, handleSignals: false }); epochs.push(performance.now() - s); }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const skip = 96 * 2;
console.log("inside med", med(inside.slice(skip)).toFixed(3), "mean", mean(inside.slice(skip)).toFixed(3), "between med", med(between.slice(skip)).toFixed(3), "mean", mean(between.slice(skip)).toFixed(3), "epoch med ms", med(epochs.slice(2)).toFixed(1), "per step", (med(epochs.slice(2))/96).toFixed(3));
process.exit(0);
