import type * as tf from '@tensorflow/tfjs';
import { createTrainer, ofType } from '@fitstream/core';
import { describe, expectTypeOf, it } from 'vitest';
import { clipGradNorm } from '../gradients/clipping.js';
import { binaryFocalCrossentropy } from '../loss/focal.js';
import { weightPenalty } from '../penalties/weight-penalty.js';
import type { SkippedStep } from './events.js';

declare const model: tf.LayersModel;

describe('regulariser events are typed', () => {
  it('narrows reports by kind; values are named per kind', () => {
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
      .use(weightPenalty({ l2: 1e-4 }))
      .use(clipGradNorm(1));
    trainer.events$.pipe(ofType('regulariser:report')).subscribe((e) => {
      if (e.kind === 'clip') {
        expectTypeOf(e.values.norm).toEqualTypeOf<number>();
        expectTypeOf(e.mode).toEqualTypeOf<'global-norm' | 'per-variable-norm' | 'value'>();
        // @ts-expect-error a clip report has no penalty value
        void e.values.penalty;
      }
      if (e.kind === 'penalty') expectTypeOf(e.values.meanPenalty).toEqualTypeOf<number>();
    });
    trainer.events$.pipe(ofType('regulariser:skipped')).subscribe((e) => expectTypeOf(e).toMatchTypeOf<SkippedStep>());
    // @ts-expect-error a misspelled event name
    ofType('regulariser:reports');
  });

  it('focal losses fit core’s loss option', () => {
    createTrainer({ model, optimizer: 'adam', loss: binaryFocalCrossentropy({ gamma: 2 }), metrics: ['binaryAccuracy'] });
  });
});
