// The user's tables (CSV, TSV, JSON Lines, JSON rows) through loadUserData: real files in a temporary directory,
// the tensors and data.json record they give, and the errors a user sees for bad files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { afterAll, describe, expect, it } from 'vitest';
import { disposeUserData, loadUserData, readTable, restoreEncoding, type UserData } from './load-user-data.js';
import type { TableEncodingRecord } from './encode.js';
import { userDataSchema, type UserDataSpec } from './spec.js';

const dir = mkdtempSync(join(tmpdir(), 'fitstream-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Twelve flowers: two numeric columns (one header with a space), a categorical colour, a note with quotes and commas. */
const ROWS: [number, number, string, string, string][] = [
  [5.1, 0.2, 'red', 'a, "quoted" note', 'setosa'],
  [4.9, 0.2, 'blue', 'plain', 'setosa'],
  [6.2, 1.5, 'red', 'x', 'versicolor'],
  [5.9, 1.8, 'green', 'y', 'virginica'],
  [6.0, 1.4, 'blue', 'z', 'versicolor'],
  [6.5, 2.0, 'green', 'w', 'virginica'],
  [5.0, 0.3, 'red', 'v', 'setosa'],
  [5.7, 1.3, 'blue', 'u', 'versicolor'],
  [6.7, 2.2, 'green', 't', 'virginica'],
  [5.4, 0.4, 'red', 's', 'setosa'],
  [5.6, 1.1, 'blue', 'r', 'versicolor'],
  [6.3, 1.9, 'green', 'q', 'virginica'],
];
const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
function delimited(sep: string): string {
  const header = ['sepal length', 'petal width', 'colour', 'note', 'species'].map((h) => (h.includes(' ') ? quote(h) : h)).join(sep);
  return [header, ...ROWS.map(([a, b, c, d, e]) => [a, b, c, quote(d), e].join(sep))].join('\r\n') + '\r\n';
}

const base = { columns: { target: 'species' }, split: { validation: 0.25 } } satisfies Partial<UserDataSpec>;

async function load(spec: UserDataSpec, seed = 7): Promise<UserData> {
  return loadUserData(spec, { seed, cwd: dir });
}

async function values(data: UserData) {
  return {
    xTrain: await data.train.x.array(),
    yTrain: await data.train.y.array(),
    xVal: await data.validation.x.array(),
    yVal: await data.validation.y.array(),
  };
}

async function inputError(promise: Promise<unknown>): Promise<FitstreamInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FitstreamInputError);
  return error as FitstreamInputError;
}

