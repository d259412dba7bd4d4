// `fitstream init` through the real bin: the starter project it writes, its refusal to overwrite, and that `fitstream
// fit` trains the project as written (and from load-data.ts) in the project's directory.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliSandbox, parseSummary } from '../test-support/cli.js';
import { STARTER_FILES } from './templates.js';

const sandbox = new CliSandbox();
const FILES = ['fitstream.yaml', 'model.ts', 'data.csv', 'load-data.ts', 'README.md', '.gitignore'];

beforeAll(() => sandbox.create());
afterAll(() => sandbox.remove());

const digest = async (dir: string) => {
  const hash = createHash('sha256');
  for (const f of (await readdir(dir)).sort()) hash.update(f).update(await readFile(join(dir, f)).catch(() => Buffer.from('<dir>')));
  return hash.digest('hex');
};

interface InitJson {
  dir: string;
  files: { path: string; bytes: number; about: string; overwritten: boolean }[];
}

describe('fitstream init', () => {
  let project = '';

  beforeAll(async () => {
    project = join(sandbox.dir, 'iris-project');
    const run = await sandbox.run('init', 'iris-project', '--json');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as InitJson;
    expect(result.dir).toBe(project);
    expect(result.files.map((f) => f.path)).toEqual(FILES);
    expect(result.files.every((f) => f.bytes > 0 && f.about !== '' && !f.overwritten)).toBe(true);
  });

  it('writes the six starter files into a new directory, and nothing else', async () => {
    expect((await readdir(project)).sort()).toEqual([...FILES].sort());
    expect(STARTER_FILES.map((f) => f.path)).toEqual(FILES);
    expect(await readFile(join(project, '.gitignore'), 'utf8')).toMatch(/^runs\/$/m);
    const readme = await readFile(join(project, 'README.md'), 'utf8');
    for (const command of ['npx fitstream fit', 'npx fitstream resume', 'npx fitstream evaluate', 'npx fitstream predict', 'npx fitstream sweep']) expect(readme).toContain(command);
    for (const file of FILES.filter((f) => f !== 'README.md')) expect(readme).toContain(`\`${file}\``);
  });

  it('data.csv is the Iris data: a header, 150 rows of four measurements and a quoted species, 50 of each', async () => {
    const [header, ...rows] = (await readFile(join(project, 'data.csv'), 'utf8')).trimEnd().split('\n');
    expect(header).toBe('sepal_length,sepal_width,petal_length,petal_width,species');
    expect(rows).toHaveLength(150);
    expect(rows[0]).toBe('5.1,3.5,1.4,0.2,"setosa"');
    const species = rows.map((r) => /^(?:\d+(?:\.\d+)?,){4}"(setosa|versicolor|virginica)"$/.exec(r)?.[1]);
    expect(species.filter((s) => s === undefined)).toEqual([]);
    expect(['setosa', 'versicolor', 'virginica'].map((s) => species.filter((x) => x === s).length)).toEqual([50, 50, 50]);
  });

  it('refuses to overwrite (exit 2, naming the files, nothing changed); --force overwrites', async () => {
    await writeFile(join(project, 'model.ts'), '// my own model\n');
    const before = await digest(project);
    const refused = await sandbox.run('init', 'iris-project');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/iris-project\/fitstream\.yaml, .*iris-project\/model\.ts, .*already exist; nothing was written\. Pass --force/);
    expect(await digest(project)).toBe(before);

    const forced = await sandbox.run('init', 'iris-project', '--force', '--json');
    expect(forced.code, forced.stderr).toBe(0);
    expect((JSON.parse(forced.stdout) as InitJson).files.every((f) => f.overwritten)).toBe(true);
    expect(await readFile(join(project, 'model.ts'), 'utf8')).toBe(STARTER_FILES.find((f) => f.path === 'model.ts')!.text);
  });

  it('writes into the current directory by default, beside files of other names; a file as the directory is exit 2', async () => {
    const here = join(sandbox.dir, 'here');
    await mkdir(here);
    await writeFile(join(here, 'notes.txt'), 'mine\n');
    const inHere = new CliSandbox();
    inHere.dir = here;
    const run = await inHere.run('init');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('npx fitstream fit');
    expect((await readdir(here)).sort()).toEqual([...FILES, 'notes.txt'].sort());

    const onFile = await sandbox.run('init', join('here', 'notes.txt'));
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toMatch(/notes\.txt is a file; pass a directory/);
  });
});

describe('fitstream fit in the project init wrote', () => {
  const project = new CliSandbox();

  beforeAll(async () => {
    project.dir = join(sandbox.dir, 'trained');
    await mkdir(project.dir);
    expect((await project.run('init')).code).toBe(0);
  });

  it('trains as written to validation accuracy ≥ 0.9 and writes its run directory', async () => {
    const summary = parseSummary(await project.run('fit', '--json'));
    expect(summary.runDir.startsWith(join(project.dir, 'runs'))).toBe(true);
    expect(summary.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);
    const files = await readdir(summary.runDir);
    for (const f of ['config.json', 'events.jsonl', 'metrics.csv', 'model', 'report.html']) expect(files).toContain(f);
  }, 60_000);

  it('trains from load-data.ts instead of data.csv (--data load-data.ts)', async () => {
    const summary = parseSummary(await project.run('fit', '--data', 'load-data.ts', '--epochs', '20', '--json'));
    expect(summary.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);
  }, 60_000);
});
