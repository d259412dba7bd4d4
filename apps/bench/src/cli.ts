/**
 * `npm run bench -- [--json] [--suite trainer|wasm-kernels|backend|distributed|native|all] [--quick] [--backend wasm|cpu]`
 *
 * Runs from TypeScript source (tsx with the `@fitstream/source` condition), no build needed. stdout carries only the
 * result — the table, or with `--json` exactly one JSON array of `{ name, value, unit }` — and everything else
 * (progress, backend lines, tfjs chatter) goes to stderr.
 */
import * as tf from '@tensorflow/tfjs';
import { USAGE, UsageError, parseBenchArgs, type BenchArgs } from './args.js';
import { formatTable, type SuiteResult } from './rows.js';
import { runWasmKernelSuite } from './suites/optional-wasm-kernels.js';
import { backendSuite } from './suites/backend.js';
import { distributedSuite } from './suites/distributed.js';
import { nativeSuite } from './suites/native.js';
import { trainerSuite } from './suites/trainer.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Libraries print with console.log (tfjs's "Hi there" hint, for one); keep stdout for results. */
function routeConsoleToStderr(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}

async function runSuites(args: BenchArgs): Promise<SuiteResult[]> {
  const results: SuiteResult[] = [];
  for (const suite of args.suites) {
    if (suite === 'trainer') {
      results.push(
        await trainerSuite({
          backend: args.backend,
          quick: args.quick,
          rounds: args.rounds,
          samples: args.samples,
          fitstreamKernels: args.fitstreamKernels,
          log,
        }),
      );
    } else if (suite === 'backend') {
      results.push(await backendSuite({ quick: args.quick, rounds: args.rounds, log }));
    } else if (suite === 'distributed') {
      results.push(await distributedSuite({ quick: args.quick, log }));
    } else if (suite === 'native') {
      results.push(await nativeSuite({ quick: args.quick, log }));
    } else {
      const result = await runWasmKernelSuite(tf, log, args.quick);
      if (result) results.push(result);
    }
  }
  return results;
}

async function main(argv: readonly string[]): Promise<number> {
  routeConsoleToStderr();
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    log(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const results = await runSuites(args);
  if (args.json) {
    const rows = results.flatMap((r) => r.rows.map(({ name, value, unit }) => ({ name, value, unit })));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatTable(results)}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
