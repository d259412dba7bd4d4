import { describe, expect, it } from 'vitest';
import { earlyStopping, earlyStoppingConfig, plateauConfig, reduceLROnPlateau } from '../../index.js';

describe('the monitored metric of early stopping and the plateau (one set of checks, errors named for each)', () => {
  it('applies each policy’s Keras defaults and resolves the mode from the name', () => {
    expect(earlyStoppingConfig('val_loss')).toMatchObject({ mode: 'min', minDelta: 0, patience: 0 });
    expect(plateauConfig('val_accuracy')).toMatchObject({ mode: 'max', minDelta: 1e-4, patience: 10 });
    expect(earlyStopping().monitor).toBe('val_loss');
    expect(reduceLROnPlateau({ minDelta: -0.01 }).monitor).toBe('val_loss');
    expect(plateauConfig('val_loss', { minDelta: -0.01 }).minDelta).toBe(0.01);
  });

  it.each([
    ['earlyStopping', (o: object) => earlyStopping(o)],
    ['reduceLROnPlateau', (o: object) => reduceLROnPlateau(o)],
  ])('%s rejects a bad monitor, mode, minDelta or patience, naming itself and the option', (who, create) => {
    expect(() => create({ monitor: '' })).toThrow(`${who}: monitor must be a metric name such as "val_loss".`);
    expect(() => create({ mode: 'up' })).toThrow("options.mode: must be 'min', 'max' or 'auto', got up.");
    expect(() => create({ minDelta: Number.NaN })).toThrow(`${who}: minDelta must be a finite number, got NaN.`);
    expect(() => create({ patience: 1.5 })).toThrow(`${who}: patience must be an integer ≥ 0, got 1.5.`);
  });
});
