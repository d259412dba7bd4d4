import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { BackendName } from '@fitstream/core';
import { RECIPES } from './recipes/index.js';
import type { Io, TrainFlags } from './recipes/recipe.js';
import { cliVersion } from './version.js';

const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

/** Exit codes: 0 success, 1 a failed run, 2 a usage error (unknown command, recipe or flag value). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function positiveInteger(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1.`);
    return n;
  };
}

function seed(value: string): number {
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('--seed must be an integer, e.g. 42.');
  return n;
}

function learningRate(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--lr must be a number > 0, e.g. 0.01 or 1e-3.');
  return n;
}

function recipeName(value: string): string {
  if (!RECIPES.has(value)) {
    const list = [...RECIPES.values()].map((r) => `${r.name} (${r.summary})`).join(', ');
    throw new InvalidArgumentError(`unknown recipe "${value}". Available recipes: ${list}.`);
  }
  return value;
}

interface TrainOptionValues {
  seed: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  backend: 'auto' | BackendName;
  out: string;
  json?: boolean;
}

/** Builds the `fitstream` program; `setExit` receives the exit code of the command that ran. */
export function createProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('fitstream')
    .description('Train TensorFlow.js models with fitstream: recipes on real datasets, run directories, backend diagnostics.')
    .version(cliVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  const recipeList = [...RECIPES.values()].map((r) => `  ${r.name.padEnd(8)} ${r.summary} (defaults: ${r.defaults.epochs} epochs, batch ${r.defaults.batchSize}, lr ${r.defaults.learningRate})`).join('\n');
  program
    .command('train')
    .description('Train a recipe and write a run directory: config.json, environment.json, events.jsonl, metrics.csv, checkpoints/')
    .argument('<recipe>', `what to train; one of: ${[...RECIPES.keys()].join(', ')}`, recipeName)
    .option('--seed <n>', 'seed for the split, the initial weights and the shuffles', seed, 42)
    .option('--epochs <n>', "number of epochs (default: the recipe's)", positiveInteger('--epochs'))
    .option('--batch-size <n>', "batch size (default: the recipe's)", positiveInteger('--batch-size'))
    .option('--lr <x>', "Adam learning rate (default: the recipe's)", learningRate)
    .addOption(new Option('--backend <name>', 'tfjs backend; auto tries tensorflow-gpu, tensorflow, wasm, cpu in order').choices(BACKENDS).default('auto'))
    .option('--out <dir>', 'parent directory of run directories', 'runs')
    .option('--json', 'print one JSON summary on stdout at the end (logs go to stderr)')
    .addHelpText('after', `\nRecipes:\n${recipeList}`)
    .action(async (name: string, options: TrainOptionValues) => {
      const entry = RECIPES.get(name)!;
      const flags: TrainFlags = {
        seed: options.seed,
        epochs: options.epochs ?? entry.defaults.epochs,
        batchSize: options.batchSize ?? entry.defaults.batchSize,
        learningRate: options.lr ?? entry.defaults.learningRate,
        backend: options.backend,
        out: options.out,
        json: options.json === true,
      };
      const recipe = await entry.load();
      const summary = await recipe.train(flags, io);
      if (flags.json) io.out(JSON.stringify(summary));
      setExit(EXIT.ok);
    });

  program
    .command('doctor')
    .description('Explain which tfjs backends work here, which do not and how to fix them; Node.js and tfjs versions')
    .option('--json', 'print the report as one JSON object')
    .action(async (options: { json?: boolean }) => {
      const { diagnose, doctorExitCode, formatReport } = await import('./doctor/doctor.js');
      const report = await diagnose();
      io.out(options.json ? JSON.stringify(report) : formatReport(report));
      // Non-zero when no backend loads: scripts can gate on `fitstream doctor`.
      setExit(doctorExitCode(report));
    });

  return program;
}

/**
 * Runs the `fitstream` command with `args` (without `node` and the script) and resolves with the exit code. Usage
 * errors (unknown recipe, bad flag values) are reported by commander on stderr with exit code 2; a failed run prints
 * `fitstream: <message>` on stderr with exit code 1.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(args: readonly string[], io: Io = defaultIo(args)): Promise<number> {
  let code: number = EXIT.ok;
  const program = createProgram(io, (c) => (code = c));
  try {
    await program.parseAsync([...args], { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through exitOverride with code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    io.err(`fitstream: ${error instanceof Error ? error.message : String(error)}`);
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /[/\\]dist[/\\]/.test(String((error as Error).message))) {
      io.err('A workspace package is not built: run `npm run build` at the repository root.');
    }
    if (process.env['FITSTREAM_DEBUG'] && error instanceof Error && error.stack) io.err(error.stack);
    return EXIT.failure;
  }
}

/** stdout for results and stderr for logs; with `--json`, anything else that prints to stdout goes to stderr. */
function defaultIo(args: readonly string[]): Io {
  const stdout = process.stdout.write.bind(process.stdout);
  if (args.includes('--json')) {
    // Keep stdout for the one JSON object: a library's console.log must not corrupt it.
    console.log = console.error;
    console.info = console.error;
  }
  return { out: (text) => void stdout(`${text}\n`), err: (text) => void process.stderr.write(`${text}\n`) };
}
