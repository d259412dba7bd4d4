import { access, constants, readdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '@fitstream/core';
import { cacheDirectory } from '@fitstream/datasets';
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
}

const REQUIRED_NODE = '20.19';
const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const NATIVE: Record<'tensorflow-gpu' | 'tensorflow', { package: string; needs: string }> = {
  'tensorflow-gpu': { package: '@tensorflow/tfjs-node-gpu', needs: 'Linux x64 with CUDA 11.2 + cuDNN 8.1 and an NVIDIA GPU' },
  tensorflow: { package: '@tensorflow/tfjs-node', needs: 'Linux x64/arm64, macOS or Windows' },
};

function nodeOk(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const [reqMajor = 0, reqMinor = 0] = REQUIRED_NODE.split('.').map(Number);
  return major > reqMajor || (major === reqMajor && minor >= reqMinor);
}

async function tryBackend(name: BackendName): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await selectBackend({ prefer: name, log: null });
    return { ok: true };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // selectBackend's message is "No tfjs backend could be initialised: <name>: <reason>; to use it: …".
    const reason = text.replace(/^No tfjs backend could be initialised: [^:]+: /, '').replace(/; to use it: .*$/s, '');
    return { ok: false, reason };
  }
}

/** tfjs-node's native addon is downloaded by its install script into lib/napi-v*; without it the package cannot load. */
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

async function checkNative(name: 'tensorflow-gpu' | 'tensorflow'): Promise<BackendCheck> {
  const { package: pkg, needs } = NATIVE[name];
  const dir = packageDirectory(pkg);
  const version = packageVersion(pkg) ?? null;
  const download = `its install script downloads libtensorflow (${needs}; network access at install time)`;
  if (!dir) {
    return { name, package: pkg, installed: false, version, available: false, detail: 'not installed', fix: `npm install ${pkg}@4.22.0 — ${download}` };
  }
  if (!(await nativeBindingPresent(dir))) {
    return {
      name,
      package: pkg,
      installed: true,
      version,
      available: false,
      detail: `installed, but its native addon is missing: the install script did not run (recent npm 11 releases block dependency install scripts until approved with 'npm install-scripts approve', and --ignore-scripts blocks them) or could not download libtensorflow`,
      fix: `npm install-scripts approve ${pkg} && npm rebuild ${pkg} — ${download}`,
    };
  }
  const tried = await tryBackend(name);
  return tried.ok
    ? { name, package: pkg, installed: true, version, available: true, detail: `native TensorFlow ${name === 'tensorflow-gpu' ? 'with CUDA ' : ''}loads`, fix: null }
    : { name, package: pkg, installed: true, version, available: false, detail: `installed but failed to load: ${tried.reason}`, fix: `npm rebuild ${pkg} — ${download}` };
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
  const threads = features.threads
    ? 'threads on'
    : 'threads off (tfjs-backend-wasm 4.x disables them under Node.js, tfjs issue #3830: it runs single-threaded)';
  return {
    name: 'wasm',
    package: pkg,
    installed: true,
    version,
    available: true,
    detail: `initialises; SIMD ${features.simd ? 'on' : 'off (this runtime cannot validate SIMD WebAssembly; the plain build is slower)'}; ${threads}`,
    fix: null,
    simd: features.simd,
    threads: features.threads,
  };
}

async function checkCpu(): Promise<BackendCheck> {
  const tried = await tryBackend('cpu');
  return {
    name: 'cpu',
    package: null,
    installed: true,
    version: tf.version['tfjs-backend-cpu'] ?? null,
    available: tried.ok,
    detail: tried.ok ? 'built into @tensorflow/tfjs; plain JavaScript, the slowest' : `failed: ${tried.reason}`,
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

/** Checks Node.js, the tfjs packages and every backend, in the order `--backend auto` tries them. */
export async function diagnose(): Promise<DoctorReport> {
  const backends: BackendCheck[] = [];
  for (const name of ORDER) {
    backends.push(name === 'wasm' ? await checkWasm() : name === 'cpu' ? await checkCpu() : await checkNative(name));
  }
  return {
    node: { version: process.version, required: `>=${REQUIRED_NODE}`, ok: nodeOk(process.version) },
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    versions: versions(),
    backends,
    auto: backends.find((b) => b.available)?.name ?? null,
    cache: await checkCache(),
  };
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
  const width = Math.max(...r.backends.map((b) => b.name.length));
  for (const b of r.backends) {
    lines.push(`  ${b.available ? '✓' : '✗'} ${b.name.padEnd(width)}  ${b.package ? `${b.package}${b.version ? ` ${b.version}` : ''}: ` : ''}${b.detail}`);
    if (b.fix) lines.push(`  ${' '.repeat(width + 4)}fix: ${b.fix}`);
  }
  lines.push('');
  lines.push(`--backend auto selects: ${r.auto ?? 'nothing (no backend initialised)'}`);
  lines.push(`Dataset cache  ${r.cache.directory} (${r.cache.writable ? 'writable' : 'NOT writable: set FITSTREAM_CACHE_DIR'}, ${r.cache.entries} entr${r.cache.entries === 1 ? 'y' : 'ies'}; override with FITSTREAM_CACHE_DIR)`);
  return lines.join('\n');
}
