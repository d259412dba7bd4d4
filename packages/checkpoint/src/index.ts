/**
 * @fitstream/checkpoint — fitstream's checkpoints without the trainer: the format (stock tfjs layers files, optimizer
 * slots and `state.json` with SHA-256 checksums), atomic stores for the file system and IndexedDB, verified reading,
 * zip export/import, and loading a checkpoint's model with stock `tf.loadLayersModel`.
 *
 * @packageDocumentation
 */
export { fileSystem } from '#platform/file-system';
export { checkpointStore, registerCheckpointStore, joinLocation } from './internal/checkpoint-store.js';
export type { CheckpointStore, CheckpointFiles, StoredCheckpoint } from './internal/store-types.js';
export { readCheckpoint, findCheckpoint } from './internal/read-checkpoint.js';
export type { LoadedCheckpoint, FindCheckpointOptions, SkippedCheckpoint } from './internal/read-checkpoint.js';
export { exportCheckpoint, importCheckpoint, downloadCheckpoint, checkpointModel } from './internal/checkpoint-archive.js';
export type { CheckpointFileInput } from './internal/checkpoint-archive.js';
export { CheckpointCorruptError } from './internal/verify-checkpoint.js';
export { writeCheckpoint, writeSnapshot, markLatest } from './internal/write-checkpoint.js';
export type { WriteCheckpointOptions } from './internal/write-checkpoint.js';
export { snapshotCheckpoint, checkpointWeights } from './internal/snapshot-checkpoint.js';
export type { CheckpointModel, CheckpointParts, CheckpointSnapshot, ModelSnapshot, OptimizerSnapshot } from './internal/snapshot-checkpoint.js';
export type { CheckpointInfo, CheckpointState, CheckpointStateInput, LearningRateRecord, NamedTensor } from './internal/checkpoint-format.js';
export type { Json } from './internal/json.js';
