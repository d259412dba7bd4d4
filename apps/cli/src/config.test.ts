import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliSandbox } from './test-support/cli.js';

const sandbox = new CliSandbox();

beforeAll(() => sandbox.create());
afterAll(() => sandbox.remove());

describe('configuration: recipe defaults < config file < flags, validated with exit code 2', () => {
  it('--print-config prints the resolved configuration, dotted flags and named flags applied', async () => {
    const run = await sandbox.run('train', 'mnist', '--print-config', '--epochs', '3', '--callbacks.earlyStopping.patience', '5', '--callbacks.tensorBoard', 'false', '--data.subset=2000', '--model.filters', '[4, 8]');
    expect(run.code, run.stderr).toBe(0);
    const config = JSON.parse(run.stdout) as Record<string, unknown> & { callbacks: Record<string, Record<string, unknown>>; data: Record<string, unknown>; model: Record<string, unknown> };
    expect(config).toMatchObject({ recipe: 'mnist', epochs: 3, seed: 42, data: { subset: 2000 }, model: { filters: [4, 8] } });
    expect(config.callbacks['earlyStopping']).toMatchObject({ enabled: true, patience: 5, monitor: 'val_accuracy' });
    expect(config.callbacks['tensorBoard']!['enabled']).toBe(false);
  });

  it('reads YAML and JSON config files; flags win over the file', async () => {
    await writeFile(join(sandbox.dir, 'run.yaml'), 'recipe: iris\nepochs: 7\nlr: 0.05\ncallbacks:\n  lrSchedule:\n    type: cosineDecay\n    totalSteps: 100\n    warmup: { steps: 10 }\n');
    const run = await sandbox.run('train', 'run.yaml', '--print-config', '--lr', '0.02');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ recipe: 'iris', epochs: 7, lr: 0.02, callbacks: { lrSchedule: { type: 'cosineDecay', totalSteps: 100, warmup: { steps: 10 } } } });
    await writeFile(join(sandbox.dir, 'run.json'), JSON.stringify({ recipe: 'housing', cv: { folds: 3 } }));
    const json = await sandbox.run('train', 'run.json', '--print-config');
    expect(JSON.parse(json.stdout)).toMatchObject({ recipe: 'housing', cv: { folds: 3 } });
  });

  it.each([
    [['train', 'iris', '--callbacks.earlyStoping.patience', '5'], /unknown key "callbacks\.earlyStoping"\. Allowed keys in callbacks: progressBar, .*earlyStopping.*\. Did you mean "earlyStopping"\?/],
    [['train', 'iris', '--callbacks.earlyStopping.mode', 'maximum'], /callbacks\.earlyStopping\.mode: "maximum" is not allowed\. Allowed values: "auto", "min", "max"\./],
    [['train', 'iris', '--callbacks.earlyStopping.monitor', 'val_acc'], /callbacks\.earlyStopping\.monitor: "val_acc" is not allowed\. Allowed values: "loss", "accuracy", "val_loss", "val_accuracy"\./],
    [['train', 'iris', '--callbacks.earlyStopping.patience', '-1'], /callbacks\.earlyStopping\.patience: must be ≥ 0, got -1\./],
    [['train', 'iris', '--callbacks.lrSchedule.type', 'cosine'], /callbacks\.lrSchedule\.type: "cosine" is not allowed\. Allowed values: "none", "constantLr", .*"oneCycle"\./],
    [['train', 'iris', '--callbacks.lrSchedule.type', 'cosineDecay'], /callbacks\.lrSchedule\.totalSteps: missing; expected number\./],
    [['train', 'mnist', '--data.subset', 'all'], /data\.subset: expected number, got "all"\./],
    [['train', 'iris', '--modle.hiddenUnits', '8'], /unknown key "modle"\. Allowed keys: recipe, seed, .*\. Did you mean "model"\?/],
    [['doctor', '--callbacks.tensorBoard', 'false'], /configuration flags \(--callbacks\.tensorBoard\) apply to train, cv and lr-find only/],
  ])('fitstream %j', async (args, message) => {
    const run = await sandbox.run(...args);
    expect(run.stderr).toMatch(message);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('composes a schedule with plateau reductions (the learning-rate pipeline): oneCycle × reduceLROnPlateau trains', async () => {
    const run = await sandbox.run('train', 'iris', '--callbacks.lrSchedule.type', 'oneCycle', '--callbacks.lrSchedule.maxLr', '0.1', '--callbacks.lrSchedule.totalSteps', '100', '--callbacks.reduceLROnPlateau.enabled', '--epochs', '1', '--json');
    expect(run.code, run.stderr).toBe(0);
  });

  it('a bad config file names the file, every bad key and the allowed values', async () => {
    await writeFile(join(sandbox.dir, 'bad.yaml'), 'recipe: iris\nepochs: ten\nmodel:\n  hidden: 3\n');
    const run = await sandbox.run('train', 'bad.yaml');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/invalid configuration \(bad\.yaml\):\n {2}epochs: expected number, got "ten"\.\n {2}unknown key "model\.hidden"\. Allowed keys in model: hiddenUnits, activation\./);
    await writeFile(join(sandbox.dir, 'norecipe.json'), '{"epochs": 3}');
    const missing = await sandbox.run('train', 'norecipe.json');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/must name its recipe: "recipe": one of "iris", "mnist", "housing"/);
    await writeFile(join(sandbox.dir, 'broken.yaml'), 'recipe: [iris\n');
    expect((await sandbox.run('train', 'broken.yaml')).code).toBe(2);
    expect((await sandbox.run('train', 'absent.json')).stderr).toMatch(/cannot read the config file absent\.json/);
  });
});
