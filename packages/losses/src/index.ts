/**
 * @fitstream/losses — Keras-named losses and metrics for tfjs without the trainer: `resolveLoss` and `resolveMetrics`
 * turn a name (`'categoricalCrossentropy'`, `'accuracy'` …), a `{ name, fromLogits }` or a user's function into a
 * per-sample function with Keras semantics, for a hand-written training loop or an evaluation. `@fitstream/core`'s
 * trainer uses the same functions. Where a backend package registered fused cross-entropy and accuracy kernels for the
 * active backend (`@fitstream/backend-wasm` on wasm), they run as one kernel each; otherwise as tfjs ops.
 *
 * @packageDocumentation
 */
export { resolveLoss, LOSS_NAMES, meanPerSample } from './internal/losses.js';
export type { LossName, LossSpec, LossFunction, PerSampleLoss, ResolvedLoss, TargetKind } from './internal/losses.js';
export { resolveMetrics, METRIC_NAMES, defineMetric } from './internal/metrics.js';
export type { BuiltinMetricName, CustomMetric, MetricSpec, MetricNameOf, PerSampleMetric, ResolvedMetric } from './internal/metrics.js';
