/**
 * @fitstream/distributed — data-parallel training for fitstream: replicas on worker threads of one process
 * (SharedArrayBuffer + Atomics all-reduce) or on processes and machines through MPI; synchronous data-parallel SGD,
 * local SGD and synchronous EASGD as plugins; linear LR scaling with warm-up; a torchrun-like launcher.
 *
 * @packageDocumentation
 */
export type { Communicator, ReduceOp, BackendName } from './internal/comm/communicator.js';
export { LocalCommunicator } from './internal/comm/local.js';
export { ThreadsCommunicator, createThreadGroup, failThreadGroup } from './internal/comm/thread-group.js';
export type { ThreadGroup } from './internal/comm/thread-group.js';
export { MpiCommunicator } from './internal/mpi/mpi-communicator.js';
export type { MpiOptions, MpiFlavor } from './internal/mpi/mpi-communicator.js';
export { PeerLostError, MpiUnavailableError, DistributedConfigError } from './internal/errors.js';
export type { PeerLostReason } from './internal/errors.js';

export { init, contextFor, isReplica } from './internal/init.js';
export type { InitOptions, DistributedContext } from './internal/init.js';
export { detectEnvironment, launchDefaults, deviceForLocalRank } from './internal/env/detect.js';
export type { DistributedEnvironment, EnvironmentSource } from './internal/env/detect.js';
export { launch, hasMpirun } from './internal/launch/launch.js';
export type { LaunchOptions, LaunchResult, LaunchAttempt } from './internal/launch/launch.js';

export { dataParallel } from './internal/training/data-parallel.js';
export type { DataParallel, DataParallelOptions, DataParallelStats } from './internal/training/data-parallel.js';
export { localSGD } from './internal/training/local-sgd.js';
export type { LocalSgd, LocalSgdOptions } from './internal/training/local-sgd.js';
export { easgd, elasticUpdate } from './internal/training/easgd.js';
export type { Easgd, EasgdOptions } from './internal/training/easgd.js';
export type { ReplicaOptions } from './internal/training/common.js';
export { scaledLearningRate, planLearningRate } from './internal/training/lr-scaling.js';
export type { LrScalingOptions, LrPlan } from './internal/training/lr-scaling.js';
export { rankZero, sharedResumeSource } from './internal/training/rank-zero.js';
export { evaluateAcrossReplicas } from './internal/training/evaluate.js';
export { broadcastWeights } from './internal/training/weights.js';
