import { parseArgs } from 'node:util';

/** What every example's `main.ts` accepts: `--quick` (the test's short run), `--epochs`, `--seed`, `--dir`. */
export interface RunArgs {
  readonly quick: boolean;
  readonly epochs: number | undefined;
  readonly seed: number | undefined;
  readonly dir: string | undefined;
}

/** Parses `process.argv` (and `FITSTREAM_EXAMPLE_QUICK=1`, the same as `--quick`). */
export function runArgs(argv: readonly string[] = process.argv.slice(2)): RunArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { quick: { type: 'boolean', default: false }, epochs: { type: 'string' }, seed: { type: 'string' }, dir: { type: 'string' } },
    strict: true,
  });
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name}: an integer ≥ 0, got ${v}.`);
    return n;
  };
  const env = process.env.FITSTREAM_EXAMPLE_QUICK;
  return { quick: values.quick || (env !== undefined && env !== '' && env !== '0'), epochs: int('epochs', values.epochs), seed: int('seed', values.seed), dir: values.dir };
}
