// Vitest global setup: the CLI tests run the real `fitstream` bin, which runs compiled JavaScript (dist/). Rebuild
// core, datasets, callbacks, samplers, regularisers, time-series, distributed, transfer and the CLI when any of their sources is newer than their build, so the tests never run stale code.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const PACKAGES = [
  { dir: 'packages/core', entry: 'dist/index.js' },
  { dir: 'packages/datasets', entry: 'dist/index.js' },
  { dir: 'packages/callbacks', entry: 'dist/index.js' },
  { dir: 'packages/samplers', entry: 'dist/index.js' },
  { dir: 'packages/regularisers', entry: 'dist/index.js' },
  { dir: 'packages/time-series', entry: 'dist/index.js' },
  { dir: 'packages/distributed', entry: 'dist/index.js' },
  { dir: 'packages/transfer', entry: 'dist/index.js' },
  { dir: 'apps/cli', entry: 'dist/main.js' },
];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'test-support') newest = Math.max(newest, newestSource(path));
    } else if (entry.name.endsWith('.ts') && !/\.test(-d)?\.ts$/.test(entry.name)) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

function builtAt(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): void {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const pkg of PACKAGES) {
    const dir = join(root, pkg.dir);
    const configs = ['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => builtAt(join(dir, f)));
    if (builtAt(join(dir, pkg.entry)) >= Math.max(newestSource(join(dir, 'src')), ...configs)) continue;
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'pipe' });
    } catch (error) {
      const output = (error as { stdout?: Buffer }).stdout?.toString() ?? String(error);
      throw new Error(`Building ${pkg.dir} for the CLI tests failed:\n${output}`);
    }
  }
}
