// A long event log, written line by line in the format of callbacks' jsonlLogger (what `fitstream train` writes to
// events.jsonl): the header, then per step batch:start, batch:end and step:end, per epoch epoch:start, validation and
// epoch:end, and fit:start/fit:end around them. `report-scale.test.ts` checks the key order of every event type against
// a real run's log, so the two cannot drift apart.
import { closeSync, openSync, writeSync } from 'node:fs';

/** What {@link writeEventLog} writes. */
export interface EventLogShape {
  readonly steps: number;
  readonly stepsPerEpoch: number;
  /** A step whose batch loss is a spike (100, against ~0.05 around it), to check that the report keeps it visible. */
  readonly spikeAt?: number;
}

/** Deterministic noise in [0, 1) (a 32-bit LCG): the log is the same on every run. */
function noise(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * Writes an event log of `shape.steps` optimizer steps (one batch each) to `path`, in 4 MiB writes (the log of a
 * million steps is about half a gigabyte; it is never held in memory). Returns the file's size in bytes.
 */
export function writeEventLog(path: string, shape: EventLogShape): number {
  const { steps, stepsPerEpoch } = shape;
  const epochs = Math.ceil(steps / stepsPerEpoch);
  const random = noise(17);
  const fd = openSync(path, 'w');
  let buffer = '';
  let bytes = 0;
  const line = (record: string) => {
    buffer += `${record}\n`;
    if (buffer.length >= 1 << 22) flush();
  };
  const flush = () => {
    bytes += writeSync(fd, buffer);
    buffer = '';
  };
  let time = 1_800_000_000_000;
  const lr = (step: number) => Number((0.01 * 0.5 * (1 + Math.cos((Math.PI * step) / steps))).toPrecision(8));
  const history: { loss: number[]; accuracy: number[]; val_loss: number[]; val_accuracy: number[]; lr: number[] } = { loss: [], accuracy: [], val_loss: [], val_accuracy: [], lr: [] };
  try {
    line('{"format":"fitstream-events","version":1}');
    line(`{"type":"fit:start","time":${time},"epochs":${epochs},"initialEpoch":0,"batchSize":16,"batchesPerEpoch":${stepsPerEpoch},"samples":${16 * stepsPerEpoch},"accumulateBatches":1,"step":0,"learningRate":${lr(0)}}`);
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      line(`{"type":"epoch:start","time":${time},"epoch":${epoch},"step":${step},"learningRate":${lr(step)},"batchesPerEpoch":${stepsPerEpoch}}`);
      const start = time;
      let lossSum = 0;
      let accSum = 0;
      const batches = Math.min(stepsPerEpoch, steps - step);
      for (let batch = 0; batch < batches; batch++) {
        const rate = lr(step);
        const base = 0.05 + 2 * Math.exp(-step / (steps / 8));
        const loss = step === shape.spikeAt ? 100 : base * (0.7 + 0.6 * random());
        const accuracy = Math.min(1, Math.max(0, 1 - base / 2.1 + 0.1 * (random() - 0.5)));
        lossSum += loss;
        accSum += accuracy;
        const metrics = `{"loss":${loss},"accuracy":${accuracy}}`;
        line(`{"type":"batch:start","time":${time},"epoch":${epoch},"step":${step},"learningRate":${rate},"batch":${batch},"size":16}`);
        time += 2;
        line(`{"type":"batch:end","time":${time},"epoch":${epoch},"step":${step},"learningRate":${rate},"batch":${batch},"size":16,"metrics":${metrics}}`);
        step += 1;
        line(`{"type":"step:end","time":${time},"epoch":${epoch},"step":${step},"learningRate":${rate},"learningRateFactors":{},"batch":${batch},"samples":16,"skipped":false,"metrics":${metrics}}`);
      }
      const loss = lossSum / batches;
      const accuracy = accSum / batches;
      const valLoss = loss * 1.1;
      const valAccuracy = accuracy * 0.98;
      line(`{"type":"validation:start","time":${time},"epoch":${epoch},"step":${step},"learningRate":${lr(step)},"batchesPerEpoch":2}`);
      line(`{"type":"validation:end","time":${time},"epoch":${epoch},"step":${step},"learningRate":${lr(step)},"samples":30,"metrics":{"val_loss":${valLoss},"val_accuracy":${valAccuracy}}}`);
      line(`{"type":"epoch:end","time":${time},"epoch":${epoch},"step":${step},"learningRate":${lr(step)},"learningRateFactors":{},"samples":${16 * batches},"batches":${batches},"durationMs":${time - start},"metrics":{"loss":${loss},"accuracy":${accuracy},"val_loss":${valLoss},"val_accuracy":${valAccuracy}}}`);
      history.loss.push(loss);
      history.accuracy.push(accuracy);
      history.val_loss.push(valLoss);
      history.val_accuracy.push(valAccuracy);
      history.lr.push(lr(step));
    }
    const logs = `{"loss":[${history.loss.join(',')}],"accuracy":[${history.accuracy.join(',')}],"val_loss":[${history.val_loss.join(',')}],"val_accuracy":[${history.val_accuracy.join(',')}]}`;
    const epochList = Array.from({ length: epochs }, (_, i) => i).join(',');
    line(`{"type":"fit:end","time":${time},"epoch":${epochs - 1},"step":${step},"learningRate":${lr(step)},"reason":"completed","history":{"epochs":[${epochList}],"logs":${logs},"learningRate":[${history.lr.join(',')}],"learningRateFactors":{}}}`);
    flush();
  } finally {
    closeSync(fd);
  }
  return bytes;
}
