// Property-based fuzzing (issue 17) of what the CLI reads from users: config files (YAML, JSON), configuration
// overrides (dotted flags and config keys), and the CSV/JSON rows of `predict` and `evaluate --data`. Any input gives a
// result or a ConfigError (exit code 2), never another exception, and every call returns within a time bound.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, extractDottedFlags, readConfigFile } from './config/resolve.js';
import { readRows } from './run/rows.js';
import { resolveConfig } from './run/session.js';
import { RECIPES } from './recipes/index.js';

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fitstream-fuzz-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(extension: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, `input-${files++}${extension}`);
  await writeFile(path, content);
  return path;
}

/** `task` within `ms`: its value, or the error it threw. */
async function within<T>(task: () => Promise<T>, ms = 3000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not return within ${ms} ms`)), ms)));
  try {
    return { ok: true, value: await Promise.race([task(), timeout]) };
  } catch (error) {
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** A ConfigError, or nothing: anything else is a crash. */
function expectConfigError(outcome: { ok: boolean; error?: unknown }): void {
  if (outcome.ok) return;
  expect((outcome.error as Error | undefined)?.message).not.toMatch(/did not return within/);
  expect(outcome.error, (outcome.error as Error | undefined)?.stack).toBeInstanceOf(ConfigError);
}

const isPlain = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

// ── YAML-shaped text: keys, scalars, flow collections, anchors, tags, indentation — valid and broken alike.
const yamlKey = fc.oneof(fc.constantFrom('recipe', 'epochs', 'lr', 'optimizer', 'callbacks', 'earlyStopping', 'patience', 'data', 'model', '<<', '? ', '- '), fc.string({ maxLength: 8 }));
const yamlScalar = fc.oneof(
  fc.constantFrom('iris', 'mnist', '"5"', "'x'", '5', '-1', '.inf', '.nan', '~', 'null', 'true', 'no', '0x1F', '1e400', '[1, 2', '{a: 1}', '*a', '&a 1', '!!binary AAAA', '!!js/function x', '|', '>-', '@', '`', '%YAML 1.2', '---', '...'),
  fc.string({ maxLength: 12 }),
);
const yamlLine = fc.tuple(fc.nat({ max: 6 }), yamlKey, fc.constantFrom(': ', ':', ' : ', ' '), yamlScalar).map(([indent, k, sep, v]) => `${' '.repeat(indent)}${k}${sep}${v}`);
const yamlText = fc.array(yamlLine, { maxLength: 12 }).map((lines) => lines.join('\n'));
/** Alias expansion that grows exponentially ("billion laughs"): the parser must refuse it, not run out of memory. */
const laughs = Array.from({ length: 10 }, (_, i) => (i === 0 ? 'a0: &a0 [x, x, x, x, x, x, x, x, x]' : `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`)).join('\n');

