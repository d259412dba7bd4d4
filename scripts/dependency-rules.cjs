// The repository's import rules for dependency-cruiser (.dependency-cruiser.cjs applies them to this repository; they
// run as `npm run lint:deps`, part of `npm run lint`):
//   1. no import cycle anywhere, between files of one package or across packages;
//   2. inside @fitstream/core, each folder imports only folders below it (CORE_LAYERS, lowest first);
//   3. a workspace imports another workspace only when its package.json declares it (dependencies, peerDependencies,
//      or devDependencies for tests), and never its internals (`<package>/src/internal/...` from outside);
//   4. an npm package is imported only when the importing workspace's package.json declares it.
// docs/concepts/architecture.md draws the package edges; apps/cli/src/architecture.test.ts compares that picture with
// the manifests and runs these rules on a small repository with one violation of each kind.
const { readFileSync, readdirSync, existsSync } = require('node:fs');
const { join } = require('node:path');

/** Core's folders under src/internal, lowest first: a folder may import itself and the folders before it. */
const CORE_LAYERS = ['di', 'events', 'model', 'learning-rate', 'checkpoint', 'plugin', 'training'];

const TESTS = '\\.test\\.ts$|\\.test-d\\.ts$|/test-support/';
/** What the root package.json provides to every workspace's tests and configs. */
const ROOT_TOOLING = '^node_modules/(vitest|typescript|@vitest/[^/]+|dependency-cruiser)/';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The workspaces under `root` (packages/*, apps/*, examples) with their manifests. */
function workspacesOf(root) {
  return ['packages', 'apps']
    .flatMap((group) => (existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => `${group}/${name}`) : []))
    .concat(['examples'])
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) }));
}

/** Rule 3: for each workspace, the other workspaces its sources (and, with dev dependencies, its tests) may import. */
function workspaceRules(workspaces) {
  const dirOf = new Map(workspaces.map((w) => [w.manifest.name, w.dir]));
  const rules = [];
  for (const { dir, manifest } of workspaces) {
    const declared = (kinds) => kinds.flatMap((k) => Object.keys(manifest[k] ?? {})).filter((n) => dirOf.has(n)).map((n) => dirOf.get(n));
    const runtime = [dir, ...declared(['dependencies', 'peerDependencies'])];
    const all = [...runtime, ...declared(['devDependencies'])];
    const others = (allowed) => `^(?!(${allowed.map(escape).join('|')})/)(packages/[^/]+|apps/[^/]+|examples)/`;
    rules.push({
      name: 'workspace-not-declared',
      comment: `${manifest.name} imports a workspace package that its package.json does not declare (dependencies or peerDependencies).`,
      severity: 'error',
      from: { path: `^${escape(dir)}/`, pathNot: TESTS },
      to: { path: others(runtime) },
    });
    rules.push({
      name: 'workspace-not-declared-in-tests',
      comment: `A test of ${manifest.name} imports a workspace package that its package.json does not declare (devDependencies count for tests).`,
      severity: 'error',
      from: { path: `^${escape(dir)}/.*(${TESTS})` },
      to: { path: others(all) },
    });
  }
  return rules;
}

/** Rule 2: one rule per core folder, naming the folders above it. */
function coreLayerRules() {
  return CORE_LAYERS.slice(0, -1).map((layer, i) => ({
    name: 'core-upward-import',
    comment: `core's ${layer}/ imports a folder above it (${CORE_LAYERS.slice(i + 1).join(', ')}); move the shared piece down. Order: ${CORE_LAYERS.join(' < ')}.`,
    severity: 'error',
    from: { path: `^packages/core/src/internal/${escape(layer)}/`, pathNot: TESTS },
    to: { path: `^packages/core/src/(index\\.ts$|test-support/|internal/(${CORE_LAYERS.slice(i + 1).map(escape).join('|')})/)` },
  }));
}

/**
 * The configuration for the repository at `root` (the workspaces' manifests are read from there).
 * @returns {import('dependency-cruiser').IConfiguration}
 */
function configFor(root) {
  return {
    forbidden: [
      {
        name: 'no-circular',
        comment: 'An import cycle: the modules in it cannot be understood, tested or moved one at a time. Move the shared piece below both.',
        severity: 'error',
        from: {},
        to: { circular: true },
      },
      ...coreLayerRules(),
      {
        name: 'core-unknown-folder',
        comment: `A folder of core's src/internal that CORE_LAYERS (scripts/dependency-rules.cjs) does not place: add it to the order.`,
        severity: 'error',
        from: { path: '^packages/core/src/internal/', pathNot: `^packages/core/src/internal/(${CORE_LAYERS.map(escape).join('|')})/` },
        to: {},
      },
      {
        name: 'no-internal-of-other-package',
        comment: "Another package's internals: import its public entry point (its exports map blocks ./internal/* anyway).",
        severity: 'error',
        from: { path: '^(packages|apps)/([^/]+)/' },
        to: { path: '^(packages|apps)/([^/]+)/src/(internal|test-support)/', pathNot: '^$1/$2/' },
      },
      ...workspaceRules(workspacesOf(root)),
      {
        name: 'npm-not-declared',
        comment: "An npm package that the importing workspace's package.json does not declare.",
        severity: 'error',
        from: {},
        to: {
          dependencyTypes: ['npm-no-pkg', 'npm-unknown'],
          dependencyTypesNot: ['npm', 'npm-dev', 'npm-peer', 'npm-optional'],
          pathNot: ROOT_TOOLING,
        },
      },
      {
        name: 'root-tooling-outside-tests',
        comment: "The root package.json's test and build tools (vitest, typescript) are for tests and configs, not for a package's code.",
        severity: 'error',
        from: { pathNot: `${TESTS}|(^|/)vitest\\.(config|shared)\\.ts$|^scripts/` },
        to: { path: ROOT_TOOLING },
      },
      {
        name: 'not-to-dev-dep',
        comment: "A package's code imports an npm package its package.json lists only in devDependencies: users will not have it. Make it a dependency or a peer.",
        severity: 'error',
        from: { path: '^(packages|apps)/[^/]+/src/', pathNot: TESTS },
        to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['npm', 'npm-peer', 'npm-optional'] },
      },
      {
        name: 'not-to-unresolvable',
        comment: 'An import that does not resolve.',
        severity: 'error',
        from: {},
        to: { couldNotResolve: true },
      },
    ],
    options: {
      doNotFollow: { path: 'node_modules' },
      exclude: { path: '^(packages|apps)/[^/]+/(dist|coverage|node_modules)/|^examples/(node_modules|[^/]+/dist)/' },
      tsPreCompilationDeps: true,
      tsConfig: { fileName: 'tsconfig.base.json' },
      combinedDependencies: false,
      enhancedResolveOptions: {
        exportsFields: ['exports'],
        conditionNames: ['@fitstream/source', 'import', 'types', 'node', 'default'],
        extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
        mainFields: ['module', 'main', 'types'],
      },
      builtInModules: { add: [] },
    },
  };
}

module.exports = { configFor, CORE_LAYERS };
