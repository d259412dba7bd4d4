import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, WeightConstraint, provide, type Plugin } from '@fitstream/core';
import { assertNumber, nonNegative, positive } from '../assert.js';
import { DeviceAccumulator, reportAccumulated, resolveReport, type ReportSetting } from '../report/reporter.js';
import { SelectionCache, selector, type WeightSelection } from '../selection.js';

/** Keras' `backend.epsilon()`, used by `UnitNorm` and `MinMaxNorm`. */
const EPSILON = 1e-7;

/** Options shared by the norm constraints. */
export interface ConstraintOptions extends WeightSelection {
  /**
   * Axis (or axes) along which norms are taken, Keras semantics: for a Dense kernel `[in, out]`, `0` constrains each
   * unit's incoming weight vector (a column); for a Conv2D kernel `[h, w, in, out]` use `[0, 1, 2]`. Default 0.
   */
  readonly axis?: number | readonly number[];
  readonly name?: string;
  /** `regulariser:report` (kind `'constraint'`): `projected` = slices (or elements) changed at the last step; lazy. */
  readonly report?: ReportSetting;
}

function axesFor(w: tf.Tensor, axis: number | readonly number[], where: string): number[] {
  const list = typeof axis === 'number' ? [axis] : [...axis];
  return list.map((a) => {
    const normalised = a < 0 ? a + w.rank : a;
    if (!Number.isInteger(a) || normalised < 0 || normalised >= w.rank) {
      throw new FitstreamInputError(`${where}: axis`, `${String(a)} is out of range for weight "${(w as tf.Variable).name ?? ''}" of shape [${w.shape.join(', ')}].`);
    }
    return normalised;
  });
}

function norms(w: tf.Tensor, axes: number[]): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(w), axes, true));
}

/**
 * Max-norm projection (Keras `MaxNorm`): slices whose L2 norm along `axis` exceeds `maxValue` are rescaled to norm
 * `maxValue`; the others are left exactly unchanged (Keras multiplies them by `norm / (1e-7 + norm)`).
 */
export function maxNormProjection(w: tf.Tensor, maxValue: number, axis: number | readonly number[] = 0): tf.Tensor {
  return tf.tidy(() => {
    const n = norms(w, axesFor(w, axis, 'maxNorm'));
    return tf.mul(w, tf.where(tf.greater(n, maxValue), tf.div(maxValue, n), tf.onesLike(n)));
  });
}

/** Unit-norm projection (Keras `UnitNorm`): `w / (1e-7 + ‖w‖)` along `axis`. */
export function unitNormProjection(w: tf.Tensor, axis: number | readonly number[] = 0): tf.Tensor {
  return tf.tidy(() => tf.div(w, tf.add(EPSILON, norms(w, axesFor(w, axis, 'unitNorm')))));
}

/** Keras `MinMaxNorm`: norms pulled into `[minValue, maxValue]` at `rate` (1 = strictly enforced). */
export function minMaxNormProjection(w: tf.Tensor, minValue: number, maxValue: number, rate = 1, axis: number | readonly number[] = 0): tf.Tensor {
  return tf.tidy(() => {
    const n = norms(w, axesFor(w, axis, 'minMaxNorm'));
    const desired = tf.add(tf.mul(rate, tf.clipByValue(n, minValue, maxValue)), tf.mul(1 - rate, n));
    return tf.mul(w, tf.div(desired, tf.add(EPSILON, n)));
  });
}

/** Keras `NonNeg`: negative weights set to 0. */
export function nonNegProjection(w: tf.Tensor): tf.Tensor {
  return tf.relu(w);
}

interface Projection {
  readonly kind: 'max-norm' | 'min-max-norm' | 'unit-norm' | 'non-neg';
  readonly defaultName: string;
  /** The projected weight and how many slices/elements it changed. */
  project(w: tf.Variable): { value: tf.Tensor; projected: tf.Scalar };
}

