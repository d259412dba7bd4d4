import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { checkCudaLibraries } from './cuda.js';
import { buildBinding, installNativePackage, type BindingLocation, type NativePackage } from './build-binding.js';
import { findTensorflow, type TensorflowLibrary } from './find-tensorflow.js';
import { NativeInstallError } from './native-install-error.js';
import { findToolchain } from './toolchain.js';
import { verifyBinding, type NativeCheck } from './verify-binding.js';

/** Options of {@link installNativeBackend}; the CLI's `fitstream native install` flags map onto them. */
export interface NativeInstallOptions {
  /** Build tfjs-node-gpu (CUDA) instead of tfjs-node. */
  readonly gpu?: boolean;
  /** The Python interpreter whose TensorFlow wheel to build against (default `python3`, then `python`). */
  readonly python?: string;
  /** A libtensorflow C folder (lib/ + include/) to build against instead of a Python wheel. */
  readonly libtensorflow?: string;
  /** The project whose node_modules gets the package (default: where this CLI's `@tensorflow/tfjs` is installed). */
  readonly projectDir?: string;
  /** A folder with Node's headers in include/node (default: beside this Node). */
  readonly nodeDir?: string;
  /** Rebuild even when a binding built against the same library is cached. */
  readonly force?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** What `fitstream native install` built, written as `fitstream-native.json` in the package folder. */
export interface NativeRecord {
  readonly package: NativePackage;
  readonly packageVersion: string;
  readonly binding: string;
  readonly napi: number;
  readonly tensorflow: Omit<TensorflowLibrary, 'libraries' | 'includeDir'> & { readonly libraries: TensorflowLibrary['libraries'] };
  readonly check: NativeCheck;
  /** `built` (compiled now) or `cached` (a binding compiled earlier against the same library files). */
  readonly origin: 'built' | 'cached';
  readonly node: string;
  readonly compiler: string | null;
  readonly builtAt: string;
}

export const NATIVE_RECORD_FILE = 'fitstream-native.json';

const requireHere = createRequire(import.meta.url);

/** The project folder whose node_modules holds the `@tensorflow/tfjs` this CLI (and so fitstream's core) uses. */
export function defaultProjectDir(): string {
  const tfjs = dirname(requireHere.resolve('@tensorflow/tfjs/package.json'));
  const marker = `${sep}node_modules${sep}`;
  const at = tfjs.lastIndexOf(marker);
  if (at < 0) throw new NativeInstallError('arguments', `@tensorflow/tfjs at ${tfjs} is not inside a node_modules folder.`, 'name the project with --project <dir>');
  return tfjs.slice(0, at);
}

/**
 * Builds tfjs-node (or tfjs-node-gpu) against a TensorFlow found on this machine — a pip wheel's shared libraries or
 * a libtensorflow C folder — so that it installs without its download script; verifies it loads and computes as the
 * cpu backend does, and records what it built. Every failure is a {@link NativeInstallError} with the fix.
 *
 * @example
 * ```ts
 * const record = await installNativeBackend({ log: console.error });
 * console.log(`tfjs-node on TensorFlow ${record.check.tensorflowVersion}`);
 * await selectBackend(); // now picks 'tensorflow'
 * ```
 */
export async function installNativeBackend(options: NativeInstallOptions = {}): Promise<NativeRecord> {
  const log = options.log ?? (() => undefined);
  const signal = options.signal;
  const packageName: NativePackage = options.gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const projectDir = resolve(options.projectDir ?? defaultProjectDir());
  if (options.python !== undefined && options.libtensorflow !== undefined) {
    throw new NativeInstallError('arguments', '--python and --libtensorflow name two sources of TensorFlow.', 'give one of them');
  }
  const library = await findTensorflow({ ...pick(options, 'python', 'libtensorflow'), ...(signal ? { signal } : {}) });
  log(`TensorFlow ${library.version} from ${describeSource(library)} (${library.libraryDir})`);
  if (options.gpu) await checkCudaLibraries(library);
  // The same version as @tensorflow/tfjs: tfjs-node depends on it exactly, so npm keeps one tfjs-core.
  const tfjsVersion = (requireHere('@tensorflow/tfjs/package.json') as { version: string }).version;
  const location = await installNativePackage(projectDir, packageName, tfjsVersion, signal);
  log(`${packageName}@${location.version} in ${location.packageDir} (install script skipped)`);
  const key = await cacheKey(location, library);
  // Loaded here, not at the top: the CLI's entry re-exports this module and must start without tfjs.
  const [{ cacheDirectory }, { writeFileAtomic }] = await Promise.all([import('@fitstream/datasets'), import('@fitstream/core')]);
  const cached = join(cacheDirectory(), 'native', key, 'tfjs_binding.node');
  let origin: NativeRecord['origin'] = 'built';
  let compiler: string | null = null;
  if (!options.force && (await copyIfPresent(cached, location.file))) {
    origin = 'cached';
    log(`binding from the cache (${cached})`);
  } else {
    const toolchain = await findToolchain({ ...pick(options, 'nodeDir'), python: library.python ?? 'python3', projectDir, ...(signal ? { signal } : {}) });
    compiler = toolchain.compiler;
    log(`building with node-gyp (${toolchain.compiler}; Node headers in ${toolchain.nodeDir})`);
    await buildBinding(location, library, toolchain, signal);
    await mkdir(dirname(cached), { recursive: true });
    await copyFile(location.file, `${cached}.tmp`);
    await rename(`${cached}.tmp`, cached);
  }
  const check = await verifyBinding(projectDir, packageName, signal ? { signal } : {});
  log(`verified: TensorFlow ${check.tensorflowVersion}${check.gpu ? ' on a GPU' : ' on the CPU'}, ${check.ops.join(', ')} equal to the cpu backend within ${check.maxAbsDifference.toExponential(1)}`);
  if (options.gpu && !check.gpu) {
    throw new NativeInstallError('verify', `tfjs-node-gpu loads TensorFlow ${check.tensorflowVersion} but it places no op on a GPU.`, 'check the NVIDIA driver (nvidia-smi) and that the wheel is a CUDA build: python3 -m pip install "tensorflow[and-cuda]"');
  }
  const { includeDir: _includeDir, ...tensorflow } = library;
  const record: NativeRecord = {
    package: packageName,
    packageVersion: location.version,
    binding: location.file,
    napi: location.napi,
    tensorflow,
    check,
    origin,
    node: process.version,
    compiler,
    builtAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(location.packageDir, NATIVE_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** The record `fitstream native install` left in an installed tfjs-node(-gpu) package, if any. */
export async function readNativeRecord(packageDir: string): Promise<NativeRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(packageDir, NATIVE_RECORD_FILE), 'utf8')) as NativeRecord;
  } catch {
    return undefined;
  }
}

