import { access, constants, readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName, type BackendSelection } from '@fitstream/core';
import { cacheDirectory } from '@fitstream/datasets';
import { checkCuda, type CudaLibraries } from '../native/cuda.js';
import { describeSource, readNativeRecord } from '../native/native-install.js';
import { packageDirectory, packageVersion, versions, wasmFeatures } from '../run/environment.js';

/** What `fitstream doctor` found out about one backend. */
export interface BackendCheck {
  readonly name: BackendName;
  /** The npm package that provides it (`null` for cpu, which ships in @tensorflow/tfjs). */
  readonly package: string | null;
  readonly installed: boolean;
  readonly version: string | null;
  /** Whether it initialised in this process. */
  readonly available: boolean;
  /** What was found, in one sentence. */
  readonly detail: string;
  /** How to make it available, when it is not. */
  readonly fix: string | null;
  /** wasm only: whether SIMD and threads are on. */
  readonly simd?: boolean;
  readonly threads?: boolean;
  /** wasm only: whether `@fitstream/backend-wasm`'s training kernels are installed in it. */
  readonly fitstreamKernels?: boolean;
  /** tensorflow backends only, when loaded: which TensorFlow runs and where it came from. */
  readonly native?: NativeBackendInfo;
}

/** Which TensorFlow a native backend loaded, from where, and the devices it places ops on. */
export interface NativeBackendInfo {
  readonly tensorflowVersion: string;
  readonly devices: readonly string[];
  /** `python` (a pip wheel) or `libtensorflow` (a C folder), as built by `fitstream native install`; `download` otherwise. */
  readonly source: 'python' | 'libtensorflow' | 'download';
  readonly libraryDir: string;
  readonly builtBy: string | null;
}

/** The report `fitstream doctor --json` prints. */
export interface DoctorReport {
  readonly node: { readonly version: string; readonly required: string; readonly ok: boolean };
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly versions: ReturnType<typeof versions>;
  readonly backends: readonly BackendCheck[];
  /** What `--backend auto` selects: the first available backend in order. */
  readonly auto: BackendName | null;
  readonly cache: { readonly directory: string; readonly writable: boolean; readonly entries: number };
  /** CUDA/cuDNN libraries the dynamic linker knows (`ldconfig -p`), for tfjs-node-gpu. */
  readonly cuda: CudaLibraries;
  /** Every `@tensorflow/tfjs-core` copy under node_modules; more than one splits tfjs' engine and kernel registry. */
  readonly tfjsCoreCopies: readonly PackageCopy[];
  /** Everything that needs fixing, each with its fix (empty when all is well). */
  readonly problems: readonly Problem[];
}

/** A problem `fitstream doctor` found, with how to fix it. */
export interface Problem {
  readonly problem: string;
  readonly fix: string;
}

/** One installed copy of a package. */
export interface PackageCopy {
  readonly path: string;
  readonly version: string;
}

/**
 * Every `@tensorflow/tfjs-core/package.json` under the given `node_modules` folders, nested ones included
 * (`node_modules/x/node_modules/@tensorflow/tfjs-core`), with its version. Symlinked workspace packages are not
 * followed, so a monorepo's own packages are not counted twice.
 */
