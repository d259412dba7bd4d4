import { parseArgs } from 'node:util';
import type { TrainerBackend } from './suites/trainer.js';

export type SuiteName = 'trainer' | 'wasm-kernels' | 'backend' | 'distributed' | 'native';

/** What `--suite all` (the default) runs, in order; `native` last, as it loads tfjs-node into the process. */
export const ALL_SUITES: readonly SuiteName[] = ['trainer', 'wasm-kernels', 'backend', 'distributed', 'native'];

/** Parsed command line of `npm run bench -- …`. */
export interface BenchArgs {
  readonly json: boolean;
  readonly suites: readonly SuiteName[];
  readonly quick: boolean;
  readonly backend: TrainerBackend;
  readonly rounds: number | undefined;
  readonly samples: number | undefined;
  readonly fitstreamKernels: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --suite <trainer|wasm-kernels|backend|distributed|native|all>  which suite to run (default all)
  --json                              print one JSON array of {name, value, unit} on stdout; progress goes to stderr
  --quick                             short smoke run (few samples, 2 timed rounds): checks that it works, not speed
  --backend <wasm|cpu>                backend of the trainer suite (default wasm)
  --rounds <n>                        timed epochs per contender (trainer suite default: ≥ 5 on wasm, ≥ 3 on cpu, until each ran ≥ 3 s; backend suite: 5 per group)
  --samples <n>                       training samples of the trainer suite (default 2048)
  --kernels <fitstream|native>        fitstream's training kernels (@fitstream/backend-wasm; on wasm and on cpu) or stock ones (default fitstream)
  -h, --help                          this text
`;

/** A command-line mistake: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}".`);
  return n;
}

/** Parses argv (without node and script). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        json: { type: 'boolean', default: false },
        suite: { type: 'string', default: 'all' },
        quick: { type: 'boolean', default: false },
        backend: { type: 'string', default: 'wasm' },
        rounds: { type: 'string' },
        samples: { type: 'string' },
        kernels: { type: 'string', default: 'fitstream' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const suite = values.suite;
  if (suite !== 'all' && !(ALL_SUITES as readonly string[]).includes(suite)) throw new UsageError(`--suite must be ${ALL_SUITES.join(', ')} or all, got "${suite}".`);
  const backend = values.backend;
  if (backend !== 'wasm' && backend !== 'cpu') throw new UsageError(`--backend must be wasm or cpu, got "${backend}".`);
  if (values.kernels !== 'fitstream' && values.kernels !== 'native') throw new UsageError(`--kernels must be fitstream or native, got "${values.kernels}".`);
  const samples = positiveInteger(values.samples, '--samples');
  if (samples !== undefined && samples < 64) throw new UsageError(`--samples must be at least one batch (64), got ${samples}.`);
  return {
    json: values.json,
    suites: suite === 'all' ? ALL_SUITES : [suite as SuiteName],
    quick: values.quick,
    backend,
    rounds: positiveInteger(values.rounds, '--rounds'),
    samples,
    fitstreamKernels: values.kernels === 'fitstream',
    help: values.help,
  };
}
