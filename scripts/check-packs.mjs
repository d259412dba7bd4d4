#!/usr/bin/env node
// Packs every publishable workspace package, installs each tarball with its peers into an empty project, and runs the
// first ```js block of the package README there. Proves that a user who picks one package from npm can run its example.
// Usage: node scripts/check-packs.mjs [package-dir ...]   (run after `npm run build`)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

const packageDirs = process.argv.slice(2).length
  ? process.argv.slice(2).map((d) => resolve(d))
  : readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)).filter((d) => existsSync(join(d, 'package.json')));
const manifests = new Map(packageDirs.map((d) => [d, JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'))]));
const byName = new Map([...manifests].map(([d, m]) => [m.name, d]));
const packs = mkdtempSync(join(tmpdir(), 'fitstream-packs-'));
const tarballs = new Map();
let failed = 0;
try {
  for (const [dir, manifest] of manifests) {
    if (manifest.private) continue;
    const file = run('npm', ['pack', '--silent', '--pack-destination', packs], dir).trim().split('\n').pop();
    tarballs.set(manifest.name, join(packs, file));
  }
  for (const [name, tarball] of tarballs) {
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
      // Sibling @fitstream packages the package needs come from their own tarballs; everything else from the registry.
      const manifest = manifests.get(dir);
      const siblings = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }).filter((d) => tarballs.has(d)).map((d) => tarballs.get(d));
      const optional = new Set(Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, v]) => v.optional).map(([k]) => k));
      const peers = Object.entries(manifest.peerDependencies ?? {}).filter(([p]) => !tarballs.has(p) && !optional.has(p)).map(([p, v]) => `${p}@${v}`);
      run('npm', ['install', '--no-package-lock', tarball, ...siblings, ...peers], project);
      writeFileSync(join(project, 'example.mjs'), example);
      const out = run(process.execPath, ['example.mjs'], project);
      console.log(`✓ ${name}: README example ran from the packed tarball\n${out.trim().split('\n').map((l) => `    ${l}`).join('\n')}`);
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
