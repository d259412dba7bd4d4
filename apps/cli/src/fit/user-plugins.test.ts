// Issue 20: the user's own plugins in a fit configuration's lists — `callbacks: [{ use: ../plugins/epoch-file.ts,
// with: { … } }]` loads the module (TypeScript through tsx, relative to the config file), calls its factory with
// `with:` and uses the plugin; a logger built with @fitstream/callbacks' createLogger (the documented tracker
// interface) logs the run. Refusals name the entry and the fix. The program runs in-process (main), on the cpu backend.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Random } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../program.js';
import { resolveConfig } from '../run/session.js';
import type { TrainSummary } from '../recipes/recipe.js';

// Inside the repository (ignored by git) so that the plugin modules' `import … from '@fitstream/callbacks'` resolves
// through the workspace's node_modules, as it does in a project that installed @fitstream/cli.
const cache = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '.cache');
let dir: string;

async function fitstream(...args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err: err.join('\n') };
}

const EPOCH_FILE = `import { appendFileSync } from 'node:fs';
import { createLogger } from '@fitstream/callbacks';

/** with: a JSON Schema the CLI checks before the factory runs. */
export const optionsSchema = { type: 'object', properties: { file: { type: 'string' }, every: { type: 'integer', minimum: 1 } }, required: ['file'], additionalProperties: false };

export default (options: { file: string; every?: number }, context: { log(line: string): void }) => {
  if (options.every === 3) throw new Error('every: 3 is not allowed here, use 1 or 2');
  context.log('epoch-file: logging to ' + options.file);
  return createLogger({
    name: 'epoch-file',
    records: 'epoch',
    write: (record) => {
      if (record.type === 'epoch:end' && record.epoch % (options.every ?? 1) === 0) appendFileSync(options.file, record.epoch + ' ' + record.metrics['val_loss'] + '\\n');
    },
  });
};
`;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await mkdir(cache, { recursive: true });
  dir = await mkdtemp(join(cache, 'user-plugins-'));
  await mkdir(join(dir, 'plugins'));
  await mkdir(join(dir, 'configs'));
  await writeFile(join(dir, 'plugins', 'epoch-file.ts'), EPOCH_FILE);
  await writeFile(join(dir, 'plugins', 'nothing.mjs'), 'export const helper = 1;\n');
  await writeFile(join(dir, 'plugins', 'not-a-plugin.js'), 'export const plugin = () => ({ label: "x" });\n');
  const random = Random.fromSeed(5);
  const rows = Array.from({ length: 120 }, (_, i) => `${(2 * (i % 2) + 0.5 * random.normal()).toFixed(3)},${random.normal().toFixed(3)},${i % 2 ? 'yes' : 'no'}`);
  await writeFile(join(dir, 'data.csv'), ['a,b,label', ...rows].join('\n') + '\n');
  const model = { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { name: 'm', layers: [{ class_name: 'Dense', config: { name: 'out', units: 2, activation: 'softmax', batch_input_shape: [null, 2] } }] } } };
  await writeFile(join(dir, 'model.json'), JSON.stringify(model));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

/** A config file in configs/ (module paths in it are relative to configs/), with the given lists. */
async function config(name: string, lists: string): Promise<string> {
  const path = join(dir, 'configs', name);
  await writeFile(path, `model: ${join(dir, 'model.json')}\ndata: { path: ${join(dir, 'data.csv')}, columns: { target: label } }\nepochs: 3\nbatchSize: 16\nlr: 0.05\nbackend: cpu\nout: ${join(dir, 'runs')}\n${lists}`);
  return path;
}

