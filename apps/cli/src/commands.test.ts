import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_REQUIRED, findChromium, openReport } from './test-support/browser.js';
import { CliSandbox, parseSummary, type Summary } from './test-support/cli.js';

const sandbox = new CliSandbox();
let iris: Summary;

const chromium = await findChromium();
if (!chromium && !BROWSER_REQUIRED) console.warn('commands.test.ts: no Chromium found (set CHROMIUM_PATH); skipping the report.html browser check (under CI it fails instead).');

beforeAll(async () => {
  await sandbox.create();
  iris = parseSummary(await sandbox.run('train', 'iris', '--epochs', '30', '--json'));
});

afterAll(() => sandbox.remove());

describe('fitstream report', () => {
  it('regenerates report.html from events.jsonl: curves, learning rate, evaluation and confusion matrix', async () => {
    const path = join(iris.runDir, 'report.html');
    await rm(path);
    const run = await sandbox.run('report', iris.runDir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(path);
    const html = await readFile(path, 'utf8');
    expect(html).toMatch(/<svg[^>]*class="training-report"/);
    expect(html).toMatch(/loss per step/);
    expect(html).toMatch(/learning rate per step/);
    expect(html).toMatch(/Confusion matrix \(validation split, 30 samples\)/);
    expect(html).toMatch(/<th>setosa<\/th>/);
    expect(html).not.toMatch(/<script/);
  });

  it.skipIf(!chromium && !BROWSER_REQUIRED)('opens in headless Chromium without console messages or errors; every chart is drawn with labelled axes', async () => {
    if (!chromium) throw new Error('CI is set but no Chromium was found: .ci/run installs Debian\'s chromium (or set CHROMIUM_PATH).');
    const page = await openReport(chromium, join(iris.runDir, 'report.html'));
    expect(page.problems).toEqual([]);
    expect(page.text).toMatch(/Confusion matrix/);
    const titles = page.charts.map((c) => c.title.replace(/ \(.*\)$/, ''));
    expect(titles).toEqual(['loss per step', 'loss per epoch', 'accuracy per step', 'accuracy per epoch', 'learning rate per step']);
    for (const chart of page.charts) {
      expect(chart.drawnPaths, chart.title).toBeGreaterThan(0);
      expect(chart.xLabels.length, chart.title).toBeGreaterThanOrEqual(2);
      expect(chart.yLabels.length, chart.title).toBeGreaterThanOrEqual(2);
      expect(chart.xName, chart.title).toMatch(/^(step|epoch)$/);
    }
  });

  it('names a directory that is not a run', async () => {
    const run = await sandbox.run('report', sandbox.dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/is not a fitstream run directory: .*config\.json is missing/);
  });
});

describe('fitstream evaluate / predict', () => {
  it('evaluate reports the model’s loss, accuracy and confusion matrix on the validation split', async () => {
    const run = await sandbox.run('evaluate', iris.runDir, '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { samples: number; metrics: Record<string, number>; confusion: { classNames: string[]; matrix: number[][] } };
    expect(result.samples).toBe(30);
    expect(result.metrics['accuracy']).toBeCloseTo(iris.evaluation['accuracy']!, 6);
    expect(result.confusion.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(result.confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('predict reads CSV (with a header) or JSON rows of raw features and applies the run’s standardisation', async () => {
    await writeFile(join(sandbox.dir, 'flowers.csv'), 'sepal length,sepal width,petal length,petal width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n');
    const csv = await sandbox.run('predict', iris.runDir, 'flowers.csv');
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('row,species,p_setosa,p_versicolor,p_virginica');
    expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual(['setosa', 'virginica']);

    await writeFile(join(sandbox.dir, 'flowers.json'), JSON.stringify([[5.1, 3.5, 1.4, 0.2], { 'petal width': 2.3, 'petal length': 5.2, 'sepal width': 3.0, 'sepal length': 6.7 }]));
    const json = await sandbox.run('predict', iris.runDir, 'flowers.json', '--json');
    expect((JSON.parse(json.stdout) as { species: string }[]).map((r) => r.species)).toEqual(['setosa', 'virginica']);

    await writeFile(join(sandbox.dir, 'labelled.csv'), '5.1,3.5,1.4,0.2,setosa\n6.7,3.0,5.2,2.3,virginica\n');
    const evaluated = await sandbox.run('evaluate', iris.runDir, '--data', 'labelled.csv', '--json');
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ samples: 2, metrics: { accuracy: 1 } });

    await writeFile(join(sandbox.dir, 'short.csv'), '5.1,3.5,1.4\n');
    const bad = await sandbox.run('predict', iris.runDir, 'short.csv');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/rows have 3 columns; expected 4 features \(sepal length, sepal width, petal length, petal width\)/);
  });
});

describe('fitstream cv / lr-find', () => {
  it('cv housing --folds 3: k-fold cross-validation, mean ± std of the test folds', async () => {
    const run = await sandbox.run('cv', 'housing', '--folds', '3', '--epochs', '20', '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { runDir: string; folds: number; mean: Record<string, number>; std: Record<string, number> };
    expect(result.folds).toBe(3);
    expect(Object.keys(result.mean).sort()).toEqual(['loss', 'mae']);
    expect(result.mean['mae']).toBeLessThan(6); // thousands of dollars; predicting the mean gives ≈ 6.6
    const record = JSON.parse(await readFile(join(result.runDir, 'cv.json'), 'utf8')) as { splitter: string; results: unknown[] };
    expect(record.splitter).toBe('kFold');
    expect(record.results).toHaveLength(3);
  });

  it('lr-find iris suggests a learning rate and writes the plot', async () => {
    const run = await sandbox.run('lr-find', 'iris', '--lrFinder.steps', '40', '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { runDir: string; suggestion: number; steps: number };
    expect(result.suggestion).toBeGreaterThan(1e-7);
    expect(result.suggestion).toBeLessThan(10);
    expect(await readFile(join(result.runDir, 'lr-finder.svg'), 'utf8')).toMatch(/^<svg/);
  });
});
