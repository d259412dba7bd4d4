import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, extractDottedFlags, isConfigPath, merge } from './config/resolve.js';
import { BACKENDS, OPTIMIZERS } from './config/schema.js';
import { EXIT } from './exit.js';
import { RECIPES, recipeList } from './recipes/index.js';
import type { Io } from './recipes/recipe.js';
import type { LaunchFlags } from './commands/launch.js';
import type { FitFlags } from './fit/resolve-fit.js';
import type { Resolved } from './run/session.js';
import { cliVersion } from './version.js';


function positiveInteger(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1.`);
    return n;
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 1 || n > 65_535) throw new InvalidArgumentError('--master-port must be a TCP port, a whole number in [1, 65535], e.g. 29500.');
  return n;
}

function nonNegativeInteger(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 0.`);
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

function fitConfigFile(value: string): string {
  if (!isConfigPath(value)) throw new InvalidArgumentError(`"${value}" is not a config file (.yaml, .yml, .json); name the model and data with --model and --data.`);
  return value;
}

function target(value: string): string {
  if (isConfigPath(value)) return value;
  if (!RECIPES.has(value)) throw new InvalidArgumentError(`unknown recipe "${value}". Available recipes: ${recipeList()}. Or pass a config file (.json, .yaml).`);
  return value;
}

interface ConfigFlags {
  seed?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: string;
  backend?: string;
  out?: string;
  fastDevRun?: boolean | number;
  printConfig?: boolean;
  json?: boolean;
  folds?: number;
}

/** The options shared by commands that resolve a run configuration (train, cv, lr-find). */
function withConfigOptions(command: Command): Command {
  return command
    .option('--seed <n>', 'seed for the split, the initial weights and every random stream (default 42)', seed)
    .option('--epochs <n>', "number of epochs (default: the recipe's)", positiveInteger('--epochs'))
    .option('--batch-size <n>', "batch size (default: the recipe's)", positiveInteger('--batch-size'))
    .option('--lr <x>', "learning rate (default: the recipe's)", learningRate)
    .addOption(new Option('--optimizer <name>', "optimizer (default: the recipe's, adam)").choices(OPTIMIZERS))
    .addOption(new Option('--backend <name>', 'tfjs backend; auto tries tensorflow-gpu, tensorflow, wasm, cpu in order').choices(BACKENDS))
    .option('--out <dir>', 'parent directory of run directories (default runs)')
    .option('--fast-dev-run [batches]', 'smoke test: one epoch of 1 (or n) training and validation batches', positiveInteger('--fast-dev-run'))
    .option('--print-config', 'print the resolved configuration as JSON and exit')
    .option('--json', 'print one JSON summary on stdout at the end (logs go to stderr)')
    .addHelpText(
      'after',
      '\nTop-level configuration keys have the flags above; any key of a section can be set with a dotted flag, e.g.\n' +
        '--callbacks.earlyStopping.patience 5,\n' +
        '--data.subset 3000, --callbacks.tensorBoard false, --callbacks.lrSchedule.type cosineDecay. See --print-config.\n' +
        `\nRecipes:\n${[...RECIPES.values()].map((r) => `  ${r.name.padEnd(8)} ${r.summary}`).join('\n')}`,
    );
}

function overridesFrom(flags: ConfigFlags, dotted: Record<string, unknown>): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  if (flags.seed !== undefined) named['seed'] = flags.seed;
  if (flags.epochs !== undefined) named['epochs'] = flags.epochs;
  if (flags.batchSize !== undefined) named['batchSize'] = flags.batchSize;
  if (flags.lr !== undefined) named['lr'] = flags.lr;
  if (flags.optimizer !== undefined) named['optimizer'] = flags.optimizer;
  if (flags.backend !== undefined) named['backend'] = flags.backend;
  if (flags.out !== undefined) named['out'] = flags.out;
  if (flags.fastDevRun !== undefined) named['fastDevRun'] = flags.fastDevRun;
  if (flags.folds !== undefined) named['cv'] = { folds: flags.folds };
  // Dotted flags are the finer grain; named flags win where both set the same key.
  return { ...dotted, ...named, ...(named['cv'] && dotted['cv'] ? { cv: { ...(dotted['cv'] as object), ...(named['cv'] as object) } } : {}) };
}

