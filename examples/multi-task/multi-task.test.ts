import * as tf from '@tensorflow/tfjs';
import { fileSystem, selectBackend } from '@fitstream/core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boxIou, RUNS, trainMultiTask } from './multi-task.js';

/** The measured seed is 1; `FITSTREAM_EXAMPLE_SEED` reruns the test with another to see the spread. */
const SEED = Number(process.env.FITSTREAM_EXAMPLE_SEED ?? 1);
let dir: string;
beforeAll(async () => {
  await selectBackend({ log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-multi-task-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('multi-task model (classification + box regression heads, loss weights, default step)', () => {
  it('box IoU is 1 for equal boxes, ¼ for a quarter overlap, 0 apart', () => {
    const iou = boxIou(tf.tensor2d([[0, 0, 1, 1], [0, 0, 0.5, 0.5], [0, 0, 0.2, 0.2]]), tf.tensor2d([[0, 0, 1, 1], [0, 0, 1, 0.5], [0.5, 0.5, 1, 1]]));
    expect(Array.from(iou.dataSync()).map((v) => +v.toFixed(5))).toEqual([1, 0.5, 0]);
  });

  it('classifies and locates held-out digits, reporting Keras 3 names per head', async () => {
    const run = await trainMultiTask({ dir, ...RUNS.quick, seed: SEED });
    const logs = run.result.history.logs;
    const names = ['loss', 'digit_loss', 'box_loss', 'digit_accuracy', 'box_mae', 'box_iou'];
    expect(Object.keys(logs).sort()).toEqual([...names, ...names.map((n) => `val_${n}`)].sort());
    // The total is the weighted sum of the heads' losses (weights 1 and 20).
    const i = logs.loss!.length - 1;
    expect(logs.loss![i]!).toBeCloseTo(logs.digit_loss![i]! + 20 * logs.box_loss![i]!, 3);
    // Measured with seeds 1, 2, 3: digit accuracy 0.921, 0.916, 0.921; box IoU 0.793, 0.778, 0.795 (6 epochs).
    console.info(`multi-task seed ${SEED}: val_digit_accuracy ${logs.val_digit_accuracy!.at(-1)!.toFixed(4)}, val_box_iou ${logs.val_box_iou!.at(-1)!.toFixed(4)}`);
    expect(logs.val_digit_accuracy!.at(-1)!).toBeGreaterThan(0.88);
    expect(logs.val_box_iou!.at(-1)!).toBeGreaterThan(0.74);

    // The saved model is stock tfjs layers format, with both heads.
    const loaded = await tf.loadLayersModel(fileSystem(join(dir, 'model')));
    expect(loaded.outputNames).toEqual(['digit', 'box']);
    const [digits, boxes] = loaded.predict(run.validation.x.slice(0, 8)) as tf.Tensor[];
    expect([digits!.shape, boxes!.shape]).toEqual([[8, 10], [8, 4]]);
    tf.dispose([digits!, boxes!]);
    loaded.dispose();
    expect((await readFile(join(dir, 'metrics.csv'), 'utf8')).split('\n')[0]).toContain('val_box_iou');
    run.dispose();
  });
});
