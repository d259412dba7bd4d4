// Every publishable workspace package carries what npm and its readers need — license, repository, homepage, bugs,
// keywords, engines, types, author — and its tarball holds a LICENSE, a README, the built entry point with its types
// and no tests. `npm pack --dry-run` lists what `npm publish` would upload, without writing a tarball.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const REPOSITORY = 'git+https://github.com/fitstream/fitstream.git';
/** Private workspaces: never published, so exempt from these rules. Any other workspace is published. */
const PRIVATE = ['@fitstream/bench', '@fitstream/examples'];

interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly description?: string;
  readonly license?: string;
  readonly author?: string;
  readonly keywords?: readonly string[];
  readonly homepage?: string;
  readonly bugs?: { readonly url?: string };
  readonly repository?: { readonly type?: string; readonly url?: string; readonly directory?: string };
  readonly engines?: { readonly node?: string };
  readonly types?: string;
  readonly bin?: Readonly<Record<string, string>>;
  readonly exports?: { readonly '.'?: { readonly types?: string; readonly default?: string } };
  readonly publishConfig?: { readonly access?: string };
}

/** The workspace folders the root package.json names (`packages/*`, `apps/*`, `examples`). */
function workspaceDirs(): string[] {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  return workspaces.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, parent, d.name, 'package.json')))
      .map((d) => `${parent}/${d.name}`);
  });
}

const workspaces = workspaceDirs().map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest }));
const publishable = workspaces.filter((w) => !w.manifest.private);

describe('workspace manifests', () => {
  it('only the bench and the examples are private: every other workspace is published', () => {
    expect(workspaces.filter((w) => w.manifest.private).map((w) => w.manifest.name).sort()).toEqual(PRIVATE);
    expect(publishable.map((w) => w.manifest.name)).toContain('@fitstream/cli');
  });

  it.each(publishable.map((w) => [w.manifest.name, w] as const))('%s has the metadata npm shows and needs', (_name, { dir, manifest }) => {
    expect(manifest.license, 'license').toBe('MIT');
    expect(manifest.author, 'author').toBe('fitstream contributors');
    expect(manifest.description?.length ?? 0, 'description').toBeGreaterThan(20);
    expect(manifest.repository, 'repository').toEqual({ type: 'git', url: REPOSITORY, directory: dir });
    expect(manifest.homepage, 'homepage').toBe(`https://github.com/fitstream/fitstream/tree/main/${dir}#readme`);
    expect(manifest.bugs?.url, 'bugs.url').toBe('https://github.com/fitstream/fitstream/issues');
    // Specific keywords: the project's, and at least three that say what this package does.
    expect(manifest.keywords, 'keywords').toContain('fitstream');
    expect(new Set(manifest.keywords).size, 'distinct keywords').toBeGreaterThanOrEqual(4);
    expect(manifest.engines?.node, 'engines.node').toBe('>=20.19');
    expect(manifest.publishConfig?.access, 'publishConfig.access').toBe('public');
    // Top-level types (older resolvers and tools read it) agree with the exports map.
    expect(manifest.types, 'types').toMatch(/^\.\/dist\/.+\.d\.ts$/);
    expect(manifest.exports?.['.']?.types, 'exports["."].types').toBe(manifest.types);
    expect(existsSync(join(root, dir, 'README.md')), 'README.md').toBe(true);
    expect(readFileSync(join(root, dir, 'LICENSE'), 'utf8'), 'LICENSE (a copy of the root one)').toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
  });
});

interface PackListing {
  readonly name: string;
  readonly files: readonly { readonly path: string }[];
}

describe('npm pack of every publishable package', () => {
  const listings = new Map<string, readonly string[]>();
  beforeAll(async () => {
    const run = promisify(execFile);
    // In parallel: each is ~1 s of npm start-up.
    await Promise.all(
      publishable.map(async ({ dir, manifest }) => {
        const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(root, dir), timeout: 60_000, env: { ...process.env, npm_config_loglevel: 'error' } });
        const [listing] = JSON.parse(stdout) as PackListing[];
        listings.set(manifest.name, listing!.files.map((f) => f.path));
      }),
    );
  }, 90_000);

  it.each(publishable.map((w) => [w.manifest.name, w] as const))('%s: LICENSE, README, built entry and types, no tests', (name, { dir, manifest }) => {
    const files = listings.get(name)!;
    const entry = manifest.exports?.['.']?.default?.replace(/^\.\//, '');
    const types = manifest.types?.replace(/^\.\//, '');
    const built = `${entry} is missing from the tarball: build first (npm run build at the repository root)`;
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files, built).toContain(entry);
    expect(files, built).toContain(types);
    expect(files.filter((f) => /\.test(-d)?\.[cm]?[jt]s$|(^|\/)test-support\//.test(f)), 'test files').toEqual([]);
    for (const bin of Object.values(manifest.bin ?? {})) {
      const path = bin.replace(/^\.\//, '');
      expect(files, `bin ${path}`).toContain(path);
      // The bin runs the built CLI of the same tarball.
      const script = readFileSync(join(root, dir, path), 'utf8');
      expect(script.startsWith('#!/usr/bin/env node\n'), `${path} starts with a node shebang`).toBe(true);
      const imported = /import\('(\.\.\/dist\/[^']+)'\)/.exec(script)?.[1];
      expect(imported && files.includes(relative(dir, join(dir, dirname(path), imported))), `${path} imports a file of the tarball`).toBe(true);
    }
  });
});
