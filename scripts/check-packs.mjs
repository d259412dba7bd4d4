#!/usr/bin/env node
// Packs every publishable workspace package, installs each tarball with its peers into an empty project, and runs the
// first ```js block of the package README there. Proves that a user who picks one package from npm can run its example,
// and that the light packages stay light: the packages listed in MUST_NOT_INSTALL are absent from that project's whole
// dependency tree (`npm ls --all`). Optional peers are not installed (as npm does not): a README example must run
// without them — the core's trains on stock WASM kernels without @fitstream/backend-wasm.
// Then, when core, callbacks, samplers and regularisers are among the chosen packages, it bundles those four tarballs
// for the browser with Vite (from the registry, at the workspace's version), without Node polyfills, and fails on any
// Node built-in, any "externalized for browser compatibility" warning and any unresolved import.
// Then the packed CLI (apps/cli, when no directory is given or it is among them): @fitstream/cli with its packed
// @fitstream packages in an empty project, where `npx fitstream --version`, `init`, `fit` on the starter project and
// `fit --model model.json --data data.csv --target label` on CSVs with quoted commas, `;` separators and a missing
// value (exit code 2 naming its row and column) must work as a user who installed it from npm sees them.
// Usage: node scripts/check-packs.mjs [package-dir ...]   (run after `npm run build`; sibling @fitstream packages that
// the chosen ones need are packed too, but only the chosen ones are tested)
import { execFileSync, spawnSync } from 'node:child_process';
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
  // Backend selection for any tfjs app (inference servers, pages): no trainer, and its optional kernels stay optional.
  '@fitstream/backends': ['@fitstream/core', 'rxjs', 'tsyringe', 'reflect-metadata', '@fitstream/backend-wasm'],
  // Checkpoints for a serving app or a page that only loads a model: no trainer.
  '@fitstream/checkpoint': ['@fitstream/core', 'rxjs', 'tsyringe', 'reflect-metadata'],
  // The maths of a step for a loop of one's own: no trainer.
  '@fitstream/losses': ['@fitstream/core', 'rxjs', 'tsyringe', 'reflect-metadata'],
  '@fitstream/optimizers': ['@fitstream/core', 'rxjs', 'tsyringe', 'reflect-metadata'],
  // An optional peer: the core's example must train without it.
  '@fitstream/core': ['@fitstream/backend-wasm'],
};

const allDirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)).filter((d) => existsSync(join(d, 'package.json')));
/** The CLI is checked by running the command (checkPackedCli), not by a README example. */
const CLI_DIR = join(root, 'apps', 'cli');
const argDirs = process.argv.slice(2).map((d) => resolve(d));
const checkCli = argDirs.length === 0 || argDirs.includes(CLI_DIR);
const chosenDirs = argDirs.length ? argDirs.filter((d) => d !== CLI_DIR) : allDirs;
const manifests = new Map([...new Set([...allDirs, ...chosenDirs, CLI_DIR])].map((d) => [d, JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'))]));
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

/** The packages a web page uses: their packed builds must bundle for the browser. */
const BROWSER_PACKAGES = ['@fitstream/core', '@fitstream/callbacks', '@fitstream/samplers', '@fitstream/regularisers'];

/** A page that trains with the four packages, and the Vite build of it that must not need Node. */
const BROWSER_ENTRY = `import * as tf from '@tensorflow/tfjs';
import { createTrainer } from '@fitstream/core';
import { earlyStopping } from '@fitstream/callbacks';
import { shuffleSampler } from '@fitstream/samplers';
import { weightPenalty } from '@fitstream/regularisers';
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1 })
  .use(earlyStopping({ monitor: 'loss', patience: 2 }))
  .use(shuffleSampler({ seed: 2 }))
  .use(weightPenalty({ l2: 1e-4 }));
const x = tf.randomNormal([32, 4], 0, 1, 'float32', 1);
const y = tf.oneHot(tf.argMax(x.slice([0, 0], [32, 3]), 1), 3).toFloat();
trainer.fit({ x, y }, { epochs: 2, batchSize: 8, handleSignals: false }).then((r) => (document.body.textContent = r.reason));
`;
const BROWSER_BUILD = `import { build } from 'vite';
import { isBuiltin } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
const problems = [];
function browserFieldDrops(importer, id) {
  for (let dir = dirname(importer); dir !== dirname(dir); dir = dirname(dir)) {
    if (!existsSync(join(dir, 'package.json'))) continue;
    const browser = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).browser;
    return typeof browser === 'object' && browser !== null && browser[id] === false;
  }
  return false;
}
const note = (m) => /externalized for browser compatibility|failed to resolve|could not be resolved|UNRESOLVED_IMPORT/i.test(m) && problems.push(m);
await build({
  configFile: false, logLevel: 'silent',
  customLogger: { info() {}, warn: note, warnOnce: note, error: note, clearScreen() {}, hasErrorLogged: () => false, hasWarned: false },
  plugins: [{ name: 'no-node-builtins', enforce: 'pre', resolveId(id, importer) {
    // A bare built-in that the importing package's own browser field maps to false (tfjs' Node paths) is its declared
    // browser build, not a polyfill: allowed. Anything else, and every node: import, is not.
    if (isBuiltin(id) && importer && (id.startsWith('node:') || !browserFieldDrops(importer, id))) problems.push(id + ' imported by ' + importer);
    return null;
  } }],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 1e9 },
});
if (problems.length) { console.error(problems.join('\\n')); process.exit(1); }
const files = readdirSync('dist/assets').filter((f) => f.endsWith('.js'));
const raw = files.reduce((a, f) => a + readFileSync('dist/assets/' + f).length, 0);
const gzip = files.reduce((a, f) => a + gzipSync(readFileSync('dist/assets/' + f)).length, 0);
console.log(files.length + ' chunks, ' + (raw / 1024).toFixed(0) + ' KiB raw, ' + (gzip / 1024).toFixed(0) + ' KiB gzip (tfjs included)');
`;

/**
 * Installs the packed core, callbacks, samplers and regularisers (with their packed siblings and their required peers
 * from the registry) and Vite at the workspace's version into an empty project, and builds a page that trains with
 * them. True when the build needed nothing from Node.
 */
function bundleForBrowser() {
  const project = mkdtempSync(join(tmpdir(), 'fitstream-browser-'));
  try {
    const names = new Set(BROWSER_PACKAGES.flatMap((n) => [n, ...closure(n)]));
    for (const name of names) {
      if (!tarballs.has(name)) tarballs.set(name, join(packs, run('npm', ['pack', '--silent', '--pack-destination', packs], byName.get(name)).trim().split('\n').pop()));
    }
    const peers = new Set(
      [...names].flatMap((n) => {
        const m = manifests.get(byName.get(n));
        return Object.entries(m.peerDependencies ?? {}).filter(([p]) => !byName.has(p) && !optionalPeersOf(m).has(p)).map(([p, v]) => `${p}@${v}`);
      }),
    );
    const vite = JSON.parse(readFileSync(join(root, 'node_modules', 'vite', 'package.json'), 'utf8')).version;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'browser-consumer', private: true, type: 'module' }));
    run('npm', ['install', '--no-package-lock', ...[...names].map((n) => tarballs.get(n)), ...peers, `vite@${vite}`], project);
    writeFileSync(join(project, 'index.html'), '<!doctype html><html><body><script type="module" src="./main.js"></script></body></html>');
    writeFileSync(join(project, 'main.js'), BROWSER_ENTRY);
    writeFileSync(join(project, 'build.mjs'), BROWSER_BUILD);
    const out = run(process.execPath, ['build.mjs'], project);
    console.log(`✓ ${BROWSER_PACKAGES.join(', ')}: the packed packages bundle for the browser with Vite ${vite} (es2022, no Node built-in)\n    ${out.trim()}`);
    return true;
  } catch (error) {
    console.error(`✗ browser bundle of ${BROWSER_PACKAGES.join(', ')}: ${error.message}`);
    return false;
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

/** A tiny seeded generator for the script's data (LCG): the same rows on every run, no Math.random. */
function lcg(seed) {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** 120 rows: two numbers, a city whose quoted name holds a comma, and a label (quoted, with a comma) from the numbers. */
function quotedRows() {
  const next = lcg(7);
  const cities = ['Paris, France', 'Lyon, France', 'Nice, France'];
  const rows = [];
  for (let i = 0; i < 120; i++) {
    const a = Number((next() * 4 - 2).toFixed(3));
    const b = Number((next() * 4 - 2).toFixed(3));
    rows.push({ a, b, city: cities[i % 3], label: a + b > 0 ? 'yes, above' : 'no, below' });
  }
  return rows;
}

const csvOf = (rows, sep) => [['a', 'b', 'city', 'label'].join(sep), ...rows.map((r) => [r.a, r.b, `"${r.city}"`, `"${r.label}"`].join(sep))].join('\n') + '\n';

/** A tfjs layers model.json without weights: 5 inputs (a, b and the three one-hot cities), 2 classes. */
const MODEL_JSON = JSON.stringify({
  format: 'layers-model',
  modelTopology: {
    class_name: 'Sequential',
    config: {
      name: 'packed_cli_check',
      layers: [
        { class_name: 'Dense', config: { name: 'hidden', units: 8, activation: 'relu', batch_input_shape: [null, 5], dtype: 'float32' } },
        { class_name: 'Dense', config: { name: 'out', units: 2, activation: 'softmax', dtype: 'float32' } },
      ],
    },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  },
});

/**
 * Installs the packed @fitstream/cli with its packed @fitstream packages (everything else from the registry) into an
 * empty project and runs the command there through npx, as a user who installed it from npm would: --version, init,
 * fit on the starter project, and fit --model --data --target on CSVs made here (quoted fields with commas; the same
 * `;`-separated; one missing value, which must exit with 2 naming its row and column). True when all of it worked.
 */
function checkPackedCli() {
  const project = mkdtempSync(join(tmpdir(), 'fitstream-cli-'));
  const started = performance.now();
  const cli = manifests.get(CLI_DIR);
  const step = (what) => console.log(`    ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s  ${what}`);
  try {
    const names = new Set([cli.name, ...closure(cli.name)]);
    for (const name of names) {
      if (!tarballs.has(name)) tarballs.set(name, join(packs, run('npm', ['pack', '--silent', '--pack-destination', packs], byName.get(name)).trim().split('\n').pop()));
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cli-consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-package-lock', ...[...names].map((n) => tarballs.get(n))], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });
    step(`installed ${cli.name} and ${names.size - 1} @fitstream packages from their tarballs`);
    /**
     * `npx fitstream …` in `cwd` (`--no`: the project's own node_modules/.bin/fitstream, never a download; `--`: the
     * rest is fitstream's, `--version` included), bounded in time, its output kept (and shown only when it does not
     * end with exit code `code`).
     */
    const npx = (cwd, args, code = 0) => {
      const result = spawnSync('npx', ['--no', '--', 'fitstream', ...args], { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, CI: '1', npm_config_update_notifier: 'false' } });
      if (result.status !== code) {
        const why = result.error ? result.error.message : `exited with ${result.status ?? result.signal}, not ${code}`;
        throw new Error(`npx fitstream ${args.join(' ')} ${why}:\n${`${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-30).join('\n')}`);
      }
      return result;
    };
    const version = npx(project, ['--version']).stdout.trim();
    if (version !== cli.version) throw new Error(`npx fitstream --version printed ${JSON.stringify(version)}, not ${cli.version}`);
    step(`npx fitstream --version: ${version}`);
    npx(project, ['init', 'starter']);
    const fit = (cwd, ...args) => JSON.parse(npx(cwd, ['fit', '--json', ...args]).stdout.trim().split('\n').pop());
    const starter = fit(join(project, 'starter'), '--epochs', '5');
    step(`npx fitstream init; npx fitstream fit --epochs 5: validation accuracy ${starter.evaluation.accuracy.toFixed(3)} on ${starter.backend}`);

    const rows = quotedRows();
    writeFileSync(join(project, 'model.json'), MODEL_JSON);
    writeFileSync(join(project, 'data.csv'), csvOf(rows, ','));
    writeFileSync(join(project, 'data-semicolon.csv'), csvOf(rows, ';'));
    const flags = (data) => ['--model', 'model.json', '--data', data, '--target', 'label', '--lr', '0.05'];
    const quoted = fit(project, ...flags('data.csv'), '--epochs', '20');
    const classes = JSON.parse(readFileSync(join(quoted.runDir, 'evaluation.json'), 'utf8')).confusion?.classNames;
    if (JSON.stringify(classes) !== JSON.stringify(['no, below', 'yes, above'])) throw new Error(`the quoted labels were read as ${JSON.stringify(classes)}, not ["no, below", "yes, above"]`);
    if (!(quoted.evaluation.accuracy >= 0.8)) throw new Error(`fit on data.csv reached validation accuracy ${quoted.evaluation.accuracy}, not ≥ 0.8: were the columns read right?`);
    step(`fit --model model.json --data data.csv --target label (quoted fields with commas): classes ${JSON.stringify(classes)}, validation accuracy ${quoted.evaluation.accuracy.toFixed(3)}`);
    const semicolon = fit(project, ...flags('data-semicolon.csv'), '--epochs', '20');
    const weights = (run) => readFileSync(join(run.runDir, 'model', 'weights.bin'));
    if (!weights(semicolon).equals(weights(quoted))) throw new Error('the ;-separated file trained to other weights than the ,-separated one: they hold the same data');
    step(`the same data ;-separated: the same weights, byte for byte`);

    // Row 7 (counted from 1 after the header) loses its b.
    const lines = csvOf(rows, ',').split('\n');
    lines[7] = lines[7].replace(/^([^,]*),[^,]*,/, '$1,,');
    writeFileSync(join(project, 'data-missing.csv'), lines.join('\n'));
    const { stderr } = npx(project, ['fit', ...flags('data-missing.csv'), '--epochs', '1'], 2);
    if (!stderr.includes('row 7, column "b"')) throw new Error(`a missing value exited with 2 but did not name row 7, column "b":\n${stderr}`);
    step(`a missing value: exit code 2, ${JSON.stringify(stderr.trim().split('\n').find((l) => /missing/i.test(l)) ?? stderr.trim().split('\n')[0])}`);
    console.log(`✓ ${cli.name}: the packed CLI installs from its tarballs and runs --version, init, fit and fit --model --data --target (quoted commas, ;, a missing value) (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    return true;
  } catch (error) {
    console.error(`✗ ${cli.name}: ${error.message}`);
    return false;
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
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
  if (BROWSER_PACKAGES.every((n) => chosen.some((m) => m.name === n))) failed += bundleForBrowser() ? 0 : 1;
  if (checkCli) failed += checkPackedCli() ? 0 : 1;
} finally {
  rmSync(packs, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