/** Builds the `fitstream` program; `setExit` receives the exit code of the command that ran. */
export function createProgram(io: Io, setExit: (code: number) => void, dotted: Record<string, unknown> = {}): Command {
  const program = new Command('fitstream')
    .description('Train TensorFlow.js models with fitstream: recipes on real datasets, run directories, reports, backend diagnostics.')
    .version(cliVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  const resolve = async (name: string, flags: ConfigFlags) => {
    const { resolveConfig } = await import('./run/session.js');
    const resolved = await resolveConfig(name, overridesFrom(flags, dotted));
    if (flags.printConfig) {
      io.out(JSON.stringify(resolved.config, null, 2));
      setExit(EXIT.ok);
      return undefined;
    }
    // Before the backend loads: a file or an unwritable folder as --out is a usage error (exit code 2).
    const { prepareOutDirectory } = await import('./run/out-directory.js');
    await prepareOutDirectory(resolved.config.out);
    return resolved;
  };

  /** The action of a command that applies to single-model recipes only (`cv`, `lr-find`): its module loads on use. */
  const modelRecipeAction =
    (command: string, load: () => Promise<(resolved: Resolved, flags: ConfigFlags, io: Io) => Promise<void>>) =>
    async (name: string, flags: ConfigFlags) => {
      const resolved = await resolve(name, flags);
      if (!resolved) return;
      const [run, { modelRecipe }] = await Promise.all([load(), import('./run/session.js')]);
      await run(modelRecipe(resolved, command), flags, io);
      setExit(EXIT.ok);
    };

  withConfigOptions(
    program
      .command('train')
      .description('Train a recipe (or a config file) and write runs/<recipe>-<timestamp>/: config, environment, events.jsonl, metrics.csv, checkpoints, TensorBoard files, report.html')
      .argument('<recipe|config>', `a recipe (${[...RECIPES.keys()].join(', ')}) or a config file (.json, .yaml) naming one`, target),
  ).action(async (name: string, flags: ConfigFlags) => {
    const resolved = await resolve(name, flags);
    if (!resolved) return;
    const { train } = await import('./run/session.js');
    const outcome = await train(resolved, io, { json: flags.json === true });
    if (flags.json && outcome.summary) io.out(JSON.stringify(outcome.summary));
    setExit(outcome.code);
  });

  withConfigOptions(
    program
      .command('fit')
      .description(
        'Train your own model on your own data, config-driven: a tfjs model.json, a Keras .keras/config.json or a JS/TS module, and a CSV/TSV/JSONL/.npz/image folder; writes runs/fit-<timestamp>/ as train does',
      )
      .argument('[config]', `a fit configuration (.yaml, .json); default ./fitstream.yaml when there is one`, fitConfigFile)
      .option('--model <path>', 'the model: model.json (tfjs layers, with or without weights), model.keras or Keras config.json, or a .js/.ts module exporting buildModel(config, { inputShape, outputUnits, task, seed, tf })')
      .option('--data <path>', 'the data: CSV/TSV (quotes, any of , ; tab |), JSON Lines, .npy/.npz, an image folder, or a .js/.ts module')
      .option('--target <columns>', 'the column(s) to predict, comma-separated (data.columns.target)')
      .option('--features <columns>', 'the input columns, comma-separated (default: every other column)')
      .addOption(new Option('--task <task>', 'default: inferred from the target').choices(['classification', 'regression']))
      .option('--set <key=value>', 'set any configuration key (dotted), the value read as YAML; repeatable', (v: string, all: string[] = []) => [...all, v])
      .option('--check', 'check the configuration (keys, plugin options, your plugin modules loaded and built once) and exit; nothing trains')
      .addHelpText(
        'after',
        '\nPlugins are listed by name with their options, e.g. in fitstream.yaml:\n' +
          '  callbacks: [{ use: earlyStopping, with: { patience: 5 } }]\n  regularisers: [{ use: l2, with: { lambda: 0.001 } }]\n  sampler: { use: classBalancedSampler }',
      ),
  ).action(async (config: string | undefined, flags: ConfigFlags & FitFlags) => {
    const { fitOverrides, resolveFitConfig } = await import('./fit/resolve-fit.js');
    // Dotted flags, then --set, then --model/--data/…, then the named flags: the finer grain first, named flags win.
    const overrides = merge(merge(dotted, fitOverrides(flags)), overridesFrom(flags, {})) as Record<string, unknown>;
    const resolved = await resolveFitConfig(config, overrides);
    if (flags.check) {
      const checked = resolved.config as unknown as { epochs: number; model: { path: string }; data: { path: string } };
      io.out(`fitstream: the configuration is valid (${config ?? 'flags and ./fitstream.yaml'}): ${checked.epochs} epochs of ${checked.model.path} on ${checked.data.path}`);
      setExit(EXIT.ok);
      return;
    }
    if (flags.printConfig) {
      io.out(JSON.stringify(resolved.config, null, 2));
      setExit(EXIT.ok);
      return;
    }
    const [{ prepareOutDirectory }, { train }] = await Promise.all([import('./run/out-directory.js'), import('./run/session.js')]);
    await prepareOutDirectory(resolved.config.out);
    const outcome = await train(resolved, io, { json: flags.json === true });
    if (flags.json && outcome.summary) io.out(JSON.stringify(outcome.summary));
    setExit(outcome.code);
  });

  program
    .command('resume')
    .description('Continue an interrupted run (Ctrl-C, kill, crash) from its newest complete checkpoint, at the exact batch')
    .argument('<run-dir>', 'the run directory')
    .option('--from <checkpoint>', 'continue from this checkpoint instead: best, last, or a path (also trains on a finished run)')
    .option('--json', 'print one JSON summary on stdout at the end')
    .option('--pause-after <epochs>', 'stop once this many epochs are done, as an interruption (a checkpoint to resume from; exit 130)', positiveInteger('--pause-after'))
    .action(async (runDir: string, flags: { json?: boolean; from?: string; pauseAfter?: number }) => {
      const { runConfig, train } = await import('./run/session.js');
      const outcome = await train(await runConfig(runDir), io, {
        json: flags.json === true,
        resumeDir: runDir,
        ...(flags.from === undefined ? {} : { from: flags.from }),
        ...(flags.pauseAfter === undefined ? {} : { pauseAfter: flags.pauseAfter }),
      });
      if (flags.json && outcome.summary) io.out(JSON.stringify(outcome.summary));
      setExit(outcome.code);
    });

  program
    .command('evaluate')
    .description("Evaluate a run's model on its validation split, or on labelled rows from a CSV/JSON file")
    .argument('<run-dir>', 'the run directory')
    .option('--data <file>', 'CSV or JSON rows with the features and the target (default: the run’s validation split)')
    .option('--checkpoint <which>', 'evaluate this checkpoint instead of model/: best, last, or a path')
    .option('--json', 'print the result as one JSON object')
    .action(async (runDir: string, flags: { data?: string; json?: boolean; checkpoint?: string }) => {
      // Each command loads its module only when it runs (a fast --help): this action looks like init's below by design.
      const { evaluateCommand } = await import('./commands/evaluate.js');
      await evaluateCommand(runDir, flags, io);
      setExit(EXIT.ok);
    });

  program
    .command('predict')
    .description("Predict with a run's model for rows of raw features in a CSV or JSON file (CSV on stdout)")
    .argument('<run-dir>', 'the run directory')
    .argument('[input]', 'CSV or JSON rows of features, in the data set’s units (or --data)')
    .option('--data <file>', 'the rows to predict (the same as the input argument)')
    .option('--checkpoint <which>', 'predict with this checkpoint instead of model/: best, last, or a path')
    .option('--json', 'print one JSON array instead of CSV')
    .action(async (runDir: string, input: string | undefined, flags: { json?: boolean; checkpoint?: string; data?: string }) => {
      const file = flags.data ?? input;
      if (file === undefined || (flags.data !== undefined && input !== undefined)) throw new ConfigError('predict takes one input file: `fitstream predict <run-dir> rows.csv` or `--data rows.csv`.');
      const { predictCommand } = await import('./commands/predict.js');
      await predictCommand(runDir, file, flags, io);
      setExit(EXIT.ok);
    });

  program
    .command('report')
    .description('Regenerate report.html of a run from its events.jsonl: curves, learning rate, confusion matrix for classifiers')
    .argument('<run-dir>', 'the run directory')
    .action(async (runDir: string) => {
      const [{ writeRunReport }, { runConfig }] = await Promise.all([import('./run/report.js'), import('./run/session.js')]);
      await runConfig(runDir); // a clear error when this is no run directory
      io.out(await writeRunReport(runDir));
      setExit(EXIT.ok);
    });

  withConfigOptions(
    program
      .command('cv')
      .description("k-fold cross-validation of a recipe with samplers' crossValidate (stratified for classifiers)")
      .argument('<recipe|config>', 'a recipe or a config file', target)
      .option('--folds <k>', 'number of folds (default: config cv.folds, 5)', positiveInteger('--folds')),
  ).action(modelRecipeAction('cv', async () => (await import('./commands/cv.js')).cvCommand));

  withConfigOptions(
    program
      .command('lr-find')
      .description("Learning-rate range test (callbacks' lrFinder) on a recipe: suggests a learning rate, writes a plot")
      .argument('<recipe|config>', 'a recipe or a config file', target),
  ).action(modelRecipeAction('lr-find', async () => (await import('./commands/lr-find.js')).lrFindCommand));

  program
    .command('sweep')
    .description('Hyper-parameter search: trials of a recipe or config over a space of config keys (grid, random, Sobol), pruned (median, Hyperband), in parallel; writes <out>/sweep.json and sweep.html')
    .argument('<sweep-file>', 'a sweep file (.yaml, .json): base, space, sampler, trials, objective, pruner, parallel, out')
    .option('--parallel <n>', "trials at once (default: the file's parallel, auto = CPU cores)", positiveInteger('--parallel'))
    .option('--dry-run', 'list the planned trials and their configurations, run nothing')
    .option('--json', 'print one JSON summary on stdout at the end (logs go to stderr)')
    .action(async (file: string, flags: { json?: boolean; dryRun?: boolean; parallel?: number }) => {
      const { sweepCommand } = await import('./sweep/sweep-command.js');
      setExit(await sweepCommand(file, flags, io));
    });

  program
    .command('launch')
    .description('Data-parallel training: run <script> as replicas on worker threads or MPI processes (torchrun-style)')
    .argument('<script>', 'the training script every replica runs (it calls init() from @fitstream/distributed)')
    .argument('[args...]', 'arguments for the script (after --)')
    .option('--nproc-per-node <n>', 'replicas per node (default 1)', positiveInteger('--nproc-per-node'))
    .option('--nnodes <n>', 'nodes (default 1)', positiveInteger('--nnodes'))
    .option('--node-rank <n>', "this node's rank (default 0)", nonNegativeInteger('--node-rank'))
    .option('--master-addr <host>', 'rendezvous address (default 127.0.0.1)')
    .option('--master-port <port>', 'rendezvous port (default 29500)', port)
    .addOption(new Option('--backend <engine>', 'threads: worker threads of one process; mpi: processes through mpirun').choices(['threads', 'mpi']))
    .option('--max-restarts <n>', 'restart the group from its last checkpoint up to n times (default 0)', nonNegativeInteger('--max-restarts'))
    .option('--timeout-ms <ms>', 'collective timeout (default 1 800 000, 30 min): a peer alive but stuck fails the others after this long', positiveInteger('--timeout-ms'))
    .option('--heartbeat-timeout-ms <ms>', 'MPI: a rank silent this long is lost (default 30 000; 0 turns the heartbeat off); a rank that ends is seen at once', nonNegativeInteger('--heartbeat-timeout-ms'))
    .option('--hosts <list>', 'MPI hosts with slots, comma-separated (node1:4,node2:4)')
    .option('--devices <list>', 'GPUs, comma-separated: local rank l gets CUDA_VISIBLE_DEVICES=devices[l % n]')
    .option('--mpi-args <args>', 'extra mpirun arguments, quoted as one string ("--oversubscribe --mca btl self,tcp"); as root, Open MPI\'s allow-run-as-root variables are set for you')
    .option('--json', 'print one JSON summary on stdout at the end')
    .action(async (script: string, args: string[], options: LaunchFlags) => {
      const { launchCommand } = await import('./commands/launch.js');
      setExit(await launchCommand(script, args, options, io));
    });

  program
    .command('init')
    .description('Write a starter project that `fitstream fit` trains: fitstream.yaml, model.ts, data.csv (Iris), load-data.ts, README.md, .gitignore')
    .argument('[dir]', 'the project directory (created when missing)', '.')
    .option('--force', 'overwrite files that exist (default: refuse, naming them, and write nothing)')
    .option('--json', 'print what was written as one JSON object')
    .action(async (dir: string, flags: { force?: boolean; json?: boolean }) => {
      // Each command loads its module only when it runs (a fast --help): this action looks like evaluate's above by design.
      const { initCommand } = await import('./init/init-command.js');
      await initCommand(dir, flags, io);
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

  const native = program.command('native').description('The native TensorFlow backend (tfjs-node, tfjs-node-gpu), built on this machine');
  native
    .command('install')
    .description(
      'Build tfjs-node (or tfjs-node-gpu) against a TensorFlow pip wheel or libtensorflow C folder found here — no download script, any CUDA that TensorFlow supports — then verify it against the cpu backend',
    )
    .option('--gpu', 'build tfjs-node-gpu (needs `pip install "tensorflow[and-cuda]"` and an NVIDIA driver)')
    .option('--python <exe>', 'the Python whose TensorFlow wheel to use (default python3, then python)')
    .option('--libtensorflow <dir>', 'a libtensorflow C folder (lib/, include/) instead of a Python wheel')
    .option('--project <dir>', "the project whose node_modules gets the package (default: where this CLI's @tensorflow/tfjs is installed)")
    .option('--nodedir <dir>', "a folder with Node's headers in include/node (default: beside this Node)")
    .option('--force', 'rebuild even when a binding built against the same library is cached')
    .option('--json', 'print what was built as one JSON object')
    .action(async (flags: { gpu?: boolean; python?: string; libtensorflow?: string; project?: string; nodedir?: string; force?: boolean; json?: boolean }) => {
      const { installNativeBackend } = await import('./native/native-install.js');
      const record = await installNativeBackend({
        gpu: flags.gpu === true,
        force: flags.force === true,
        ...(flags.python !== undefined ? { python: flags.python } : {}),
        ...(flags.libtensorflow !== undefined ? { libtensorflow: flags.libtensorflow } : {}),
        ...(flags.project !== undefined ? { projectDir: flags.project } : {}),
        ...(flags.nodedir !== undefined ? { nodeDir: flags.nodedir } : {}),
        log: (line) => io.err(`fitstream native: ${line}`),
      });
      io.out(flags.json ? JSON.stringify(record) : `${record.package} ${record.packageVersion} is built against TensorFlow ${record.check.tensorflowVersion}; --backend auto now selects it (check: fitstream doctor)`);
      setExit(EXIT.ok);
    });

  return program;
}

const CONFIG_COMMANDS = new Set(['train', 'fit', 'cv', 'lr-find']);

/** Errors of the libraries that mean "the input is wrong", by name (the CLI does not load the libraries to tell). */
const USAGE_ERRORS = new Set(['PluginConflictError', 'FitstreamInputError', 'DistributedConfigError']);

/**
 * Runs the `fitstream` command with `args` (without `node` and the script) and resolves with the exit code. Usage and
 * configuration errors (unknown recipe, bad flag values, unknown or invalid config keys) exit with 2; a failed run
 * prints `fitstream: <message>` on stderr with exit code 1.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(args: readonly string[], io: Io = defaultIo(args)): Promise<number> {
  let code: number = EXIT.ok;
  const { rest, overrides, given } = extractDottedFlags(args);
  const command = rest.find((a) => !a.startsWith('-'));
  if (given.length > 0 && !CONFIG_COMMANDS.has(command ?? '')) {
    io.err(`error: configuration flags (${given.map((g) => `--${g}`).join(', ')}) apply to train, cv and lr-find only, and to fit.`);
    return EXIT.usage;
  }
  const program = createProgram(io, (c) => (code = c), overrides);
  try {
    await program.parseAsync(rest, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through exitOverride with code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    io.err(`fitstream: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env['FITSTREAM_DEBUG'] && error instanceof Error && error.stack) io.err(error.stack);
    // Bad configuration found by the libraries (an option they refuse, two plugins that conflict, a launch setting).
    if (error instanceof ConfigError || (error instanceof Error && USAGE_ERRORS.has(error.name))) return EXIT.usage;
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /[/\\]dist[/\\]/.test(String((error as Error).message))) {
      io.err('A workspace package is not built: run `npm run build` at the repository root.');
    }
    return EXIT.failure;
  }
}

/** stdout for results and stderr for logs; with `--json`, anything else that prints to stdout goes to stderr. */
function defaultIo(args: readonly string[]): Io {
  const stdout = process.stdout.write.bind(process.stdout);
  if (args.includes('--json') || args.includes('--print-config')) {
    // Keep stdout for the one JSON object: a library's console.log must not corrupt it.
    console.log = console.error;
    console.info = console.error;
  }
  return { out: (text) => void stdout(`${text}\n`), err: (text) => void process.stderr.write(`${text}\n`) };
}