describe('the config loader under fuzzing', () => {
  it('any text as a .yaml or .json config file: an object, or a ConfigError', async () => {
    const seen = { ok: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(yamlText, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 120 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), fc.constant(laughs)),
        fc.constantFrom('.yaml', '.yml', '.json', '.YAML'),
        async (text, extension) => {
          const outcome = await within(async () => readConfigFile(await file(extension, text)));
          expectConfigError(outcome);
          if (outcome.ok) expect(isPlain(outcome.value)).toBe(true);
          seen[outcome.ok ? 'ok' : 'refused']++;
        },
      ),
      { numRuns: 400 },
    );
    expect(seen.ok, 'some inputs are objects').toBeGreaterThan(10);
    expect(seen.refused, 'some are refused').toBeGreaterThan(10);
  });

  it('any configuration values at real and made-up keys, from a file and as flags: a resolved config, or a ConfigError', async () => {
    const paths = ['epochs', 'lr', 'optimizer', 'backend', 'seed', 'out', 'fastDevRun', 'batchSize', 'recipe', 'data', 'data.testFraction', 'model', 'model.hiddenUnits', 'fit', 'fit.limitBatches', 'fit.checkData', 'callbacks', 'callbacks.earlyStopping', 'callbacks.earlyStopping.patience', 'callbacks.earlyStopping.monitor', 'callbacks.lrSchedule', 'callbacks.lrSchedule.type', 'callbacks.lrSchedule.totalSteps', 'callbacks.lrSchedule.warmup.steps', 'callbacks.tensorBoard', 'callbacks.progressBar.metrics', 'cv.folds', 'lrFinder.maxLr', '__proto__', 'constructor', 'toString', 'callbacks.__proto__.x'];
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom<unknown>(true, false, null, 0, -1, 1e308, 'cosineDecay', 'val_loss', 'adam', [], {}, { type: 'oneCycle' }, { enabled: 'yes' }));
    const overrides = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...paths), fc.string({ minLength: 1, maxLength: 6 })), value), { maxLength: 4 }).map((entries) => {
      const out: Record<string, unknown> = {};
      for (const [path, v] of entries) {
        let node = out;
        const keys = path.split('.');
        keys.slice(0, -1).forEach((k) => {
          if (!Object.prototype.hasOwnProperty.call(node, k) || !isPlain(node[k])) Object.defineProperty(node, k, { value: {}, enumerable: true, writable: true, configurable: true });
          node = node[k] as Record<string, unknown>;
        });
        Object.defineProperty(node, keys[keys.length - 1]!, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return out;
    });
    const seen = { ok: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...RECIPES.keys()), overrides, overrides, async (recipe, fromFile, fromFlags) => {
        const path = await file('.json', JSON.stringify({ ...fromFile, recipe: Object.prototype.hasOwnProperty.call(fromFile, 'recipe') ? fromFile['recipe'] : recipe }));
        const outcome = await within(() => resolveConfig(path, fromFlags));
        expectConfigError(outcome);
        expect(Object.keys(Object.prototype), 'no key reaches Object.prototype').toEqual([]);
        seen[outcome.ok ? 'ok' : 'refused']++;
      }),
      { numRuns: 300 },
    );
    expect(seen.ok, 'some configurations resolve').toBeGreaterThan(5);
    expect(seen.refused, 'some are refused').toBeGreaterThan(5);
  });

  it('any command line: dotted flags are split out as overrides, without throwing', () => {
    const arg = fc.oneof(fc.constantFrom('--a.b', '--a.b=1', '--callbacks.earlyStopping.patience', '--x.', '--.x', '--a..b', '--', '-', '--a.b=', '--__proto__.x', 'train', 'iris', '5', '[1, 2', '{', '--epochs'), fc.string({ maxLength: 10 }));
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 8 }), (args) => {
        const { rest, overrides, given } = extractDottedFlags(args);
        expect(rest.length + given.length).toBeLessThanOrEqual(args.length);
        expect(isPlain(overrides)).toBe(true);
        for (const key of given) expect(key).toMatch(/\./);
        expect(Object.keys(Object.prototype), 'no flag reaches Object.prototype').toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the CSV/JSON rows reader (predict, evaluate --data) under fuzzing', () => {
  const iris = { featureNames: ['sepal length', 'sepal width', 'petal length', 'petal width'], featureCount: 4, targetName: 'species', classNames: ['setosa', 'versicolor', 'virginica'] };
  const pixels = { featureNames: [] as string[], featureCount: 3, targetName: 'label', classNames: [] as string[] };
  const layout = fc.constantFrom(iris, pixels);
  type Layout = typeof iris;

  /** Rows that came back: one per line or entry, each with the layout's features, every value a finite number. */
  function expectRows(outcome: Awaited<ReturnType<typeof within<Awaited<ReturnType<typeof readRows>>>>>, l: Layout): void {
    expectConfigError(outcome);
    if (!outcome.ok) return;
    const { features, targets } = outcome.value;
    expect(features.length).toBeGreaterThan(0);
    for (const row of features) {
      expect(row).toHaveLength(l.featureCount);
      for (const v of row) expect(Number.isFinite(v), String(v)).toBe(true);
    }
    if (targets) {
      expect(targets).toHaveLength(features.length);
      for (const v of targets) expect(Number.isFinite(v)).toBe(true);
    }
  }

  const cell = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.integer({ min: -5, max: 5 }).map(String),
    fc.constantFrom('', ' ', 'setosa', 'virginica', 'dog', 'NaN', 'Infinity', '-0', '1e999', '0x10', '"1,5"', '"a""b"', '"', 'sepal length', 'species', 'label', ' 2 '),
    fc.string({ maxLength: 5 }),
  );

  it('any bytes as a .csv or .json file: rows of finite numbers, or a ConfigError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), layout, fc.constantFrom('.csv', '.json', '.txt'), async (bytes, l, extension) => {
        expectRows(await within(async () => readRows(await file(extension, bytes), l)), l);
      }),
      { numRuns: 300 },
    );
  });

  it('any grid of cells as CSV — headers or not, quotes, blank lines, CRLF: rows of finite numbers, or a ConfigError', async () => {
    const seen = { ok: 0, refused: 0 };
    // Numeric grids of the layout's width (with a target column or not) read as rows; anything may be mixed in.
    const width = (l: Layout) => fc.array(fc.array(fc.integer({ min: -9, max: 9 }).map(String), { minLength: l.featureCount, maxLength: l.featureCount + 1 }), { minLength: 1, maxLength: 5 });
    const grid = layout.chain((l) => fc.tuple(fc.constant(l), fc.oneof(width(l), fc.array(fc.array(cell, { minLength: 0, maxLength: 6 }), { maxLength: 8 }))));
    await fc.assert(
      fc.asyncProperty(grid, fc.constantFrom('\n', '\r\n'), async ([l, cells], eol) => {
        const text = cells.map((row) => row.join(',')).join(eol);
        const outcome = await within(async () => readRows(await file('.csv', text), l));
        expectRows(outcome, l);
        seen[outcome.ok ? 'ok' : 'refused']++;
      }),
      { numRuns: 400 },
    );
    expect(seen.ok, 'some grids are rows').toBeGreaterThan(10);
    expect(seen.refused, 'some are refused').toBeGreaterThan(10);
  });

  it('any JSON value as rows: rows of finite numbers, or a ConfigError', async () => {
    const row = fc.oneof(
      fc.array(fc.oneof(fc.double(), fc.constantFrom<unknown>('1', 'setosa', null, true, [], {})), { maxLength: 6 }),
      fc.dictionary(fc.constantFrom('sepal length', 'sepal width', 'petal length', 'petal width', 'species', 'label', 'a', '__proto__'), fc.oneof(fc.double(), fc.constantFrom<unknown>('2', 'virginica', null, {})), { maxKeys: 6 }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(row, { maxLength: 5 }), fc.record({ rows: fc.array(row, { maxLength: 5 }) }), fc.jsonValue({ maxDepth: 3 })), layout, async (value, l) => {
        expectRows(await within(async () => readRows(await file('.json', JSON.stringify(value) ?? 'null'), l)), l);
      }),
      { numRuns: 400 },
    );
  });
});
