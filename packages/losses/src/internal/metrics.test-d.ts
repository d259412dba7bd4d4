import type * as tf from '@tensorflow/tfjs';
import { describe, expectTypeOf, it } from 'vitest';
import { defineMetric, type CustomMetric, type MetricNameOf, type MetricSpec } from './metrics.js';

declare const perSample: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;

describe('defineMetric and MetricNameOf', () => {
  it('keeps a custom metric’s name as a literal type, which MetricNameOf reads back', () => {
    const top2 = defineMetric('top2', perSample);
    expectTypeOf(top2).toEqualTypeOf<CustomMetric<'top2'>>();
    expectTypeOf<MetricNameOf<typeof top2>>().toEqualTypeOf<'top2'>();
    expectTypeOf<MetricNameOf<'accuracy' | typeof top2>>().toEqualTypeOf<'accuracy' | 'top2'>();
    expectTypeOf(top2).toExtend<MetricSpec>();
  });

  it('refuses a metric name that is not built in, and a function of the wrong shape', () => {
    // @ts-expect-error 'acuracy' is not a BuiltinMetricName
    const misspelt: MetricSpec = 'acuracy';
    // @ts-expect-error a metric takes (yTrue, yPred)
    defineMetric('bad', (a: string) => a);
    expectTypeOf(misspelt).toExtend<MetricSpec>();
  });
});
