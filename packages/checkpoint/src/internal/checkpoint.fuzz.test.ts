// Property-based fuzzing of the checkpoint loader (issue 17): whatever happened to a checkpoint directory — state.json
// edited (and re-signed, as a tool that rewrites it would), files damaged, truncated, renamed, removed or added —
// readCheckpoint either returns it or throws a clear Error (CheckpointCorruptError for what fails verification), never
// a TypeError, RangeError or SyntaxError from deep inside, and never hangs.
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointCorruptError, checkpointWeights, readCheckpoint, snapshotCheckpoint, writeSnapshot } from '../index.js';
import { loopState, trained } from '../test-support/fixtures.js';

type State = Record<string, unknown>;

let root: string;
let pristine: string;
let files: string[];
let runs = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'fitstream-checkpoint-fuzz-'));
  // A trainer's checkpoint: the whole loop state, optimizer slots, and plugin tensors (plugin-tensors.json/.bin).
  const { model, optimizer } = trained(5, 2, 4);
  const mean = tf.tensor1d([1, 2, 3]);
  const snapshot = snapshotCheckpoint({
    model: { kind: 'layers', layersModel: model, namedWeights: () => checkpointWeights(model) },
    optimizer,
    state: { ...loopState(2), plugins: { 'fuzz-state': { seen: 3, label: 'x' } } },
    pluginTensors: { 'fuzz-state': { mean } },
  });
  pristine = (await writeSnapshot(join(root, 'pristine'), snapshot)).path;
  files = (await readdir(pristine)).sort();
  expect(files).toContain('plugin-tensors.bin');
  mean.dispose();
  model.dispose();
  optimizer.dispose();
});

afterAll(() => rm(root, { recursive: true, force: true }));

const sign = (state: State): State => {
  const { checksum: _old, ...unsigned } = state;
  return { ...unsigned, checksum: createHash('sha256').update(JSON.stringify(unsigned)).digest('hex') };
};
const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function copy(): Promise<string> {
  const dir = join(root, `case-${runs++}`);
  await cp(pristine, dir, { recursive: true });
  return dir;
}

/** readCheckpoint within `ms`: the checkpoint, or the error it threw. */
async function load(dir: string, ms = 5000): Promise<{ ok: true } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`readCheckpoint did not return within ${ms} ms`)), ms)));
  try {
    const loaded = await Promise.race([readCheckpoint(dir), timeout]);
    tf.dispose([...Object.values(loaded.weights), ...loaded.optimizerWeights.map((w) => w.tensor), ...Object.values(loaded.pluginTensors).flatMap((m) => Object.values(m))]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** A clear error: an Error naming the checkpoint or its file, not a crash of the reader itself. */
function expectClear(outcome: Awaited<ReturnType<typeof load>>, dir: string): void {
  if (outcome.ok) return;
  const { error } = outcome;
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).not.toMatch(/did not return within/);
  for (const crash of [TypeError, RangeError, SyntaxError, ReferenceError]) expect(error, (error as Error).stack).not.toBeInstanceOf(crash);
  expect((error as Error).message).toContain(dir);
}

/** A JSON path into state.json: a key at each level, existing or new. */
const KEYS = ['format', 'version', 'epoch', 'batch', 'step', 'learningRate', 'random', 'aggregate', 'history', 'plugins', 'optimizer', 'model', 'fit', 'files', 'parts', 'kind', 'variables', 'className', 'extras', 'logs', 'epochs', 'names', 'sums', 'model.json', 'weights.bin', 'optimizer.bin', 'optimizer.json', 'plugin-tensors.json', 'plugin-tensors.bin', 'models', 'optimizers', 'key', 'state', '__proto__', 'constructor', '0'];
const path = fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 4 });
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom<unknown>(null, {}, [], '', -1, 0, 1e308, 'layers', 'function', '../x', '/etc/passwd', 'a\\b', { kind: 'layers', variables: [] }));

/** Sets (or, for `undefined`, deletes) `path` in a copy of `state`, creating objects on the way. */
function edit(state: State, keys: readonly string[], v: unknown): State {
  const copy = JSON.parse(JSON.stringify(state)) as State;
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    // Own properties only: `__proto__` must become a key of state.json, never a walk into Object.prototype.
    const next = Object.prototype.hasOwnProperty.call(node, key) ? node[key] : undefined;
    if (typeof next !== 'object' || next === null) Object.defineProperty(node, key, { value: {}, enumerable: true, writable: true, configurable: true });
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (v === undefined) delete node[last];
  else Object.defineProperty(node, last, { value: JSON.parse(JSON.stringify(v)) as unknown, enumerable: true, writable: true, configurable: true });
  return copy;
}

