// The JSON Schemas of the plugins' `with:` are generated from their option types (scripts/plugin-schemas.ts) and
// checked in: regenerating them must give the same file, so that validation and docs never drift from the packages.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pluginProblems } from './plugin-check.js';
import { PLUGINS } from './plugin-registry.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('plugin-schemas.json', () => {
  it('is what scripts/plugin-schemas.ts generates from the plugins’ option types today (else: npm run plugin-schemas -w @fitstream/cli)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(cli, 'scripts', 'plugin-schemas.ts'), '--stdout'], { cwd: cli, timeout: 60_000, maxBuffer: 16 << 20 });
    expect(stdout).toBe(await readFile(join(cli, 'src', 'fit', 'plugin-schemas.json'), 'utf8'));
  });

  it('has a schema for every plugin of the registry, and no other', async () => {
    const { plugins } = JSON.parse(await readFile(join(cli, 'src', 'fit', 'plugin-schemas.json'), 'utf8')) as { plugins: Record<string, { additionalProperties?: boolean }> };
    expect(Object.keys(plugins).sort()).toEqual(Object.keys(PLUGINS).sort());
    for (const schema of Object.values(plugins)) expect(schema.additionalProperties).toBe(false);
  });

  it('validates `with:` by type and by name before the plugin checks its own ranges', () => {
    const lists = (entry: object) => ({ callbacks: [], regularisers: [], sampler: null, ...entry });
    expect(pluginProblems(lists({ callbacks: [{ use: 'cosineDecay', with: { totalSteps: 100, warmup: { steps: 10 } } }] }))).toEqual([]);
    expect(pluginProblems(lists({ callbacks: [{ use: 'cosineDecay', with: {} }] }))).toEqual(['callbacks[0].with.totalSteps: missing (required).']);
    expect(pluginProblems(lists({ callbacks: [{ use: 'reduceLROnPlateau', with: { mode: 'maximum' } }] }))).toEqual(['callbacks[0].with.mode: "maximum" is not allowed. Allowed values: "min", "max", "auto".']);
    expect(pluginProblems(lists({ regularisers: [{ use: 'clipGradNorm', with: { maxNorm: 0 } }] }))).toEqual(['regularisers[0].with.maxNorm: must be a finite number > 0, got 0.']);
    expect(pluginProblems(lists({ sampler: { use: 'shuffleSampler', with: { seed: true } } }))[0]).toMatch(/^sampler\.with\.seed: /);
    expect(pluginProblems(lists({ sampler: { use: 'earlyStopping' } }))).toEqual(['sampler.use: earlyStopping is one of the callbacks (@fitstream/callbacks): put it under callbacks.']);
    expect(pluginProblems(lists({ callbacks: [{ use: 'tensorBoard', with: { histogramFreq: 2, logDir: 'x' } }] }))).toEqual([expect.stringMatching(/^callbacks\[0\]\.with: unknown option "logDir"/)]);
  });
});
