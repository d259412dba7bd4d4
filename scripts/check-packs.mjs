#!/usr/bin/env node
// Packs every publishable workspace package, installs each tarball with its peers into an empty project, and runs the
// first ```js block of the package README there. Proves that a user who picks one package from npm can run its example,
// and that the light packages stay light: the packages listed in MUST_NOT_INSTALL are absent from that project's whole
// dependency tree (`npm ls --all`). Optional peers are not installed (as npm does not): a README example must run
// without them — the core's trains on stock WASM kernels without @fitstream/backend-wasm.
// Usage: node scripts/check-packs.mjs [package-dir ...]   (run after `npm run build`; sibling @fitstream packages that
// the chosen ones need are packed too, but only the chosen ones are tested)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

/** What a consumer of the key package must not get installed, however deep. */
const MUST_NOT_INSTALL = {
  '@fitstream/util': ['@fitstream/core', '@tensorflow/tfjs', '@tensorflow/tfjs-core', 'rxjs', 'tsyringe', 'reflect-metadata'],
  '@fitstream/datasets': ['@fitstream/core', 'rxjs', 'tsyringe', 'reflect-metadata'],
  '@fitstream/backend-wasm': ['@fitstream/core', 'rxjs', 'tsyringe', 'reflect-metadata'],
  // An optional peer: the core's example must train without it.
  '@fitstream/core': ['@fitstream/backend-wasm'],
};

const allDirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)).filter((d) => existsSync(join(d, 'package.json')));
const chosenDirs = process.argv.slice(2).length ? process.argv.slice(2).map((d) => resolve(d)) : allDirs;
const manifests = new Map([...new Set([...allDirs, ...chosenDirs])].map((d) => [d, JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'))]));
const byName = new Map([...manifests].map(([d, m]) => [m.name, d]));
const optionalPeersOf = (m) => new Set(Object.entries(m.peerDependenciesMeta ?? {}).filter(([, v]) => v.optional).map(([k]) => k));
/** The @fitstream packages `m` needs: dependencies and required peers (optional peers are the user's choice). */
const siblingsOf = (m) => Object.keys({ ...m.dependencies, ...m.peerDependencies }).filter((d) => byName.has(d) && !optionalPeersOf(m).has(d));

/** The @fitstream packages `name` needs, directly or through other @fitstream packages (dependencies and peers). */
function closure(name, seen = new Set()) {
  for (const dep of siblingsOf(manifests.get(byName.get(name)))) {
    if (seen.has(dep)) continue;
    seen.add(dep);
    closure(dep, seen);
  }
  return seen;
}

/** Every installed package name in `project`, at any depth. */
function installedNames(project) {
  const tree = JSON.parse(run('npm', ['ls', '--all', '--json'], project) || '{}');
  const names = new Set();
  // An optional peer that is not installed is listed too, without a version.
  const walk = (deps) => Object.entries(deps ?? {}).forEach(([n, d]) => d.version === undefined || (names.add(n), walk(d.dependencies)));
  walk(tree.dependencies);
  return names;
}

const chosen = [...chosenDirs].map((d) => manifests.get(d)).filter((m) => !m.private);
const toPack = new Set(chosen.flatMap((m) => [m.name, ...closure(m.name)]));
const packs = mkdtempSync(join(tmpdir(), 'fitstream-packs-'));
const tarballs = new Map();
let failed = 0;
try {
  for (const name of toPack) {
    const file = run('npm', ['pack', '--silent', '--pack-destination', packs], byName.get(name)).trim().split('\n').pop();
    tarballs.set(name, join(packs, file));
  }
  for (const manifest of chosen) {
    const { name } = manifest;
    const dir = byName.get(name);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!example) {
      console.error(`✗ ${name}: README.md has no \`\`\`js example block`);
      failed++;
      continue;
    }
    const project = mkdtempSync(join(tmpdir(), 'fitstream-consumer-'));
    try {
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      // Sibling @fitstream packages the package needs (at any depth) come from their own tarballs; the rest from the registry.
      const siblings = [...closure(name)].map((d) => tarballs.get(d));
      const optional = optionalPeersOf(manifest);
      const peers = Object.entries(manifest.peerDependencies ?? {}).filter(([p]) => !byName.has(p) && !optional.has(p)).map(([p, v]) => `${p}@${v}`);
      run('npm', ['install', '--no-package-lock', tarballs.get(name), ...siblings, ...peers], project);
      const installed = installedNames(project);
      const unwanted = (MUST_NOT_INSTALL[name] ?? []).filter((n) => installed.has(n));
      if (unwanted.length) throw new Error(`its install pulled in ${unwanted.join(', ')}, which it must not need`);
      writeFileSync(join(project, 'example.mjs'), example);
      const out = run(process.execPath, ['example.mjs'], project);
      const light = MUST_NOT_INSTALL[name] ? `\n    (${installed.size} packages installed, none of ${MUST_NOT_INSTALL[name].join(', ')})` : '';
      console.log(`✓ ${name}: README example ran from the packed tarball${light}\n${out.trim().split('\n').map((l) => `    ${l}`).join('\n')}`);
    } catch (error) {
      console.error(`✗ ${name}: ${error.message}`);
      failed++;
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(packs, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