function constraintPlugin(projection: Projection, options: Omit<ConstraintOptions, 'axis'>): Plugin {
  const name = options.name ?? projection.defaultName;
  const report = resolveReport(options.report, `${name}: report`);
  const cache = new SelectionCache(selector(options, name));
  const accumulator = new DeviceAccumulator(['projected'] as const, ['last']);
  return {
    name,
    register: (c) =>
      provide(c, WeightConstraint, {
        name,
        apply: (variables) => {
          const selected = cache.select(variables);
          const counts: tf.Scalar[] = [];
          for (const v of selected) {
            const { value, projected } = projection.project(v);
            v.assign(value);
            counts.push(projected);
          }
          if (report.every > 0) accumulator.record([counts.length ? tf.addN(counts) : tf.scalar(0)]);
        },
      }),
    attach: (events$, control) => {
      return reportAccumulated(events$, control, accumulator, {
        name,
        report,
        body: (values) => ({ kind: 'constraint', constraint: projection.kind, values }),
      });
    },
  };
}

const count = (t: tf.Tensor): tf.Scalar => tf.sum(tf.cast(t, 'float32'));

/**
 * Max-norm weight constraint after each optimizer update (Keras `MaxNorm(max_value=2, axis=0)`), on kernels by
 * default.
 *
 * @example
 * ```ts
 * trainer.use(maxNorm({ maxValue: 3 }));              // each Dense unit's incoming weights: ‖w‖ ≤ 3
 * trainer.use(maxNorm({ maxValue: 2, axis: [0, 1, 2], layers: ['conv'] }));
 * ```
 */
export function maxNorm(options: ConstraintOptions & { readonly maxValue?: number } = {}): Plugin {
  const maxValue = positive(options.maxValue ?? 2, 'maxNorm: maxValue');
  const axis = options.axis ?? 0;
  return constraintPlugin(
    {
      kind: 'max-norm',
      defaultName: 'max-norm',
      project: (w) => ({ value: maxNormProjection(w, maxValue, axis), projected: count(tf.greater(norms(w, axesFor(w, axis, 'maxNorm')), maxValue)) }),
    },
    options,
  );
}

// Each constraint is one `Projection` for constraintPlugin (the shared piece): the declarations below are alike by design.
/**
 * Unit-norm weight constraint (Keras `UnitNorm(axis=0)`): each slice along `axis` rescaled to norm 1 after every update.
 *
 * @example
 * ```ts
 * trainer.use(unitNorm({ layers: ['embedding'], axis: 1 }));
 * ```
 */
export function unitNorm(options: ConstraintOptions = {}): Plugin {
  const axis = options.axis ?? 0;
  return constraintPlugin(
    {
      kind: 'unit-norm',
      defaultName: 'unit-norm',
      project: (w) => {
        const n = norms(w, axesFor(w, axis, 'unitNorm'));
        return { value: tf.div(w, tf.add(EPSILON, n)), projected: count(tf.greater(tf.abs(tf.sub(n, 1)), 1e-6)) };
      },
    },
    options,
  );
}

/**
 * Min/max-norm weight constraint (Keras `MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)`).
 *
 * @example
 * ```ts
 * trainer.use(minMaxNorm({ minValue: 0.5, maxValue: 1 }));
 * ```
 */
export function minMaxNorm(options: ConstraintOptions & { readonly minValue?: number; readonly maxValue?: number; readonly rate?: number } = {}): Plugin {
  const minValue = nonNegative(options.minValue ?? 0, 'minMaxNorm: minValue');
  const maxValue = assertNumber(options.maxValue ?? 1, 'minMaxNorm: maxValue', (v) => v >= minValue, `a number ≥ minValue (${minValue})`);
  const rate = assertNumber(options.rate ?? 1, 'minMaxNorm: rate', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const axis = options.axis ?? 0;
  return constraintPlugin(
    {
      kind: 'min-max-norm',
      defaultName: 'min-max-norm',
      project: (w) => {
        const n = norms(w, axesFor(w, axis, 'minMaxNorm'));
        return { value: minMaxNormProjection(w, minValue, maxValue, rate, axis), projected: count(tf.logicalOr(tf.less(n, minValue), tf.greater(n, maxValue))) };
      },
    },
    options,
  );
}

/**
 * Non-negativity constraint (Keras `NonNeg`): negative weights are set to 0 after every update.
 *
 * @example
 * ```ts
 * trainer.use(nonNeg({ layers: ['mixing'] }));
 * ```
 */
export function nonNeg(options: Omit<ConstraintOptions, 'axis'> = {}): Plugin {
  return constraintPlugin({ kind: 'non-neg', defaultName: 'non-neg', project: (w) => ({ value: nonNegProjection(w), projected: count(tf.less(w, 0)) }) }, options);
}
