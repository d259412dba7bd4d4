/**
 * Trains the two-head digit detector and reports each head's held-out figures.
 *
 *   npm run multi-task -w @fitstream/examples -- [--quick] [--epochs N] [--seed S] [--dir runs/multi-task]
 */
import 'reflect-metadata';
import { selectBackend } from '@fitstream/core';
import { runArgs } from '../shared/run-options.js';
import { CANVAS, RUNS, trainMultiTask } from './multi-task.js';

const args = runArgs();
const preset = args.quick ? RUNS.quick : RUNS.full;
await selectBackend();
const started = Date.now();
const run = await trainMultiTask({ dir: args.dir ?? 'runs/multi-task', epochs: args.epochs ?? preset.epochs, seed: args.seed ?? 1, progress: process.stdout });
const logs = run.result.history.logs;
const best = logs.val_loss!.indexOf(Math.min(...logs.val_loss!));
const at = (name: keyof typeof logs) => +(logs[name]?.[best] ?? NaN).toFixed(4);
console.log(
  JSON.stringify(
    {
      epochsRun: logs.loss?.length,
      bestEpoch: best + 1,
      trainSeconds: Math.round((Date.now() - started) / 1000),
      historyNames: Object.keys(logs).sort(),
      val_digit_accuracy: at('val_digit_accuracy'),
      val_box_iou: at('val_box_iou'),
      val_box_mae_pixels: +(at('val_box_mae') * CANVAS).toFixed(2),
      val_digit_loss: at('val_digit_loss'),
      val_box_loss: at('val_box_loss'),
    },
    null,
    2,
  ),
);
run.dispose();
