/** Where {@link detectEnvironment} found the replica's coordinates. */
export type EnvironmentSource =
  | 'fitstream'
  | 'torchrun'
  | 'kubeflow'
  | 'kubeflow-trainer'
  | 'openmpi'
  | 'mpich'
  | 'slurm'
  | 'tf-config'
  | 'indexed-job'
  | 'none';

/** A replica's place in the world, as the launcher or scheduler described it in environment variables. */
export interface DistributedEnvironment {
  readonly source: EnvironmentSource;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly nodeRank: number;
  readonly nnodes: number;
  readonly masterAddr: string | undefined;
  readonly masterPort: number | undefined;
  /** How often the launcher restarted the group (`FITSTREAM_RESTART_COUNT`, `TORCHELASTIC_RESTART_COUNT`). */
  readonly restartCount: number;
  /** The engine the launcher chose (`FITSTREAM_BACKEND`), if it said. */
  readonly backend: 'threads' | 'mpi' | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

const int = (value: string | undefined): number | undefined => {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
};

/** The first host of a Slurm node list: `node[03-05,9],gpu1` → `node03`. */
export function firstSlurmHost(list: string | undefined): string | undefined {
  if (!list) return undefined;
  const m = /^([^,[]+)(?:\[([^\]]+)\])?/.exec(list.trim());
  if (!m) return undefined;
  const first = m[2]?.split(',')[0]?.split('-')[0];
  return `${m[1]}${first ?? ''}`;
}

/**
 * Reads rank, world size and local rank from the first environment that is fully present, in this order (Lightning's
 * cluster-environment detection): fitstream's launcher and torchrun (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, …), Kubeflow
 * PyTorchJob (`MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE`, `RANK`), Kubeflow Trainer v2 (`PET_NNODES`, `PET_NODE_RANK`,
 * `PET_NPROC_PER_NODE`, `PET_MASTER_*`), Open MPI (`OMPI_COMM_WORLD_*`), MPICH/Hydra (`PMI_RANK`, `PMI_SIZE`,
 * `MPI_LOCALRANKID`), Slurm (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`, …), `TF_CONFIG`, and a Kubernetes
 * Indexed Job (`JOB_COMPLETION_INDEX` with `WORLD_SIZE`). None found: a world of one.
 *
 * @example
 * ```ts
 * detectEnvironment({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' });
 * // { source: 'openmpi', rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, nodeRank: 1, nnodes: 2, … }
 * ```
 */
export function detectEnvironment(env: Env = process.env): DistributedEnvironment {
  const restartCount = int(env.FITSTREAM_RESTART_COUNT) ?? int(env.TORCHELASTIC_RESTART_COUNT) ?? 0;
  const backendVar = env.FITSTREAM_BACKEND;
  const backend = backendVar === 'threads' || backendVar === 'mpi' ? backendVar : undefined;
  const make = (source: EnvironmentSource, v: { rank: number; worldSize: number; localRank?: number | undefined; localWorldSize?: number | undefined; nodeRank?: number | undefined; nnodes?: number | undefined; masterAddr?: string | undefined; masterPort?: number | undefined }): DistributedEnvironment => {
    const localWorldSize = v.localWorldSize ?? 1;
    const localRank = v.localRank ?? 0;
    return {
      source,
      rank: v.rank,
      worldSize: v.worldSize,
      localRank,
      localWorldSize,
      nodeRank: v.nodeRank ?? Math.floor(v.rank / Math.max(1, localWorldSize)),
      nnodes: v.nnodes ?? Math.max(1, Math.ceil(v.worldSize / Math.max(1, localWorldSize))),
      masterAddr: v.masterAddr,
      masterPort: v.masterPort,
      restartCount,
      backend,
    };
  };
  const master = { masterAddr: env.MASTER_ADDR, masterPort: int(env.MASTER_PORT) };

  // 1. fitstream's launcher / torchrun.
  const rank = int(env.RANK);
  const worldSize = int(env.WORLD_SIZE);
  const localRank = int(env.LOCAL_RANK);
  if (rank !== undefined && worldSize !== undefined && localRank !== undefined) {
    const source = env.FITSTREAM_RUN_ID !== undefined || backend ? 'fitstream' : 'torchrun';
    return make(source, { rank, worldSize, localRank, localWorldSize: int(env.LOCAL_WORLD_SIZE), nodeRank: int(env.GROUP_RANK) ?? int(env.NODE_RANK), nnodes: int(env.NNODES), ...master });
  }
  // 2. Kubeflow PyTorchJob (training-operator v1): one process per pod.
  if (rank !== undefined && worldSize !== undefined && env.MASTER_ADDR !== undefined) {
    return make('kubeflow', { rank, worldSize, localRank: 0, localWorldSize: 1, nodeRank: rank, nnodes: worldSize, ...master });
  }
  // 3. Kubeflow Trainer v2: PET_* describe nodes; ranks are node-major.
  const petNodes = int(env.PET_NNODES);
  const petNodeRank = int(env.PET_NODE_RANK);
  if (petNodes !== undefined && petNodeRank !== undefined) {
    const nproc = int(env.PET_NPROC_PER_NODE) ?? 1;
    const local = localRank ?? 0;
    return make('kubeflow-trainer', { rank: petNodeRank * nproc + local, worldSize: petNodes * nproc, localRank: local, localWorldSize: nproc, nodeRank: petNodeRank, nnodes: petNodes, masterAddr: env.PET_MASTER_ADDR, masterPort: int(env.PET_MASTER_PORT) });
  }
  // 4. Open MPI.
  const ompiRank = int(env.OMPI_COMM_WORLD_RANK);
  const ompiSize = int(env.OMPI_COMM_WORLD_SIZE);
  if (ompiRank !== undefined && ompiSize !== undefined) {
    return make('openmpi', { rank: ompiRank, worldSize: ompiSize, localRank: int(env.OMPI_COMM_WORLD_LOCAL_RANK), localWorldSize: int(env.OMPI_COMM_WORLD_LOCAL_SIZE), ...master });
  }
  // 5. MPICH / Hydra.
  const pmiRank = int(env.PMI_RANK);
  const pmiSize = int(env.PMI_SIZE);
  if (pmiRank !== undefined && pmiSize !== undefined) {
    return make('mpich', { rank: pmiRank, worldSize: pmiSize, localRank: int(env.MPI_LOCALRANKID), localWorldSize: int(env.MPI_LOCALNRANKS), ...master });
  }
  // 6. Slurm.
  const slurmRank = int(env.SLURM_PROCID);
  const slurmTasks = int(env.SLURM_NTASKS);
  if (slurmRank !== undefined && slurmTasks !== undefined) {
    const nnodes = int(env.SLURM_NNODES) ?? int(env.SLURM_JOB_NUM_NODES);
    const perNode = int(env.SLURM_NTASKS_PER_NODE) ?? (nnodes ? Math.ceil(slurmTasks / nnodes) : undefined);
    return make('slurm', { rank: slurmRank, worldSize: slurmTasks, localRank: int(env.SLURM_LOCALID), localWorldSize: perNode, nodeRank: int(env.SLURM_NODEID), nnodes, masterAddr: env.MASTER_ADDR ?? firstSlurmHost(env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST), masterPort: master.masterPort });
  }
  // 7. TF_CONFIG (TFJob, MultiWorkerMirroredStrategy): the chief, if any, is rank 0.
  if (env.TF_CONFIG) {
    try {
      const config = JSON.parse(env.TF_CONFIG) as { cluster?: Record<string, string[]>; task?: { type?: string; index?: number } };
      const chief = config.cluster?.chief ?? [];
      const workers = config.cluster?.worker ?? [];
      const task = config.task ?? {};
      if (task.index !== undefined && (task.type === 'worker' || task.type === 'chief')) {
        const r = task.type === 'chief' ? 0 : chief.length + task.index;
        const first = chief[0] ?? workers[0];
        const [host, port] = first ? first.split(':') : [];
        return make('tf-config', { rank: r, worldSize: chief.length + workers.length, localRank: 0, localWorldSize: 1, nodeRank: r, nnodes: chief.length + workers.length, masterAddr: host, masterPort: int(port) });
      }
    } catch {
      // not JSON: ignore, as TensorFlow would fail on its own
    }
  }
  // 8. Kubernetes Indexed Job.
  const index = int(env.JOB_COMPLETION_INDEX);
  if (index !== undefined && worldSize !== undefined) {
    return make('indexed-job', { rank: index, worldSize, localRank: 0, localWorldSize: 1, nodeRank: index, nnodes: worldSize, ...master });
  }
  return make('none', { rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, nodeRank: 0, nnodes: 1, ...master });
}

/**
 * The launcher's own defaults from the environment, torchrun style: `FITSTREAM_<FLAG>` first, then `PET_<FLAG>`
 * (what torchrun and Kubeflow set): `NNODES`, `NODE_RANK`, `NPROC_PER_NODE`, `MASTER_ADDR`, `MASTER_PORT`,
 * `MAX_RESTARTS`.
 */
export function launchDefaults(env: Env = process.env): {
  nnodes?: number;
  nodeRank?: number;
  nprocPerNode?: number;
  masterAddr?: string;
  masterPort?: number;
  maxRestarts?: number;
} {
  const pick = (flag: string): string | undefined => env[`FITSTREAM_${flag}`] ?? env[`PET_${flag}`];
  const out: ReturnType<typeof launchDefaults> = {};
  const nnodes = int(pick('NNODES'));
  const nodeRank = int(pick('NODE_RANK'));
  const nproc = int(pick('NPROC_PER_NODE'));
  const addr = pick('MASTER_ADDR') ?? env.MASTER_ADDR;
  const port = int(pick('MASTER_PORT') ?? env.MASTER_PORT);
  const restarts = int(pick('MAX_RESTARTS'));
  if (nnodes !== undefined) out.nnodes = nnodes;
  if (nodeRank !== undefined) out.nodeRank = nodeRank;
  if (nproc !== undefined) out.nprocPerNode = nproc;
  if (addr !== undefined) out.masterAddr = addr;
  if (port !== undefined) out.masterPort = port;
  if (restarts !== undefined) out.maxRestarts = restarts;
  return out;
}

/**
 * `CUDA_VISIBLE_DEVICES` for a local rank: one device per replica (tfjs-node-gpu is one process per GPU), chosen
 * round-robin from `devices`.
 */
export function deviceForLocalRank(localRank: number, devices: readonly string[]): string | undefined {
  if (devices.length === 0) return undefined;
  return devices[localRank % devices.length];
}