describe('readCheckpoint under fuzzing: a result or a clear error, never a crash or a hang', () => {
  it('state.json with any field set to any JSON value (or removed), re-signed', async () => {
    const state = JSON.parse(await readFile(join(pristine, 'state.json'), 'utf8')) as State;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(path, fc.option(value, { nil: undefined })), { minLength: 1, maxLength: 3 }), fc.boolean(), async (edits, resign) => {
        const dir = await copy();
        let edited = state;
        for (const [keys, v] of edits) edited = edit(edited, keys, v);
        await writeFile(join(dir, 'state.json'), JSON.stringify(resign ? sign(edited) : edited));
        expectClear(await load(dir), dir);
        await rm(dir, { recursive: true, force: true });
      }),
      { numRuns: 250 },
    );
  });

  it('state.json as any text: torn, random, or valid JSON of another shape', async () => {
    const text = await readFile(join(pristine, 'state.json'), 'utf8');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
          fc.string({ maxLength: 200 }),
          fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
          fc.tuple(fc.nat({ max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
        ),
        async (content) => {
          const dir = await copy();
          await writeFile(join(dir, 'state.json'), content);
          const outcome = await load(dir);
          expectClear(outcome, dir);
          await rm(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 250 },
    );
  });

  it('any file damaged — bytes flipped, truncated, grown — with or without re-signed checksums', async () => {
    const state = JSON.parse(await readFile(join(pristine, 'state.json'), 'utf8')) as State & { files: Record<string, string> };
    const damaged = files.filter((f) => f !== 'state.json');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...damaged),
        fc.oneof(
          fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
          fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
          fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
          fc.record({ kind: fc.constant('replace' as const), bytes: fc.uint8Array({ maxLength: 256 }) }),
          fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 3 }) }),
        ),
        fc.boolean(),
        async (file, damage, resign) => {
          const dir = await copy();
          const original = await readFile(join(dir, file));
          let bytes: Uint8Array;
          if (damage.kind === 'flip') {
            bytes = Uint8Array.from(original);
            if (bytes.length > 0) bytes[damage.at % bytes.length] = bytes[damage.at % bytes.length]! ^ damage.mask;
          } else if (damage.kind === 'truncate') bytes = original.subarray(0, damage.at % Math.max(original.length, 1));
          else if (damage.kind === 'append') bytes = Buffer.concat([original, damage.bytes]);
          else if (damage.kind === 'replace') bytes = damage.bytes;
          else bytes = Buffer.from(JSON.stringify(damage.value));
          await writeFile(join(dir, file), bytes);
          if (resign) await writeFile(join(dir, 'state.json'), JSON.stringify(sign({ ...state, files: { ...state.files, [file]: digest(bytes) } })));
          const outcome = await load(dir);
          expectClear(outcome, dir);
          if (!resign && !Buffer.from(bytes).equals(original)) {
            expect(outcome.ok, 'a damaged file never loads unnoticed').toBe(false);
            expect((outcome as { error: unknown }).error).toBeInstanceOf(CheckpointCorruptError);
          }
          await rm(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('files renamed, removed or added, and names in the files map that lead anywhere', async () => {
    const state = JSON.parse(await readFile(join(pristine, 'state.json'), 'utf8')) as State & { files: Record<string, string> };
    const name = fc.oneof(fc.constantFrom(...files, 'x.bin', '../state.json', '/etc/hostname', 'a/../b', './model.json', '', 'models/m/model.json', 'a\\b', '.', 'sub/'), fc.string({ maxLength: 12 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('rename' as const), from: fc.constantFrom(...files), to: fc.constantFrom('moved.bin', 'weights.bin.old', 'model.JSON') }),
            fc.record({ kind: fc.constant('remove' as const), file: fc.constantFrom(...files) }),
            fc.record({ kind: fc.constant('list' as const), file: name, digest: fc.oneof(fc.constant('0'.repeat(64)), fc.string({ maxLength: 8 })) }),
            fc.record({ kind: fc.constant('unlist' as const), file: fc.constantFrom(...files) }),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        async (changes) => {
          const dir = await copy();
          const listed = { ...state.files };
          for (const change of changes) {
            if (change.kind === 'rename') await rename(join(dir, change.from), join(dir, change.to)).catch(() => undefined);
            else if (change.kind === 'remove') await rm(join(dir, change.file), { force: true });
            else if (change.kind === 'list') Object.defineProperty(listed, change.file, { value: change.digest, enumerable: true, writable: true, configurable: true });
            else delete listed[change.file];
          }
          await writeFile(join(dir, 'state.json'), JSON.stringify(sign({ ...state, files: listed })));
          expectClear(await load(dir), dir);
          await rm(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 200 },
    );
  });
});