/** `pip tensorflow-cpu 2.21.0 (python3.11)` or `libtensorflow C folder`. */
export function describeSource(library: Pick<TensorflowLibrary, 'source' | 'distribution' | 'python'>): string {
  return library.source === 'python' ? `pip ${library.distribution ?? 'tensorflow'} (${library.python ?? 'python'})` : 'a libtensorflow C folder';
}

// A binding built against the same library files (path, size, mtime) for the same package and N-API version is reused.
async function cacheKey(location: BindingLocation, library: TensorflowLibrary): Promise<string> {
  const files = await Promise.all(
    [library.libraries.tensorflow, library.libraries.framework].map(async (f) => {
      const s = await stat(f);
      return [f, s.size, s.mtimeMs];
    }),
  );
  const identity = JSON.stringify([location.packageDir.split(sep).slice(-2), location.version, location.napi, process.platform, process.arch, files]);
  return createHash('sha256').update(identity).digest('hex').slice(0, 24);
}

async function copyIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await mkdir(dirname(to), { recursive: true });
    await copyFile(from, `${to}.tmp`);
    await rename(`${to}.tmp`, to);
    return true;
  } catch {
    return false;
  }
}

function pick<T extends object, K extends keyof T>(object: T, ...keys: K[]): { [P in K]?: NonNullable<T[P]> } {
  const out: { [P in K]?: NonNullable<T[P]> } = {};
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key] as NonNullable<T[K]>;
  return out;
}
