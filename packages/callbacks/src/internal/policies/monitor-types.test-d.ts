import type * as tf from '@tensorflow/tfjs';
import { describe, expectTypeOf, it } from 'vitest';
import { createTrainer } from '@fitstream/core';
import { earlyStopping, reduceLROnPlateau, type EarlyStopping } from '../../index.js';

declare const model: tf.LayersModel;

describe('monitor names are typed from the trainer inside trainer.use(...)', () => {
  const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

  it('accepts names the trainer reports, inferring M from the contextual type', () => {
    trainer.use(earlyStopping({ monitor: 'val_loss' }));
    trainer.use(earlyStopping({ monitor: 'val_accuracy', restoreBestWeights: true }));
    trainer.use(earlyStopping({ monitor: 'accuracy' }));
    trainer.use(reduceLROnPlateau({ monitor: 'val_accuracy' }));
    expectTypeOf(earlyStopping<'accuracy'>({ monitor: 'val_accuracy' })).toExtend<EarlyStopping<'accuracy'>>();
  });

  it('rejects misspelled or unknown names at compile time', () => {
    // @ts-expect-error: misspelled metric
    trainer.use(earlyStopping({ monitor: 'val_acuracy' }));
    // @ts-expect-error: the trainer has no mae metric
    trainer.use(reduceLROnPlateau({ monitor: 'val_mae' }));
    // @ts-expect-error: explicit type argument, outside trainer.use
    earlyStopping<'accuracy'>({ monitor: 'val_auc' });
  });

  it('outside trainer.use (no contextual type) any string is accepted; the runtime check names the available ones', () => {
    const standalone = earlyStopping({ monitor: 'val_anything' });
    expectTypeOf(standalone).toExtend<EarlyStopping<string>>();
    expectTypeOf(standalone.monitor).toEqualTypeOf<string>();
  });
});