describe('CSV and TSV', () => {
  it('reads quoted fields with commas and escaped quotes, a header with spaces, and gives the same tensors for , ; and tab', async () => {
    const comma = file('flowers.csv', delimited(','));
    const semicolon = file('flowers-semicolon.csv', delimited(';'));
    const tab = file('flowers.tsv', delimited('\t'));
    const { table, delimiter } = await readTable(comma, 'csv', userDataSchema.parse({ path: comma }));
    expect(delimiter).toBe(',');
    expect(table.columns).toEqual(['sepal length', 'petal width', 'colour', 'note', 'species']);
    expect(table.get('note')[0]).toBe('a, "quoted" note');
    expect(table.kind('petal width')).toBe('number');
    expect((await readTable(semicolon, 'csv', userDataSchema.parse({ path: semicolon }))).delimiter).toBe(';');

    const spec = { ...base, columns: { target: 'species', features: ['sepal length', 'petal width', 'colour'] } };
    const loaded = await Promise.all([comma, semicolon, tab].map((path) => load({ ...spec, path })));
    const [a, b, c] = await Promise.all(loaded.map(values));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const first = loaded[0]!;
    expect(first.task).toBe('classification');
    expect(first.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(first.featureCount).toBe(2 + 3);
    expect(first.encoding.kind === 'table' && first.encoding.featureNames).toEqual(['sepal length', 'petal width', 'colour=blue', 'colour=green', 'colour=red']);
    expect(first.train.x.shape).toEqual([9, 5]);
    expect(first.validation.x.shape).toEqual([3, 5]);
    expect(first.train.y.dtype).toBe('int32');
    expect((first.info['source'] as { delimiter: string }).delimiter).toBe(',');
    expect((loaded[2]!.info['source'] as { delimiter: string }).delimiter).toBe('\t');
    loaded.forEach(disposeUserData);
  });

  it('detects the delimiter from the header outside quotes', async () => {
    // Three commas, one semicolon — but the commas are inside quotes.
    const path = file('quoted-header.csv', '"a,b,c,d";e\n1;2\n3;4\n');
    const { table, delimiter } = await readTable(path, 'csv', userDataSchema.parse({ path }));
    expect(delimiter).toBe(';');
    expect(table.columns).toEqual(['a,b,c,d', 'e']);
  });

  it('names columns column_1 … without a header', async () => {
    const path = file('no-header.csv', '1,2,a\n3,4,b\n');
    const { table } = await readTable(path, 'csv', userDataSchema.parse({ path, header: false }));
    expect(table.columns).toEqual(['column_1', 'column_2', 'column_3']);
    expect(table.get('column_2')).toEqual([2, 4]);
  });

  it('refuses a ragged row, naming its row and line', async () => {
    const path = file('ragged.csv', 'a,b,label\n1,2,x\n3,4\n5,6,y\n');
    const error = await inputError(load({ path, columns: { target: 'label' } }));
    expect(error.message).toContain('row 2 (line 3) has 2 fields but the header has 3');
  });

  it('refuses an unclosed quote with the line', async () => {
    const path = file('unclosed.csv', 'a,b\n1,"2\n');
    const error = await inputError(load({ path, columns: { target: 'b' } }));
    expect(error.argument).toBe('data.path');
    expect(error.message).toMatch(/Quote Not Closed.*line 2/);
  });

  it('names a misspelt column and the closest one', async () => {
    const path = file('flowers-typo.csv', delimited(','));
    const error = await inputError(load({ path, columns: { target: 'specis' } }));
    expect(error.argument).toBe('data.columns.target');
    expect(error.message).toContain('Did you mean "species"?');
  });
});

describe('missing values', () => {
  const text = ['sepal length,petal width,colour,species', '5.1,0.2,red,setosa', '4.9,0.3,blue,setosa', '6.2,NA,red,versicolor', '5.9,1.8,,virginica', '6.0,1.4,blue,versicolor', '6.5,2.0,green,virginica', '5.0,,red,setosa', '5.7,1.3,blue,versicolor', '6.7,2.2,green,virginica', '5.8,1.2,green,versicolor', '6.4,2.1,red,virginica', '5.2,0.1,red,setosa'].join('\n');

  it('are an error listing row and column of each, and the count', async () => {
    const path = file('missing.csv', text);
    const error = await inputError(load({ ...base, path }));
    expect(error.argument).toBe('data.onMissing');
    expect(error.message).toContain('has 3 missing values');
    expect(error.message).toContain('row 3, column "petal width"; row 4, column "colour"; row 7, column "petal width"');
    expect(error.message).toContain('set data.onMissing to drop-rows, mean, median or most-frequent');
  });

  it('lists ten places at most, then how many more', async () => {
    const lines = ['x,y', ...Array.from({ length: 14 }, (_, i) => `NA,${i % 2}`)];
    const error = await inputError(load({ path: file('many-missing.csv', lines.join('\n')), columns: { target: 'y' } }));
    expect(error.message).toContain('has 14 missing values');
    expect(error.message).toContain('row 10, column "x"; … and 4 more');
    expect(error.message).not.toContain('row 11,');
  });

  it('drop-rows drops their rows and says so', async () => {
    const data = await load({ ...base, path: file('missing-drop.csv', text), onMissing: 'drop-rows', split: { validation: 3 } });
    expect(data.train.x.shape[0]! + data.validation.x.shape[0]!).toBe(9);
    expect(data.warnings[0]).toContain('dropped 3 of 12 rows with missing values');
    expect(data.info['droppedRows']).toBe(3);
    disposeUserData(data);
  });

  it('mean, median and most-frequent impute from the training split only', async () => {
    const path = file('missing-impute.csv', text);
    const { table } = await readTable(path, 'csv', userDataSchema.parse({ path }));
    const sepal = table.get('sepal length') as number[]; // unique per row: tells which rows trained
    const petal = table.get('petal width');
    const colour = table.get('colour');
    for (const onMissing of ['mean', 'median', 'most-frequent'] as const) {
      const data = await load({ ...base, path, onMissing, scale: 'none', split: { validation: 3 } });
      const x = (await data.train.x.array()) as number[][];
      const trainRows = x.map((r) => sepal.findIndex((v) => Math.abs(v - r[0]!) < 1e-5));
      const present = trainRows.map((i) => petal[i]).filter((v): v is number => v !== null).sort((a, b) => a - b);
      const expected = {
        mean: present.reduce((a, b) => a + b, 0) / present.length,
        median: present.length % 2 ? present[(present.length - 1) / 2]! : (present[present.length / 2 - 1]! + present[present.length / 2]!) / 2,
        'most-frequent': [...present].sort((a, b) => present.filter((v) => v === b).length - present.filter((v) => v === a).length || a - b)[0]!,
      }[onMissing];
      const record = data.info.preprocessing as TableEncodingRecord;
      const fitted = record.features.find((f) => f.column === 'petal width')!;
      expect(fitted.kind === 'numeric' && fitted.fill).toBeCloseTo(expected, 6);
      trainRows.forEach((i, r) => {
        if (petal[i] === null) expect(x[r]![1]).toBeCloseTo(expected, 5);
      });
      // A categorical column takes its most frequent training category whatever the strategy.
      const colours = trainRows.map((i) => colour[i]).filter((v) => v !== null);
      const top = Math.max(...['blue', 'green', 'red'].map((c) => colours.filter((v) => v === c).length));
      const fill = record.features.find((f) => f.column === 'colour')!;
      expect(fill.kind === 'categorical' && colours.filter((v) => v === fill.fill).length).toBe(top);
      expect(x.flat().every(Number.isFinite)).toBe(true);
      disposeUserData(data);
    }
  });

  it('a missing target is never imputed', async () => {
    const path = file('missing-target.csv', 'x,label\n1,a\n2,\n3,b\n4,a\n5,b\n');
    const error = await inputError(load({ path, columns: { target: 'label' }, onMissing: 'mean' }));
    expect(error.message).toContain('row 2, column "label"');
    expect(error.message).toContain('fills features only');
  });
});

describe('encoding fitted on the training split only', () => {
  it('scales with the training rows’ mean and standard deviation (checked numerically)', async () => {
    const n = 40;
    const lines = ['a,b,target', ...Array.from({ length: n }, (_, i) => `${i * 1.5},${(i * 7) % 11},${(i * 0.37).toFixed(3)}`)];
    const path = file('scale.csv', lines.join('\n'));
    const data = await load({ path, columns: { target: 'target' }, split: { validation: 0.25 } });
    expect(data.task).toBe('regression');
    const record = data.info.preprocessing as TableEncodingRecord;
    const { table } = await readTable(path, 'csv', userDataSchema.parse({ path }));
    // Recover which rows trained from the scaled x: raw = x·divisor + offset.
    const a = record.features[0]!;
    if (a.kind !== 'numeric') throw new Error('a is numeric');
    const xTrain = (await data.train.x.array()) as number[][];
    const rawTrain = xTrain.map((r) => Math.round((r[0]! * a.divisor + a.offset) * 1000) / 1000);
    const all = table.get('a') as number[];
    expect(rawTrain.every((v) => all.includes(v))).toBe(true);
    const mean = rawTrain.reduce((s, v) => s + v, 0) / rawTrain.length;
    const std = Math.sqrt(rawTrain.reduce((s, v) => s + (v - mean) ** 2, 0) / rawTrain.length);
    expect(a.offset).toBeCloseTo(mean, 6);
    expect(a.divisor).toBeCloseTo(std, 6);
    // …and not the whole file's.
    const wholeMean = all.reduce((s, v) => s + v, 0) / all.length;
    expect(Math.abs(a.offset - wholeMean)).toBeGreaterThan(1e-6);
    // Training columns have mean 0 and std 1; validation ones, in general, do not.
    const trainMean = tf.tidy(() => tf.mean(data.train.x, 0).arraySync() as number[]);
    expect(trainMean[0]).toBeCloseTo(0, 5);
    expect(data.train.y.shape).toEqual([30, 1]);
    disposeUserData(data);

    const minmax = await load({ path, columns: { target: 'target' }, scale: 'minmax', split: { validation: 0.25 } });
    const m = await minmax.train.x.array() as number[][];
    expect(Math.min(...m.map((r) => r[0]!))).toBeCloseTo(0, 6);
    expect(Math.max(...m.map((r) => r[0]!))).toBeCloseTo(1, 6);
    disposeUserData(minmax);
  });

  it('one-hot categories come from the training split: one only in validation encodes as zeros, with a warning', async () => {
    // "purple" is on one row; with the time split the latest rows validate, so it is on the validation side.
    const lines = ['t,colour,y', ...Array.from({ length: 11 }, (_, i) => `${i},${['red', 'blue'][i % 2]},${i % 2}`), '11,purple,1'];
    const path = file('unseen.csv', lines.join('\n'));
    const data = await load({ path, columns: { target: 'y', time: 't', features: ['colour'] }, split: { by: 'time', validation: 2 } });
    const record = data.info.preprocessing as TableEncodingRecord;
    expect(record.features[0]).toMatchObject({ column: 'colour', kind: 'categorical', categories: ['blue', 'red'] });
    expect(await data.validation.x.array()).toEqual([[0, 1], [0, 0]]); // red, then purple: all zeros
    expect(data.warnings.join('\n')).toContain('row 12, column "colour" ("purple")');
    disposeUserData(data);
    // strict: the same is an error.
    const error = await inputError(load({ path, strict: true, columns: { target: 'y', time: 't', features: ['colour'] }, split: { by: 'time', validation: 2 } }));
    expect(error.argument).toBe('data.strict');
  });

  it('listed integer columns are one-hot encoded too', async () => {
    const path = file('codes.csv', ['zone,x,y', ...Array.from({ length: 12 }, (_, i) => `${(i % 3) + 1},${i},${i % 2}`)].join('\n'));
    const data = await load({ path, columns: { target: 'y' }, categorical: ['zone'], scale: 'none', split: { validation: 3 } });
    expect(data.featureNames).toEqual(['zone=1', 'zone=2', 'zone=3', 'x']);
    const x = (await data.train.x.array()) as number[][];
    x.forEach((r) => expect(r[(r[3]! % 3)]).toBe(1));
    disposeUserData(data);
    expect((await inputError(load({ path, columns: { target: 'y' }, categorical: ['y'] }))).argument).toBe('data.categorical');
  });

  it('the recorded encoding re-encodes new rows (predict) the same way, without the target', async () => {
    const path = file('flowers-predict.csv', delimited(','));
    const data = await load({ ...base, path, columns: { target: 'species', features: ['sepal length', 'petal width', 'colour'] } });
    const record = JSON.parse(JSON.stringify(data.info.preprocessing)) as TableEncodingRecord;
    const encoding = restoreEncoding(record);
    if (encoding.kind !== 'table') throw new Error('a table encoding');
    const rows = file('new.csv', 'colour,petal width,sepal length\nred,0.2,5.1\nyellow,1.0,6\n');
    const { table } = await readTable(rows, 'csv', userDataSchema.parse({ path: rows }));
    const encoded = encoding.apply(table);
    expect(encoded.y).toBeUndefined();
    const x = (await encoded.x.array()) as number[][];
    const petal = record.features[1]!;
    if (petal.kind !== 'numeric') throw new Error('numeric');
    expect(x[0]![1]).toBeCloseTo((0.2 - petal.offset) / petal.divisor, 5);
    expect(x[0]!.slice(2)).toEqual([0, 0, 1]);
    expect(x[1]!.slice(2)).toEqual([0, 0, 0]);
    expect(encoded.warnings[0]).toContain('row 2, column "colour" ("yellow")');
    encoded.x.dispose();
    disposeUserData(data);
  });
});

describe('roles, tasks and splits', () => {
  it('infers the task: strings or ≤ 20 distinct integers classify, other numbers regress', async () => {
    const ints = file('ints.csv', ['x,y', ...Array.from({ length: 30 }, (_, i) => `${i},${i % 3}`)].join('\n'));
    const many = file('many.csv', ['x,y', ...Array.from({ length: 30 }, (_, i) => `${i},${i}`)].join('\n'));
    const a = await load({ path: ints, columns: { target: 'y' } });
    const b = await load({ path: many, columns: { target: 'y' } });
    const c = await load({ path: ints, columns: { target: 'y' }, task: 'regression' });
    expect([a.task, b.task, c.task]).toEqual(['classification', 'regression', 'regression']);
    expect(a.classNames).toEqual(['0', '1', '2']);
    expect(a.outputCount).toBe(3);
    [a, b, c].forEach(disposeUserData);
  });

  it('a stratified split keeps the class proportions on both sides', async () => {
    const labels = [...Array(60).fill('a'), ...Array(30).fill('b'), ...Array(10).fill('c')] as string[];
    const path = file('strata.csv', ['x,label', ...labels.map((l, i) => `${i},${l}`)].join('\n'));
    const data = await load({ path, columns: { target: 'label' }, split: { validation: 0.2 } });
    const counts = (y: number[]) => [0, 1, 2].map((k) => y.filter((v) => v === k).length);
    expect(counts((await data.validation.y.array()) as number[])).toEqual([12, 6, 2]);
    expect(counts((await data.train.y.array()) as number[])).toEqual([48, 24, 8]);
    expect(data.info['split']).toMatchObject({ by: 'random', stratified: true, seed: 7 });
    disposeUserData(data);
    // The same seed draws the same split; another seed another one.
    const again = await load({ path, columns: { target: 'label' }, split: { validation: 0.2 } });
    const other = await load({ path, columns: { target: 'label' }, split: { validation: 0.2 } }, 8);
    const [x1, x2] = [await again.validation.x.array(), await other.validation.x.array()];
    const first = await load({ path, columns: { target: 'label' }, split: { validation: 0.2 } });
    expect(x1).toEqual(await first.validation.x.array());
    expect(x2).not.toEqual(x1);
    [again, other, first].forEach(disposeUserData);
  });

  it('a group split keeps each group on one side; weights become sample weights', async () => {
    const path = file('groups.csv', ['x,patient,w,y', ...Array.from({ length: 40 }, (_, i) => `${i},p${i % 8},${1 + (i % 2)},${i % 2}`)].join('\n'));
    const data = await load({ path, columns: { target: 'y', groups: 'patient', weights: 'w' }, split: { by: 'group', validation: 0.25 } });
    const split = data.info['split'] as { validationGroups: string[]; rows: { train: number; validation: number } };
    expect(split.validationGroups).toHaveLength(2);
    expect(split.rows).toEqual({ train: 30, validation: 10 });
    expect(data.featureCount).toBe(1); // x only: groups and weights are not features
    expect(data.train.sampleWeight?.shape).toEqual([30]);
    const xVal = ((await data.validation.x.array()) as number[][]).map((r) => r[0]!);
    const record = data.info.preprocessing as TableEncodingRecord;
    const f = record.features[0]!;
    if (f.kind !== 'numeric') throw new Error('numeric');
    const patients = new Set(xVal.map((v) => `p${Math.round(v * f.divisor + f.offset) % 8}`));
    expect([...patients].sort()).toEqual(split.validationGroups);
    disposeUserData(data);
  });

  it('a time split validates on the latest rows, in any row order, with dates as text', async () => {
    const days = Array.from({ length: 10 }, (_, i) => `2024-01-${String(i + 1).padStart(2, '0')}`);
    const shuffled = [3, 9, 0, 6, 1, 8, 2, 7, 4, 5];
    const path = file('time.csv', ['day,x,y', ...shuffled.map((i) => `${days[i]},${i},${i * 0.5}`)].join('\n'));
    const data = await load({ path, columns: { target: 'y', time: 'day' }, split: { by: 'time', validation: 0.2 }, scale: 'none' });
    expect((await data.validation.x.array()) as number[][]).toEqual([[8], [9]]);
    expect(data.info['split']).toMatchObject({ by: 'time', validationFrom: '2024-01-09' });
    disposeUserData(data);
  });

  it('refuses one column in two roles, and a missing target', async () => {
    const path = file('roles.csv', 'a,b\n1,2\n3,4\n');
    expect((await inputError(load({ path, columns: { target: 'a', features: ['a', 'b'] } }))).message).toContain('a column has one role');
    expect((await inputError(load({ path }))).argument).toBe('data.columns.target');
  });
});

describe('JSON Lines and JSON rows', () => {
  it('reads one object per line; missing keys are missing values', async () => {
    const lines = ROWS.map(([a, b, c, , e], i) => JSON.stringify(i === 4 ? { 'sepal length': a, colour: c, species: e } : { 'sepal length': a, 'petal width': b, colour: c, species: e }));
    const path = file('flowers.jsonl', lines.join('\n') + '\n\n');
    const error = await inputError(load({ ...base, path }));
    expect(error.message).toContain('row 5, column "petal width"');
    const data = await load({ ...base, path, onMissing: 'mean' });
    expect(data.train.x.shape[1]).toBe(5);
    disposeUserData(data);
    const json = file('flowers.json', JSON.stringify(ROWS.map(([a, b, c, , e]) => ({ 'sepal length': a, 'petal width': b, colour: c, species: e }))));
    const fromJson = await load({ ...base, path: json });
    const fromCsv = await load({ ...base, path: file('flowers-json-twin.csv', delimited(',')), columns: { target: 'species', features: ['sepal length', 'petal width', 'colour'] } });
    expect(await values(fromJson)).toEqual(await values(fromCsv));
    [fromJson, fromCsv].forEach(disposeUserData);
  });

  it('a bad line is an error with its number', async () => {
    const path = file('bad.jsonl', '{"x": 1, "y": 0}\n{"x": 2, "y": 1\n');
    const error = await inputError(load({ path, columns: { target: 'y' } }));
    expect(error.message).toContain('line 2 is not valid JSON');
    const nested = file('nested.jsonl', '{"x": [1, 2], "y": 0}\n');
    expect((await inputError(load({ path: nested, columns: { target: 'y' } }))).message).toContain('line 1, key "x": a nested array');
  });
});

describe('the spec', () => {
  it('is a zod schema with defaults, and bad values name their key', async () => {
    const spec = userDataSchema.parse({ path: 'x.csv', columns: { target: 'y' } });
    expect(spec).toMatchObject({ header: true, onMissing: 'error', split: { validation: 0.2, by: 'random' }, missing: ['', 'NA', 'NaN', 'null'] });
    const error = await inputError(load({ path: 'x.csv', columns: { target: 'y' }, split: { validation: 1.5 } }));
    expect(error.argument).toBe('data.split.validation');
    expect((await inputError(load({ path: 'nope.csv', columns: { target: 'y' } }))).message).toContain('does not exist');
  });
});

describe('memory', () => {
  it('repeated loads leave no tensors behind', async () => {
    const path = file('flowers-memory.csv', delimited(','));
    const spec = { ...base, path, onMissing: 'mean' as const, columns: { target: 'species', weights: undefined } };
    disposeUserData(await load(spec));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) disposeUserData(await load(spec, i));
    await inputError(load({ path: file('leak-missing.csv', 'x,y\n1,a\nNA,b\n'), columns: { target: 'y' } }));
    expect(tf.memory().numTensors).toBe(before);
  });
});
