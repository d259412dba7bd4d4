// Issue 20: `fitstream fit --model model.json --data data.csv --target label` trains the user's own model on the user's
// own CSV through the run machinery of `train <recipe>` — and the plugin lists of a fit configuration. The program runs
// in-process (main), on the cpu backend, against files written here.
import { zipSync } from 'fflate';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Random } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../program.js';
import type { TrainSummary } from '../recipes/recipe.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'model', 'fixtures');
let dir: string;

interface Ran {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function fitstream(...args: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const summaryOf = (ran: Ran): TrainSummary => {
  expect(ran.code, ran.err.join('\n')).toBe(0);
  return JSON.parse(ran.out.at(-1)!) as TrainSummary;
};

/** Quiet, quick runs on the cpu backend into this test's directory. */
const common = () => ['--backend', 'cpu', '--out', join(dir, 'runs'), '--json', '--set', 'callbacks=[{use: progressBar, with: {enabled: false}}]'];

/**
 * Three classes of flowers-like rows: two informative measurements, a text column whose values hold commas (quoted,
 * one-hot encoded) and a quoted label with a space. 240 rows, seeded.
 */
function rows(): string[][] {
  const random = Random.fromSeed(20);
  const notes = ['red, big', 'blue, small', 'green'];
  return Array.from({ length: 240 }, (_, i) => {
    const c = i % 3;
    return [(2 * c + 0.5 * random.normal()).toFixed(3), (1 - c + 0.5 * random.normal()).toFixed(3), notes[random.int(3)]!, `class ${c}`];
  });
}

const csv = (data: string[][], delimiter: string, header = ['length', 'width', 'note', 'label']) =>
  [header, ...data].map((r) => r.map((cell) => (Number.isFinite(Number(cell)) && cell !== '' ? cell : `"${cell}"`)).join(delimiter)).join('\n') + '\n';

/** A tfjs layers model.json without weights: 5 inputs (2 numbers + 3 one-hot notes), 3 classes. */
const MODEL_JSON = {
  format: 'layers-model',
  modelTopology: {
    class_name: 'Sequential',
    config: {
      name: 'user_model',
      layers: [
        { class_name: 'Dense', config: { name: 'hidden', units: 16, activation: 'relu', batch_input_shape: [null, 5] } },
        { class_name: 'Dense', config: { name: 'classes', units: 3, activation: 'softmax' } },
      ],
    },
  },
};

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fitstream-fit-'));
  const data = rows();
  await writeFile(join(dir, 'data.csv'), csv(data, ','));
  await writeFile(join(dir, 'data-semicolon.csv'), csv(data, ';'));
  const missing = data.map((r) => [...r]);
  missing[2]![1] = '';
  await writeFile(join(dir, 'missing.csv'), csv(missing, ','));
  await writeFile(join(dir, 'model.json'), JSON.stringify(MODEL_JSON));
  // Four numeric features for the Keras 3 models (Input(4)).
  await writeFile(join(dir, 'four.csv'), csv(data.map(([a, b, , label]) => [a!, b!, (Number(a) - Number(b)).toFixed(3), (Number(a) * 0.5).toFixed(3), label!]), ',', ['a', 'b', 'c', 'd', 'label']));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('fitstream fit --model model.json --data data.csv --target label', () => {
  let summary: TrainSummary;
  beforeAll(async () => {
    summary = summaryOf(await fitstream('fit', '--model', join(dir, 'model.json'), '--data', join(dir, 'data.csv'), '--target', 'label', '--epochs', '25', '--lr', '0.02', '--batch-size', '16', ...common()));
  });

  it('trains the model.json (no weights: seeded fresh ones) on a CSV with quoted commas to validation accuracy ≥ 0.9', () => {
    expect(summary.reason).toBe('completed');
    expect(summary.epochs).toBe(25);
    expect(summary.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);
  });

  it('writes the run directory of `train <recipe>`: config (recipe fit, absolute paths), data.json, events, metrics, TensorBoard, report, model', async () => {
    const files = await readdir(summary.runDir);
    for (const f of ['config.json', 'environment.json', 'data.json', 'events.jsonl', 'metrics.csv', 'checkpoints', 'model', 'tensorboard', 'report.html', 'evaluation.json']) expect(files).toContain(f);
    const config = JSON.parse(await readFile(join(summary.runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ recipe: 'fit', model: { path: join(dir, 'model.json') }, data: { path: join(dir, 'data.csv'), columns: { target: 'label' } } });
    const data = JSON.parse(await readFile(join(summary.runDir, 'data.json'), 'utf8')) as { dataset: { classNames: string[] }; preprocessing: { featureNames: string[] } };
    expect(data.dataset.classNames).toEqual(['class 0', 'class 1', 'class 2']);
    expect(data.preprocessing.featureNames).toHaveLength(5);
    expect(await readFile(join(summary.runDir, 'report.html'), 'utf8')).toMatch(/confusion/i);
  });

  it('the same data separated by semicolons gives the same run, to the last bit', async () => {
    const semi = summaryOf(await fitstream('fit', '--model', join(dir, 'model.json'), '--data', join(dir, 'data-semicolon.csv'), '--target', 'label', '--epochs', '25', '--lr', '0.02', '--batch-size', '16', ...common()));
    expect(semi.evaluation).toEqual(summary.evaluation);
    expect(semi.final).toEqual(summary.final);
  });

  it('predict --data and evaluate --data read new rows with the run’s encoding (class names, one-hot notes)', async () => {
    const input = join(dir, 'new-rows.csv');
    await writeFile(input, 'length,width,note\n0.1,1.1,"red, big"\n4.2,-1.2,"green"\n');
    const predicted = await fitstream('predict', summary.runDir, '--data', input);
    expect(predicted.code, predicted.err.join('\n')).toBe(0);
    expect(predicted.out[0]).toBe('row,label,p_class 0,p_class 1,p_class 2');
    expect(predicted.out.slice(1).map((l) => l.split(',')[1])).toEqual(['class 0', 'class 2']);
    const evaluated = await fitstream('evaluate', summary.runDir, '--data', join(dir, 'data-semicolon.csv'), '--json');
    expect(evaluated.code, evaluated.err.join('\n')).toBe(0);
    expect((JSON.parse(evaluated.out[0]!) as { metrics: { accuracy: number } }).metrics.accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('resume on a finished fit run rebuilds its recipe from config.json (and says there is nothing to resume)', async () => {
    const resumed = await fitstream('resume', summary.runDir);
    expect(resumed.code).toBe(1);
    expect(resumed.err.join('\n')).toMatch(/nothing to resume in .*: the run finished/);
  });
});

describe('fitstream fit: the data and the model refused, with exit code 2 and the place', () => {
  it('a missing value: its row and column', async () => {
    const ran = await fitstream('fit', '--model', join(dir, 'model.json'), '--data', join(dir, 'missing.csv'), '--target', 'label', ...common());
    expect(ran.code).toBe(2);
    expect(ran.err.join('\n')).toMatch(/1 missing value .*row 3, column "width"\. Fill them in, or set data\.onMissing/);
  });

  it('a model whose input does not match the data, and no model at all', async () => {
    const ran = await fitstream('fit', '--model', join(FIXTURES, 'keras3-mlp.keras'), '--data', join(dir, 'data.csv'), '--target', 'label', ...common());
    expect(ran.code).toBe(2);
    expect(ran.err.join('\n')).toMatch(/keras3-mlp\.keras takes 4 features \(input shape \[null, 4\]\) but the data has 5 features \(length, width, "note=blue, small", note=green, "note=red, big"\)/);
    const none = await fitstream('fit', '--data', join(dir, 'data.csv'), '--target', 'label', ...common());
    expect(none.code).toBe(2);
    expect(none.err.join('\n')).toMatch(/model: missing\. Name the model with --model/);
  });
});

describe('fitstream fit with other kinds of model', () => {
  it('a TypeScript module (no build step) with model.with from the config, and a Keras 3 config.json', async () => {
    await writeFile(
      join(dir, 'model.ts'),
      `import type * as tfjs from '@tensorflow/tfjs';
export default function buildModel(options: { hidden: number }, ctx: { inputShape: readonly number[]; outputUnits: number; tf: typeof tfjs }): tfjs.LayersModel {
  const { tf } = ctx;
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [...ctx.inputShape], units: options.hidden, activation: 'relu' }), tf.layers.dense({ units: ctx.outputUnits, activation: 'softmax' })] });
}
`,
    );
    await writeFile(join(dir, 'fit-ts.yaml'), `model: { path: ${join(dir, 'model.ts')}, with: { hidden: 12 } }\ndata: { path: ${join(dir, 'data.csv')}, columns: { target: label } }\nepochs: 20\nlr: 0.02\nbatchSize: 16\n`);
    const ts = summaryOf(await fitstream('fit', join(dir, 'fit-ts.yaml'), ...common()));
    expect(ts.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);

    await copyFile(join(FIXTURES, 'keras3-functional.json'), join(dir, 'config.json'));
    const keras = summaryOf(await fitstream('fit', '--model', join(dir, 'config.json'), '--data', join(dir, 'four.csv'), '--target', 'label', '--epochs', '20', '--lr', '0.02', '--batch-size', '16', ...common()));
    expect(keras.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);
  });

  it('arrays (.npz) train too, and predict/evaluate --data read new arrays with the run’s encoding', async () => {
    // x: two informative measurements per row, y: the class index — the CSV's rows as numpy would save them.
    const rows = (await readFile(join(dir, 'data.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
    const classes = [...new Set(rows.map((r) => r.at(-1)!))].sort();
    const x = Float32Array.from(rows.flatMap((r) => [Number(r[0]), Number(r[1])]));
    const y = Int32Array.from(rows.map((r) => classes.indexOf(r.at(-1)!)));
    const npy = (descr: string, shape: readonly number[], data: Float32Array | Int32Array): Uint8Array => {
      let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.length === 1 ? `${shape[0]},` : shape.join(', ')}), }`;
      header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
      const out = new Uint8Array(10 + header.length + data.byteLength);
      out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
      out.set(new TextEncoder().encode(header), 10);
      out.set(new Uint8Array(data.buffer), 10 + header.length);
      return out;
    };
    await writeFile(join(dir, 'rows.npz'), zipSync({ 'x.npy': npy('<f4', [rows.length, 2], x), 'y.npy': npy('<i4', [rows.length], y) }));
    await writeFile(join(dir, 'fit-npz.yaml'), `model: { path: ${join(dir, 'model.ts')}, with: { hidden: 12 } }\ndata: { path: ${join(dir, 'rows.npz')}, task: classification }\nepochs: 20\nlr: 0.02\nbatchSize: 16\n`);
    const arrays = summaryOf(await fitstream('fit', join(dir, 'fit-npz.yaml'), ...common()));
    expect(arrays.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);
    const evaluated = await fitstream('evaluate', arrays.runDir, '--data', join(dir, 'rows.npz'), '--json');
    expect(evaluated.code, evaluated.err.join('\n')).toBe(0);
    const predicted = await fitstream('predict', arrays.runDir, '--data', join(dir, 'rows.npz'));
    expect(predicted.code, predicted.err.join('\n')).toBe(0);
    expect(predicted.out.length).toBe(rows.length + 1);
  });
});

describe('plugin lists from YAML: callbacks, regularisers, sampler by name', () => {
  const config = async (name: string, lists: string) => {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `model: ${join(dir, 'model.json')}\ndata:\n  path: ${join(dir, 'data.csv')}\n  columns: { target: label }\nlr: 0.02\nbatchSize: 16\n${lists}`);
    return path;
  };

  it('earlyStopping stops the run; Adam with options, an L2 penalty and a balanced-batch sampler (7 batches of 3 × 4) train beside it', async () => {
    const path = await config(
      'early.yaml',
      `epochs: 200
callbacks:
  - use: earlyStopping
    with: { monitor: val_loss, patience: 2, minDelta: 0.05 }
  - { use: progressBar, with: { enabled: false } }
optimizer: { name: adam, with: { beta1: 0.8, epsilon: 0.000001 } }
regularisers:
  - { use: l2, with: { lambda: 0.0001 } }
sampler: { use: balancedBatchSampler, with: { classesPerBatch: 3, samplesPerClass: 4, batchesPerEpoch: 7 } }
`,
    );
    const ran = summaryOf(await fitstream('fit', path, '--backend', 'cpu', '--out', join(dir, 'runs'), '--json'));
    expect(ran.reason).toMatch(/^stopped: early stopping: val_loss did not improve for 2 epochs/);
    expect(ran.epochs).toBeLessThan(200);
    const events = await readFile(join(ran.runDir, 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"type":"regulariser:report",[^\n]*"name":"l2"/);
    const epochs = events.split('\n').filter((l) => l.includes('"type":"epoch:end"')).map((l) => JSON.parse(l) as { batches: number; samples: number });
    expect(epochs.map((e) => [e.batches, e.samples])).toEqual(epochs.map(() => [7, 84]));
  });

  it('an unknown plugin: exit 2 with a did-you-mean; a bad option: exit 2 naming callbacks[0].with.patience', async () => {
    const unknown = await fitstream('fit', await config('unknown.yaml', 'callbacks:\n  - use: earlyStoping\n'), ...common().slice(0, 4));
    expect(unknown.code).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/callbacks\[0\]\.use: unknown plugin "earlyStoping"\. Did you mean "earlyStopping"\?/);
    const bad = await fitstream('fit', await config('bad.yaml', 'callbacks:\n  - use: earlyStopping\n    with: { patience: -1 }\nregularisers:\n  - use: l2\n    with: { lambda: "0.1", lamda: 1 }\n'), ...common().slice(0, 4));
    expect(bad.code).toBe(2);
    const text = bad.err.join('\n');
    expect(text).toMatch(/callbacks\[0\]\.with\.patience: must be an integer ≥ 0, got -1\./);
    expect(text).toMatch(/regularisers\[0\]\.with: unknown option "lamda"\. Allowed: .*Did you mean "lambda"\?/);
    expect(text).toMatch(/regularisers\[0\]\.with\.lambda: expected number, got "0\.1"\. "0\.1" is a quoted string/);
    const optimizer = await fitstream('fit', await config('optimizer.yaml', 'optimizer: { name: adam, with: { momentum: 0.9 } }\n'), ...common().slice(0, 4));
    expect(optimizer.code).toBe(2);
    expect(optimizer.err.join('\n')).toMatch(/optimizer\.with\.momentum: adam does not take momentum; it takes beta1, beta2, epsilon\./);
    const misplaced = await fitstream('fit', await config('misplaced.yaml', 'callbacks: [l2]\n'), ...common().slice(0, 4));
    expect(misplaced.err.join('\n')).toMatch(/callbacks\[0\]\.use: l2 is one of the regularisers \(@fitstream\/regularisers\): put it under regularisers/);
  });
});
