import { filter, type Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createTrainer, defineMetric, ofType, type EventOf, type TrainerEvent } from '../../index.js';

declare const model: tf.LayersModel;

describe('event types', () => {
  const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy', defineMetric('top2', (y, p) => tf.mean(tf.sub(y, p), -1) as tf.Tensor1D)] });

  it('types metric names from the metrics option', () => {
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => {
      expectTypeOf(e).toEqualTypeOf<EventOf<'epoch:end', 'accuracy' | 'top2'>>();
      expectTypeOf(e.metrics.loss).toEqualTypeOf<number>();
      expectTypeOf(e.metrics.accuracy).toEqualTypeOf<number>();
      expectTypeOf(e.metrics.top2).toEqualTypeOf<number>();
      expectTypeOf(e.metrics.val_accuracy).toEqualTypeOf<number | undefined>();
      // @ts-expect-error: a misspelled metric does not compile
      void e.metrics.acuracy;
      // @ts-expect-error: metrics the trainer was not created with do not exist
      void e.metrics.val_mae;
    });
  });

  it('keeps typed events assignable to the generic event type (for generic loggers)', () => {
    expectTypeOf<TrainerEvent<'accuracy' | 'top2'>>().toExtend<TrainerEvent>();
    expectTypeOf(trainer.events$).toExtend<Observable<TrainerEvent>>();
  });

  it('narrows with ofType and rejects unknown event names', () => {
    trainer.events$.pipe(ofType('batch:end', 'step:end')).subscribe((e) => {
      expectTypeOf(e.type).toEqualTypeOf<'batch:end' | 'step:end'>();
      expectTypeOf(e.metrics.loss).toEqualTypeOf<number>();
    });
    // @ts-expect-error: unknown event type
    trainer.events$.pipe(ofType('epoch:ended'));
    trainer.events$.pipe(filter((e): e is Extract<TrainerEvent<'accuracy' | 'top2'>, { type: 'fit:end' }> => e.type === 'fit:end')).subscribe((e) => {
      expectTypeOf(e.reason).toEqualTypeOf<'completed' | 'stopped' | 'error'>();
    });
  });
});
