import { access, constants, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { NativeInstallError } from './native-install-error.js';
import { runProcess } from './run-process.js';

/** A TensorFlow C library found on this machine, with what the tfjs-node binding needs to build against it. */
export interface TensorflowLibrary {
  /** `python`: the shared libraries of a TensorFlow pip wheel; `libtensorflow`: a libtensorflow C folder. */
  readonly source: 'python' | 'libtensorflow';
  /** TensorFlow's version, e.g. `2.21.0` (the wheel's distribution version, or the C folder's header version). */
  readonly version: string;
  /** The pip distribution that provides it (`tensorflow-cpu`, `tensorflow`…), for a wheel. */
  readonly distribution?: string;
  /** The Python interpreter whose environment holds the wheel. */
  readonly python?: string;
  /** Folder of `libtensorflow_framework` and the main library (the wheel's package folder, or `<dir>/lib`). */
  readonly libraryDir: string;
  /** Folder holding `tensorflow/c/c_api.h`. */
  readonly includeDir: string;
  /** Absolute paths of the two shared libraries the binding links against. */
  readonly libraries: { readonly tensorflow: string; readonly framework: string };
  /** Folders of CUDA/cuDNN libraries installed beside the wheel (`nvidia-*` pip packages of `tensorflow[and-cuda]`). */
  readonly cudaLibraryDirs: readonly string[];
}

/** Where to look for TensorFlow: a Python interpreter (default: `python3`, then `python`) or a libtensorflow folder. */
export interface FindTensorflowOptions {
  readonly python?: string;
  readonly libtensorflow?: string;
  readonly signal?: AbortSignal;
}

// The tfjs-node 4.22 binding calls TF C API functions present from TensorFlow 2.9 on (the version it was built for).
const MINIMUM = [2, 9] as const;
const PIP_FIX = 'python3 -m pip install tensorflow-cpu   (or name a Python that has it: --python <path>)';

// find_spec does not import TensorFlow (which takes seconds and prints logs); importlib.metadata gives the version.
const PROBE = `
import glob, importlib.util, json, os, sys
import importlib.metadata as md
out = {"python": sys.executable, "pythonVersion": sys.version.split()[0]}
spec = importlib.util.find_spec("tensorflow")
if spec is not None and spec.submodule_search_locations:
    location = list(spec.submodule_search_locations)[0]
    out["location"] = location
    for name in ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tf-nightly-cpu", "intel-tensorflow"):
        try:
            out["distribution"] = name
            out["version"] = md.version(name)
            break
        except md.PackageNotFoundError:
            out.pop("distribution", None)
    out["cuda"] = sorted(glob.glob(os.path.join(os.path.dirname(location), "nvidia", "*", "lib")))
print(json.dumps(out))
`;

interface ProbeOutput {
  python: string;
  pythonVersion: string;
  location?: string;
  distribution?: string;
  version?: string;
  cuda?: string[];
}

/** Finds a TensorFlow ≥ 2.9 C library: in a libtensorflow folder when one is named, else in a Python environment. */
export async function findTensorflow(options: FindTensorflowOptions = {}): Promise<TensorflowLibrary> {
  if (options.libtensorflow !== undefined) return fromLibtensorflowFolder(options.libtensorflow);
  const candidates = options.python !== undefined ? [options.python] : ['python3', 'python'];
  let lastProblem = '';
  for (const python of candidates) {
    const result = await runProcess(python, ['-c', PROBE], { timeoutMs: 60_000, ...(options.signal ? { signal: options.signal } : {}) });
    if (result.failure === 'ENOENT') {
      lastProblem = `no Python interpreter "${python}" on PATH`;
      continue;
    }
    if (result.code !== 0) {
      lastProblem = `"${python}" failed (${result.failure ?? `exit ${String(result.code)}`}): ${result.stderr.trim().split('\n').pop() ?? ''}`;
      continue;
    }
    const probe = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as ProbeOutput;
    if (probe.location === undefined || probe.version === undefined) {
      throw new NativeInstallError('tensorflow', `Python ${probe.pythonVersion} at ${probe.python} has no TensorFlow installed.`, PIP_FIX);
    }
    return fromWheel(probe as Required<ProbeOutput>);
  }
  throw new NativeInstallError(
    'tensorflow',
    `No Python to find TensorFlow with: ${lastProblem}.`,
    'install Python 3.9+ and then `python3 -m pip install tensorflow-cpu`; or name an interpreter (--python <path>) or a libtensorflow C folder (--libtensorflow <dir>)',
  );
}

async function fromWheel(probe: Required<ProbeOutput>): Promise<TensorflowLibrary> {
  assertSupportedVersion(probe.version, `pip ${probe.distribution}`);
  const ext = process.platform === 'darwin' ? (n: string) => `lib${n}.2.dylib` : (n: string) => `lib${n}.so.2`;
  const libraries = {
    tensorflow: join(probe.location, ext('tensorflow_cc')),
    framework: join(probe.location, ext('tensorflow_framework')),
  };
  const includeDir = join(probe.location, 'include');
  const reinstall = `python3 -m pip install --force-reinstall ${probe.distribution}==${probe.version}`;
  for (const file of [libraries.tensorflow, libraries.framework, join(includeDir, 'tensorflow', 'c', 'c_api.h')]) {
    await mustExist(file, `The TensorFlow wheel at ${probe.location} lacks ${file}`, reinstall);
  }
  return {
    source: 'python',
    version: probe.version,
    distribution: probe.distribution,
    python: probe.python,
    libraryDir: await realpath(probe.location),
    includeDir,
    libraries,
    cudaLibraryDirs: probe.cuda,
  };
}

/** A libtensorflow C release (`lib/libtensorflow.so.2`, `lib/libtensorflow_framework.so.2`, `include/tensorflow/c`). */
async function fromLibtensorflowFolder(dir: string): Promise<TensorflowLibrary> {
  const fix = 'name the folder unpacked from a libtensorflow C release (it holds lib/ and include/), or leave out --libtensorflow to use a Python wheel';
  const ext = process.platform === 'darwin' ? (n: string) => `lib${n}.2.dylib` : (n: string) => `lib${n}.so.2`;
  const libraries = { tensorflow: join(dir, 'lib', ext('tensorflow')), framework: join(dir, 'lib', ext('tensorflow_framework')) };
  const header = join(dir, 'include', 'tensorflow', 'c', 'c_api.h');
  for (const file of [libraries.tensorflow, libraries.framework, header]) await mustExist(file, `--libtensorflow ${dir}: ${file} is missing`, fix);
  const version = await headerVersion(join(dir, 'include', 'tensorflow', 'core', 'public', 'version.h'));
  if (version !== undefined) assertSupportedVersion(version, `libtensorflow at ${dir}`);
  return {
    source: 'libtensorflow',
    version: version ?? 'unknown',
    libraryDir: await realpath(join(dir, 'lib')),
    includeDir: join(dir, 'include'),
    libraries,
    cudaLibraryDirs: [],
  };
}

async function headerVersion(file: string): Promise<string | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    const part = (name: string) => new RegExp(`#define\\s+TF_${name}_VERSION\\s+(\\d+)`).exec(text)?.[1];
    const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
    return major && minor && patch ? `${major}.${minor}.${patch}` : undefined;
  } catch {
    return undefined;
  }
}

function assertSupportedVersion(version: string, where: string): void {
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
    throw new NativeInstallError(
      'tensorflow',
      `TensorFlow ${version} (${where}) is too old: the tfjs-node binding needs TensorFlow ≥ ${MINIMUM.join('.')}.`,
      'python3 -m pip install --upgrade tensorflow-cpu',
    );
  }
}

async function mustExist(file: string, message: string, fix: string): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch {
    throw new NativeInstallError('tensorflow', `${message}.`, fix);
  }
}
