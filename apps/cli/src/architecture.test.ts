// The package picture in docs/concepts/architecture.md must match the manifests, the package graph must have no cycle,
// and the import rules (scripts/dependency-rules.cjs, run by `npm run lint:deps`) must catch each kind of violation.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const rules = createRequire(import.meta.url)(join(root, 'scripts', 'dependency-rules.cjs')) as { configFor(root: string): IConfiguration };

interface Manifest {
  readonly name: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
}

function manifests(): Manifest[] {
  const dirs = ['packages', 'apps'].flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name))).concat([join(root, 'examples')]);
  return dirs.filter((d) => existsSync(join(d, 'package.json'))).map((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as Manifest);
}

/** `from -> to (required|optional)` for every @fitstream package a manifest declares at run time. */
function declaredEdges(all: readonly Manifest[]): string[] {
  const names = new Set(all.map((m) => m.name));
  return all.flatMap((m) =>
    Object.keys({ ...m.dependencies, ...m.peerDependencies })
      .filter((dep) => names.has(dep))
      .map((dep) => `${m.name} -> ${dep} (${m.peerDependenciesMeta?.[dep]?.optional ? 'optional' : 'required'})`),
  );
}

/** The same, read from the mermaid block: nodes `id["@fitstream/x …"]`, edges `a --> b`, `a -- label --> b`, `a -.-> b`. */
function drawnEdges(markdown: string): string[] {
  const block = /```mermaid\n([\s\S]*?)```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error('no ```mermaid block');
  const nodes = new Map([...block.matchAll(/^\s*(\w+)\["(@fitstream\/[\w-]+)[^"]*"\]\s*$/gm)].map((m) => [m[1]!, m[2]!]));
  const edges: string[] = [];
  for (const line of block.split('\n').map((l) => l.trim())) {
    const m = /^(\w+)\s+(-->|-\.->|--\s+[^-]+\s+-->|-\.\s+[^.]+\s+\.->)\s+(\w+)$/.exec(line);
    if (!m) continue;
    const [from, to] = [nodes.get(m[1]!), nodes.get(m[3]!)];
    if (from === undefined || to === undefined) throw new Error(`architecture.md: edge "${line}" names a node that is not declared`);
    edges.push(`${from} -> ${to} (${m[2]!.startsWith('-.') ? 'optional' : 'required'})`);
  }
  return edges;
}

/** A cycle among the packages, as a path, or undefined. */
function packageCycle(edges: readonly string[]): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const [from, to] = e.replace(/ \(.*\)$/, '').split(' -> ') as [string, string];
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): string[] | undefined => {
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    if (state.get(node) === 'done') return undefined;
    state.set(node, 'open');
    for (const to of next.get(node) ?? []) {
      const cycle = visit(to, [...path, node]);
      if (cycle) return cycle;
    }
    state.set(node, 'done');
    return undefined;
  };
  for (const node of next.keys()) {
    const cycle = visit(node, []);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('the package picture (docs/concepts/architecture.md)', () => {
  const all = manifests();
  const declared = declaredEdges(all).sort();

  it('parses solid, labelled and dotted mermaid arrows', () => {
    const md = '```mermaid\nflowchart TD\n  a["@fitstream/a"]\n  b["@fitstream/b (app)"]\n  a --> b\n  a -- types --> b\n  b -.-> a\n  %% a --> c\n```\n';
    expect(drawnEdges(md)).toEqual(['@fitstream/a -> @fitstream/b (required)', '@fitstream/a -> @fitstream/b (required)', '@fitstream/b -> @fitstream/a (optional)']);
  });

  it('draws exactly the edges the package.json files declare, optional peers dotted', () => {
    const drawn = drawnEdges(readFileSync(join(root, 'docs', 'concepts', 'architecture.md'), 'utf8')).sort();
    const missing = declared.filter((e) => !drawn.includes(e));
    const extra = drawn.filter((e) => !declared.includes(e));
    expect({ missingFromThePicture: missing, notInAnyManifest: extra }).toEqual({ missingFromThePicture: [], notInAnyManifest: [] });
  });

  it('has no cycle among the packages; the leaves stay leaves', () => {
    expect(packageCycle(declared)).toBeUndefined();
    const from = (name: string) => declared.filter((e) => e.startsWith(`${name} -> `));
    expect(from('@fitstream/util')).toEqual([]);
    expect(from('@fitstream/datasets')).toEqual(['@fitstream/datasets -> @fitstream/util (required)']);
    // The kernels need no trainer: util only (the own GEMM's argument errors).
    expect(from('@fitstream/backend-wasm')).toEqual(['@fitstream/backend-wasm -> @fitstream/util (required)']);
    // Checkpoints load and verify without the trainer: the core depends on them, never the other way.
    expect(from('@fitstream/checkpoint')).toEqual(['@fitstream/checkpoint -> @fitstream/util (required)']);
    // Backend selection needs no trainer; the wasm kernels are an optional peer that it loads dynamically.
    expect(from('@fitstream/backends').sort()).toEqual(['@fitstream/backends -> @fitstream/backend-wasm (optional)', '@fitstream/backends -> @fitstream/util (required)']);
    // Losses, metrics and optimizer updates work in any tfjs loop: tfjs and util only.
    expect(from('@fitstream/losses')).toEqual(['@fitstream/losses -> @fitstream/util (required)']);
    expect(from('@fitstream/optimizers')).toEqual(['@fitstream/optimizers -> @fitstream/util (required)']);
    // The core reaches the wasm kernels only through @fitstream/backends; nothing else runs from the core downwards.
    expect(from('@fitstream/core').sort()).toEqual([
      '@fitstream/core -> @fitstream/backends (required)',
      '@fitstream/core -> @fitstream/checkpoint (required)',
      '@fitstream/core -> @fitstream/losses (required)',
      '@fitstream/core -> @fitstream/optimizers (required)',
      '@fitstream/core -> @fitstream/util (required)',
    ]);
  });
});

describe('the import rules (scripts/dependency-rules.cjs)', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'fitstream-rules-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  };
  const pkg = (dir: string, manifest: object) =>
    write(`${dir}/package.json`, JSON.stringify({ type: 'module', exports: { '.': { '@fitstream/source': './src/index.ts' } }, ...manifest }));

  /** A small repository with one violation of each kind (and one clean package), cruised with the repository's rules. */
  async function violations(): Promise<string[]> {
    write('tsconfig.base.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', customConditions: ['@fitstream/source'] } }));
    pkg('packages/core', { name: '@fitstream/core' });
    write('packages/core/src/index.ts', "export { low } from './internal/model/low.js';\n");
    // upward: model/ imports training/
    write('packages/core/src/internal/model/low.ts', "import { high } from '../training/high.js';\nexport const low = high + 1;\n");
    write('packages/core/src/internal/training/high.ts', 'export const high = 1;\n');
    // a cycle inside di/
    write('packages/core/src/internal/di/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
    write('packages/core/src/internal/di/b.ts', "import { a } from './a.js';\nexport const b = () => a;\n");
    // undeclared workspace and npm imports, and another package's internals
    pkg('packages/lib', { name: '@fitstream/lib' });
    write('packages/lib/src/index.ts', "import { low } from '@fitstream/core';\nimport pad from 'left-pad';\nexport const x = pad(String(low), 3);\n");
    write('packages/lib/src/deep.ts', "export { high } from '../../core/src/internal/training/high.js';\n");
    // declared: clean
    pkg('packages/ok', { name: '@fitstream/ok', peerDependencies: { '@fitstream/core': '^0' } });
    write('packages/ok/src/index.ts', "export { low } from '@fitstream/core';\n");
    write('node_modules/left-pad/package.json', JSON.stringify({ name: 'left-pad', version: '1.0.0', main: 'index.js' }));
    write('node_modules/left-pad/index.js', 'module.exports = (s) => s;\n');
    mkdirSync(join(fixture, 'node_modules', '@fitstream'), { recursive: true });
    for (const name of ['core', 'lib', 'ok']) symlinkSync(join(fixture, 'packages', name), join(fixture, 'node_modules', '@fitstream', name), 'dir');

    const config = rules.configFor(fixture);
    const previous = process.cwd();
    process.chdir(fixture); // dependency-cruiser resolves paths and the tsconfig from the working directory
    try {
      const result = await cruise(['packages'], { ...config.options, ruleSet: { forbidden: config.forbidden ?? [] }, validate: true, baseDir: fixture });
      const output = result.output as ICruiseResult;
      return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    } finally {
      process.chdir(previous);
    }
  }

  it('report an upward import in core, a cycle, undeclared workspace and npm imports, and another package’s internals', async () => {
    const found = await violations();
    const kinds = new Set(found.map((v) => v.split(':')[0]));
    expect([...kinds].sort()).toEqual(['core-upward-import', 'no-circular', 'no-internal-of-other-package', 'npm-not-declared', 'workspace-not-declared']);
    expect(found).toContain('core-upward-import: packages/core/src/internal/model/low.ts → packages/core/src/internal/training/high.ts');
    expect(found).toContain('workspace-not-declared: packages/lib/src/index.ts → packages/core/src/index.ts');
    expect(found).toContain('npm-not-declared: packages/lib/src/index.ts → node_modules/left-pad/index.js');
    expect(found).toContain('no-internal-of-other-package: packages/lib/src/deep.ts → packages/core/src/internal/training/high.ts');
    expect(found.filter((v) => v.includes('packages/ok/'))).toEqual([]);
  });
});
