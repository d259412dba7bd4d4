import { describe, expect, it } from 'vitest';
import { bestOf, higherIsBetter } from './best.js';
import { formatDuration, formatNumber } from './format.js';

describe('formatNumber', () => {
  it('prints ordinary metrics with four decimals', () => {
    expect(formatNumber(0.96666)).toBe('0.9667');
    expect(formatNumber(1.0986123)).toBe('1.0986');
    expect(formatNumber(12.5)).toBe('12.5000');
  });

  it('never prints a small non-zero value as zero', () => {
    expect(formatNumber(0.00004321)).toBe('4.32e-5');
    expect(formatNumber(-0.0002)).toBe('-2.00e-4');
    expect(formatNumber(0.001)).toBe('0.0010');
    expect(formatNumber(0)).toBe('0');
  });

  it('spells out non-finite values', () => {
    expect(formatNumber(Number.NaN)).toBe('NaN');
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(formatNumber(3e7)).toBe('3.00e+7');
  });

  it('formats durations', () => {
    expect(formatDuration(12.4)).toBe('12ms');
    expect(formatDuration(2400)).toBe('2.4s');
  });
});

describe('bestOf', () => {
  it('maximises accuracies and minimises losses and errors', () => {
    expect(higherIsBetter('val_accuracy')).toBe(true);
    expect(higherIsBetter('categoricalAccuracy')).toBe(true);
    expect(higherIsBetter('val_loss')).toBe(false);
    expect(higherIsBetter('mae')).toBe(false);
    expect(bestOf({ loss: [1, 0.5, 0.7], accuracy: [0.3, 0.9, 0.8], val_loss: [0.9, Number.NaN, 0.4] })).toEqual({
      loss: 0.5,
      accuracy: 0.9,
      val_loss: 0.4,
    });
  });
});