export async function findTfjsCoreCopies(nodeModulesDirs: readonly string[]): Promise<PackageCopy[]> {
  const copies: PackageCopy[] = [];
  const seen = new Set<string>();
  const visit = async (nodeModules: string, depth: number): Promise<void> => {
    if (depth > 8 || seen.has(nodeModules)) return;
    seen.add(nodeModules);
    let entries;
    try {
      entries = await readdir(nodeModules, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const packages = entry.name.startsWith('@')
        ? (await readdir(join(nodeModules, entry.name), { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => join(entry.name, e.name))
        : [entry.name];
      for (const name of packages) {
        const dir = join(nodeModules, name);
        if (name === join('@tensorflow', 'tfjs-core')) {
          try {
            const { version } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version?: string };
            copies.push({ path: dir, version: version ?? 'unknown' });
          } catch {
            /* not a package */
          }
        }
        await visit(join(dir, 'node_modules'), depth + 1);
      }
    }
  };
  for (const dir of nodeModulesDirs) await visit(resolve(dir), 0);
  return copies;
}

/** The `node_modules` folders Node resolves from, starting at `from` (this package) up to the filesystem root. */
export function nodeModulesChain(from: string): string[] {
  const dirs: string[] = [];
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (!dir.endsWith(`${join('/', 'node_modules')}`)) dirs.push(join(dir, 'node_modules'));
    if (dirname(dir) === dir) break;
  }
  return dirs;
}

/** The exit status of `fitstream doctor`: 1 when no backend loads, else 0. */
export function doctorExitCode(report: Pick<DoctorReport, 'auto'>): number {
  return report.auto === null ? 1 : 0;
}

/** Collects the problems of a report, each with its fix. */
export function problemsOf(report: Omit<DoctorReport, 'problems'>): Problem[] {
  const problems: Problem[] = [];
  if (!report.node.ok) {
    problems.push({ problem: `Node.js ${report.node.version} is too old`, fix: `install Node.js ${report.node.required} (e.g. nvm install 20)` });
  }
  for (const b of report.backends) {
    if (!b.available && b.fix && b.installed) problems.push({ problem: `${b.name}: ${b.detail}`, fix: b.fix });
    if (b.available && b.fitstreamKernels === false && b.fix) {
      problems.push({ problem: `${b.name}: fitstream's training kernels are not installed: convolution, depthwise and embedding models cannot train on it`, fix: b.fix });
    }
  }
  if (report.auto === null) {
    problems.push({ problem: 'no tfjs backend loads: training cannot run', fix: 'reinstall @tensorflow/tfjs (its cpu backend always works), or npm install @tensorflow/tfjs-backend-wasm' });
  }
  if (report.tfjsCoreCopies.length > 1) {
    problems.push({
      problem: `${report.tfjsCoreCopies.length} copies of @tensorflow/tfjs-core are installed (${report.tfjsCoreCopies.map((c) => `${c.version} at ${c.path}`).join('; ')}): each has its own engine and kernel registry, so backends and kernels registered in one are invisible to the other`,
      fix: 'align every @tensorflow/* dependency on one version, then `npm dedupe` (check with `npm ls @tensorflow/tfjs-core`)',
    });
  }
  if (!report.cache.writable) problems.push({ problem: `dataset cache ${report.cache.directory} is not writable`, fix: 'set FITSTREAM_CACHE_DIR to a writable directory' });
  return problems;
}

const REQUIRED_NODE = '20.19';
// The candidates `--backend auto` tries under Node (webgpu and webgl exist only in a page: core's backendReport() covers those).
const ORDER = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const satisfies readonly BackendName[];
const NATIVE: Record<'tensorflow-gpu' | 'tensorflow', { package: string; install: string }> = {
  'tensorflow-gpu': { package: '@tensorflow/tfjs-node-gpu', install: 'python3 -m pip install "tensorflow[and-cuda]" && npx fitstream native install --gpu' },
  tensorflow: { package: '@tensorflow/tfjs-node', install: 'python3 -m pip install tensorflow-cpu && npx fitstream native install' },
};

function nodeOk(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const [reqMajor = 0, reqMinor = 0] = REQUIRED_NODE.split('.').map(Number);
  return major > reqMajor || (major === reqMajor && minor >= reqMinor);
}

async function tryBackend(name: BackendName): Promise<{ ok: true; selection: BackendSelection } | { ok: false; reason: string }> {
  try {
    return { ok: true, selection: await selectBackend({ prefer: name, log: null }) };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // selectBackend's message is "No tfjs backend could be initialised: <name>: <reason>; to use it: …".
    const reason = text.replace(/^No tfjs backend could be initialised: [^:]+: /, '').replace(/; to use it: .*$/s, '');
    return { ok: false, reason };
  }
}

/** tfjs-node's native addon lives in lib/napi-v*; without it the package cannot load. */
async function nativeBindingPresent(dir: string): Promise<boolean> {
  try {
    for (const entry of await readdir(join(dir, 'lib'))) {
      if (entry.startsWith('napi-v') && (await readdir(join(dir, 'lib', entry))).includes('tfjs_binding.node')) return true;
    }
  } catch {
    /* no lib folder */
  }
  return false;
}

function describeCuda(cuda: CudaLibraries): string {
  if (!cuda.checked) return 'CUDA/cuDNN not checked (ldconfig unavailable)';
  const list = (label: string, versions: readonly string[]) => `${label} ${versions.length > 0 ? versions.join(', ') : 'not found'}`;
  return `ldconfig -p: ${list('libcudart', cuda.cudart)}; ${list('libcudnn', cuda.cudnn)}`;
}

/** Where the loaded TensorFlow came from and what it runs on, from the backend and `fitstream native install`'s record. */
async function nativeOrigin(dir: string): Promise<{ detail: string; native: NativeBackendInfo }> {
  const backend = tf.backend() as unknown as { binding?: { TF_Version?: string }; isUsingGpuDevice?: boolean };
  const record = await readNativeRecord(dir);
  const version = backend.binding?.TF_Version ?? record?.check.tensorflowVersion ?? 'unknown';
  const devices = backend.isUsingGpuDevice ? ['CPU', 'GPU'] : ['CPU'];
  const source = record ? `${describeSource(record.tensorflow)} at ${record.tensorflow.libraryDir}, built by fitstream native install on ${record.builtAt.slice(0, 10)}` : 'libtensorflow from the package\'s own install script';
  return {
    detail: `native TensorFlow ${version} loads (${source}); devices: ${devices.join(', ')}`,
    native: { tensorflowVersion: version, devices, source: record ? record.tensorflow.source : 'download', libraryDir: record?.tensorflow.libraryDir ?? join(dir, 'deps', 'lib'), builtBy: record ? 'fitstream native install' : null },
  };
}

async function checkNative(name: 'tensorflow-gpu' | 'tensorflow', cuda: CudaLibraries): Promise<BackendCheck> {
  const { package: pkg, install } = NATIVE[name];
  const gpu = name === 'tensorflow-gpu';
  const dir = packageDirectory(pkg);
  const version = packageVersion(pkg) ?? null;
  if (!dir) return { name, package: pkg, installed: false, version, available: false, detail: 'not installed', fix: install };
  if (!(await nativeBindingPresent(dir))) {
    return {
      name,
      package: pkg,
      installed: true,
      version,
      available: false,
      detail: 'installed, but its native addon is missing (its install script, which downloads libtensorflow, did not run: npm 11 skips dependency install scripts)',
      fix: install,
    };
  }
  const tried = await tryBackend(name);
  const cudaNote = gpu ? ` (${describeCuda(cuda)})` : '';
  if (tried.ok) {
    const origin = await nativeOrigin(dir);
    return { name, package: pkg, installed: true, version, available: true, detail: `${origin.detail}${cudaNote}`, fix: null, native: origin.native };
  }
  return { name, package: pkg, installed: true, version, available: false, detail: `installed but failed to load: ${tried.reason}${cudaNote}`, fix: `npx fitstream native install${gpu ? ' --gpu' : ''} --force` };
}

async function checkWasm(): Promise<BackendCheck> {
  const pkg = '@tensorflow/tfjs-backend-wasm';
  const version = packageVersion(pkg) ?? null;
  if (!packageDirectory(pkg)) {
    return { name: 'wasm', package: pkg, installed: false, version, available: false, detail: 'not installed', fix: `npm install ${pkg}@${tf.version.tfjs}` };
  }
  const tried = await tryBackend('wasm');
  if (!tried.ok) {
    return { name: 'wasm', package: pkg, installed: true, version, available: false, detail: `installed but did not initialise: ${tried.reason}`, fix: `reinstall ${pkg} at the version of @tensorflow/tfjs (${tf.version.tfjs})` };
  }
  const features = (await wasmFeatures()) ?? { simd: false, threads: false };
  const { wasmKernels, wasmKernelsMissing } = tried.selection;
  const kernels = wasmKernels
    ? `fitstream's training kernels installed (@fitstream/backend-wasm: ${wasmKernels.registered.length} added, ${wasmKernels.replaced.length} replaced)`
    : `fitstream's training kernels not installed (${wasmKernelsMissing?.reason ?? 'not loaded'}): stock kernels, no conv/depthwise/embedding gradients, slower backward pass`;
  const threads = features.threads
    ? 'threads on'
    : 'threads off (tfjs-backend-wasm 4.x disables them under Node.js, tfjs issue #3830: it runs single-threaded)';
  return {
    name: 'wasm',
    package: pkg,
    installed: true,
    version,
    available: true,
    detail: `initialises; SIMD ${features.simd ? 'on' : 'off (this runtime cannot validate SIMD WebAssembly; the plain build is slower)'}; ${threads}; ${kernels}`,
    fix: wasmKernelsMissing?.fix ?? null,
    simd: features.simd,
    threads: features.threads,
    fitstreamKernels: wasmKernels !== undefined,
  };
}

/** Whether selectBackend found @fitstream/backend-wasm's cpu kernels (row-copying gather, fused optimizer updates). */
function cpuKernelsNote(installed: BackendSelection['cpuKernels']): string {
  return installed
    ? `fitstream's cpu kernels installed (@fitstream/backend-wasm: ${installed.registered.length} added, ${installed.replaced.length} replaced)`
    : "fitstream's cpu kernels not installed (npm install @fitstream/backend-wasm): stock gather and optimizer updates";
}

async function checkCpu(): Promise<BackendCheck> {
  const tried = await tryBackend('cpu');
  return {
    name: 'cpu',
    package: null,
    installed: true,
    version: tf.version['tfjs-backend-cpu'] ?? null,
    available: tried.ok,
    detail: tried.ok ? `built into @tensorflow/tfjs; plain JavaScript, the slowest; ${cpuKernelsNote(tried.selection.cpuKernels)}` : `failed: ${tried.reason}`,
    fix: tried.ok ? null : 'reinstall @tensorflow/tfjs',
  };
}

async function checkCache(): Promise<DoctorReport['cache']> {
  const directory = cacheDirectory();
  let probe = directory;
  // The directory may not exist yet: it is writable when its nearest existing ancestor is.
  for (;;) {
    try {
      await access(probe, constants.F_OK);
      break;
    } catch {
      const parent = join(probe, '..');
      if (parent === probe) break;
      probe = parent;
    }
  }
  let writable = false;
  try {
    await access(probe, constants.W_OK);
    writable = true;
  } catch {
    /* read-only */
  }
  let entries = 0;
  try {
    entries = (await readdir(join(directory, 'datasets'), { recursive: true })).filter((f) => String(f).endsWith('.json')).length;
  } catch {
    /* nothing cached yet */
  }
  return { directory, writable, entries };
}

/**
 * Checks Node.js, the tfjs packages and every backend, in the order `--backend auto` tries them, CUDA/cuDNN for
 * tfjs-node-gpu, and duplicate tfjs-core copies.
 * @param nodeModules where to look for tfjs-core copies (default: the node_modules chain this CLI resolves from)
 */
export async function diagnose(nodeModules: readonly string[] = nodeModulesChain(dirname(fileURLToPath(import.meta.url)))): Promise<DoctorReport> {
  const cuda = await checkCuda();
  const backends: BackendCheck[] = [];
  for (const name of ORDER) {
    backends.push(name === 'wasm' ? await checkWasm() : name === 'cpu' ? await checkCpu() : await checkNative(name, cuda));
  }
  const report = {
    node: { version: process.version, required: `>=${REQUIRED_NODE}`, ok: nodeOk(process.version) },
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    versions: versions(),
    backends,
    auto: backends.find((b) => b.available)?.name ?? null,
    cache: await checkCache(),
    cuda,
    tfjsCoreCopies: await findTfjsCoreCopies(nodeModules),
  };
  return { ...report, problems: problemsOf(report) };
}

/** The human-readable report. */
export function formatReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push(`Node.js        ${r.node.version} (${r.platform} ${r.arch}, ${r.cpus} CPU${r.cpus === 1 ? '' : 's'}) — ${r.node.ok ? 'ok' : `too old: fitstream needs ${r.node.required}`}`);
  const tfjs = Object.entries(r.versions.tfjs)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k.replace('@tensorflow/', '')} ${v}`);
  lines.push(`TensorFlow.js  ${tfjs.join(', ')}`);
  const fs = Object.entries(r.versions.fitstream)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k.replace('@fitstream/', '')} ${v}`);
  lines.push(`fitstream      ${fs.join(', ')}`);
  lines.push('');
  lines.push('Backends, in the order --backend auto tries them:');
  const width = r.backends.reduce((w, b) => Math.max(w, b.name.length), 0);
  for (const b of r.backends) {
    lines.push(`  ${b.available ? '✓' : '✗'} ${b.name.padEnd(width)}  ${b.package ? `${b.package}${b.version ? ` ${b.version}` : ''}: ` : ''}${b.detail}`);
    if (b.fix) lines.push(`  ${' '.repeat(width + 4)}fix: ${b.fix}`);
  }
  lines.push('');
  lines.push(`CUDA (tfjs-node-gpu)  ${describeCuda(r.cuda)}`);
  lines.push(
    `tfjs-core copies      ${r.tfjsCoreCopies.length} (${r.tfjsCoreCopies.map((c) => `${c.version} at ${c.path}`).join('; ') || 'none found'})`,
  );
  lines.push(`--backend auto selects: ${r.auto ?? 'nothing (no backend initialised)'}`);
  const cacheLine = `Dataset cache  ${r.cache.directory} (${r.cache.writable ? 'writable' : 'NOT writable: set FITSTREAM_CACHE_DIR'}, ${r.cache.entries} entr${r.cache.entries === 1 ? 'y' : 'ies'}; override with FITSTREAM_CACHE_DIR)`;
  lines.push(cacheLine);
  lines.push('');
  if (r.problems.length === 0) lines.push('No problems found.');
  else {
    lines.push(`Problems (${r.problems.length}):`);
    for (const p of r.problems) lines.push(`  ✗ ${p.problem}`, `    fix: ${p.fix}`);
  }
  return lines.join('\n');
}
