/**
 * Imported (`node --import`) before the training script in every MPI rank started by `launch`: maps the MPI
 * launcher's variables to torchrun's names and pins one GPU per local rank, before tfjs-node-gpu can load.
 */
import { deviceForLocalRank, detectEnvironment } from '../env/detect.js';

const env = detectEnvironment({ ...process.env, RANK: undefined, LOCAL_RANK: undefined });
if (env.source === 'openmpi' || env.source === 'mpich' || env.source === 'slurm') {
  process.env.RANK = String(env.rank);
  process.env.LOCAL_RANK = String(env.localRank);
  process.env.LOCAL_WORLD_SIZE = String(env.localWorldSize);
  process.env.GROUP_RANK = String(env.nodeRank);
  process.env.WORLD_SIZE = String(env.worldSize);
  const devices = process.env.FITSTREAM_DEVICES?.split(',').filter(Boolean) ?? [];
  const device = deviceForLocalRank(env.localRank, devices);
  if (device !== undefined) process.env.CUDA_VISIBLE_DEVICES = device;
}