describe('callbacks: [{ use: ./my-logger.ts, with: { … } }]', () => {
  it('loads the TypeScript module relative to the config file, builds its createLogger logger from with:, and logs every epoch', async () => {
    const log = join(dir, 'epochs.txt');
    const path = await config('logger.yaml', `callbacks:\n  - { use: progressBar, with: { enabled: false } }\n  - use: ../plugins/epoch-file.ts\n    with: { file: ${log} }\n`);
    const ran = await fitstream('fit', path, '--json');
    expect(ran.code, ran.err).toBe(0);
    const summary = JSON.parse(ran.out.at(-1)!) as TrainSummary;
    expect(summary).toMatchObject({ epochs: 3, reason: 'completed' });
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.map((l) => Number(l.split(' ')[0]))).toEqual([0, 1, 2]);
    expect(lines.every((l) => Number.isFinite(Number(l.split(' ')[1])))).toBe(true);
    // Recorded absolute, so that resume, evaluate and predict find the module from anywhere.
    const checked = await fitstream('fit', path, '--check');
    expect(checked.code, checked.err).toBe(0);
    expect(checked.out.join('\n')).toMatch(/the configuration is valid \(.*logger\.yaml\): 3 epochs of/);
    const recorded = JSON.parse(await readFile(join(summary.runDir, 'config.json'), 'utf8')) as { callbacks: Array<{ use: string }> };
    expect(recorded.callbacks[1]!.use).toBe(join(dir, 'plugins', 'epoch-file.ts'));
  });

  it('as a sweep\'s base (resolveConfig with recipe: fit), the module is relative to the config file too', async () => {
    const path = await config('sweep-base.yaml', `recipe: fit\ncallbacks:\n  - use: ../plugins/epoch-file.ts\n    with: { file: x.txt }\n`);
    const { config: resolved } = await resolveConfig(path, { lr: 0.01 });
    expect((resolved as unknown as { callbacks: Array<{ use: string }> }).callbacks[0]!.use).toBe(join(dir, 'plugins', 'epoch-file.ts'));
  });

  it('refuses, with exit 2 and the entry: a missing file, a module without a factory, a factory that is not one, options its schema or its factory refuses', async () => {
    const missing = await fitstream('fit', await config('missing.yaml', 'callbacks:\n  - earlyStopping\n  - ./nowhere/logger.ts\n'), '--check');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/callbacks\[1\]\.use: .*configs\/nowhere\/logger\.ts: no such file\. A relative path is relative to the config file's directory/);

    const none = await fitstream('fit', await config('none.yaml', 'regularisers:\n  - use: ../plugins/nothing.mjs\n'), '--print-config');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/regularisers\[0\]\.use: .*nothing\.mjs exports no plugin factory \(found: helper\)\. Export one: `export default \(options, context\) =>/);

    const notPlugin = await fitstream('fit', await config('not-plugin.yaml', 'sampler: ../plugins/not-a-plugin.js\n'), '--print-config');
    expect(notPlugin.code).toBe(2);
    expect(notPlugin.err).toMatch(/sampler\.use: the plugin factory of .*not-a-plugin\.js returned an object with label, not a plugin\. Return one synchronously: \{ name, register\?\(registry\), attach\?\(events\$, control\) \}/);

    const options = await fitstream('fit', await config('options.yaml', 'callbacks:\n  - use: ../plugins/epoch-file.ts\n    with: { fille: x.txt }\n'), '--print-config');
    expect(options.code).toBe(2);
    expect(options.err).toMatch(/callbacks\[0\]\.with\.file: missing \(required\)\./);
    expect(options.err).toMatch(/callbacks\[0\]\.with: unknown option "fille"\. Allowed: file, every\. Did you mean "file"\?/);

    const threw = await fitstream('fit', await config('threw.yaml', 'callbacks:\n  - use: ../plugins/epoch-file.ts\n    with: { file: x.txt, every: 3 }\n'), '--print-config');
    expect(threw.code).toBe(2);
    expect(threw.err).toMatch(/callbacks\[0\]\.with: the plugin factory of .*epoch-file\.ts threw: every: 3 is not allowed here, use 1 or 2/);
  });
});
