import { access, constants, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TensorflowLibrary } from './find-tensorflow.js';
import { NativeInstallError } from './native-install-error.js';
import { runProcess, tailOf } from './run-process.js';
import type { Toolchain } from './toolchain.js';

/** `@tensorflow/tfjs-node` or `@tensorflow/tfjs-node-gpu`. */
export type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';

/** Where the binding of an installed tfjs-node package lives, as its loader (node-pre-gyp) looks for it. */
export interface BindingLocation {
  readonly packageDir: string;
  readonly version: string;
  /** The N-API version node-pre-gyp picks: the highest the package lists that this Node supports. */
  readonly napi: number;
  /** `<packageDir>/lib/napi-v<napi>/tfjs_binding.node`. */
  readonly file: string;
}

const npmCommand = (): { file: string; prefix: string[] } => {
  // Under npm/npx, npm_execpath names npm's own CLI script: use the npm that runs us.
  const script = process.env['npm_execpath']?.replace(/npx-cli\.js$/, 'npm-cli.js');
  return script && /npm-cli\.js$/.test(script) ? { file: process.execPath, prefix: [script] } : { file: 'npm', prefix: [] };
};

/**
 * Installs `packageName@version` into `projectDir/node_modules` with install scripts disabled (its script would
 * download libtensorflow) and without touching package.json or the lockfile; skipped when that version is there.
 */
export async function installNativePackage(projectDir: string, packageName: NativePackage, version: string, signal?: AbortSignal): Promise<BindingLocation> {
  const packageDir = join(projectDir, 'node_modules', ...packageName.split('/'));
  if ((await installedVersion(packageDir)) !== version) {
    const npm = npmCommand();
    const args = [...npm.prefix, 'install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', `${packageName}@${version}`];
    const result = await runProcess(npm.file, args, { cwd: projectDir, timeoutMs: 15 * 60_000, ...(signal ? { signal } : {}) });
    if (result.code !== 0) {
      throw new NativeInstallError(
        'package',
        `npm could not install ${packageName}@${version} in ${projectDir} (${result.failure ?? `exit ${String(result.code)}`}):\n${tailOf(result)}`,
        `check that the npm registry is reachable (npm ping), then retry; the same by hand: npm install --no-save --ignore-scripts ${packageName}@${version}`,
      );
    }
  }
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string; binary?: { napi_versions?: number[] } };
  const supported = Number(process.versions.napi ?? '8');
  const napi = (manifest.binary?.napi_versions ?? [8]).filter((v) => v <= supported).reduce((a, b) => Math.max(a, b), 0);
  return { packageDir, version: manifest.version, napi, file: join(packageDir, 'lib', `napi-v${napi}`, 'tfjs_binding.node') };
}

async function installedVersion(packageDir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * Compiles the package's binding (binding.gyp, two C++ files) with node-gyp against the TensorFlow library: its
 * `deps/` folder links to the library's files, and an rpath to the library's own folder lets the binding load it
 * where it lies (so the wheel's own RUNPATH, e.g. to CUDA libraries, keeps working).
 */
export async function buildBinding(location: BindingLocation, library: TensorflowLibrary, toolchain: Toolchain, signal?: AbortSignal): Promise<void> {
  const { packageDir } = location;
  await rm(join(packageDir, 'deps'), { recursive: true, force: true });
  await rm(join(packageDir, 'build'), { recursive: true, force: true });
  await mkdir(join(packageDir, 'deps', 'lib'), { recursive: true });
  // binding.gyp links -ltensorflow -ltensorflow_framework (Linux) or the .2.dylib files (macOS).
  const names =
    process.platform === 'darwin'
      ? { tensorflow: 'libtensorflow.2.dylib', framework: 'libtensorflow_framework.2.dylib' }
      : { tensorflow: 'libtensorflow.so', framework: 'libtensorflow_framework.so' };
  await symlink(library.libraries.tensorflow, join(packageDir, 'deps', 'lib', names.tensorflow));
  await symlink(library.libraries.framework, join(packageDir, 'deps', 'lib', names.framework));
  await symlink(library.includeDir, join(packageDir, 'deps', 'include'), 'dir');
  const rpaths = [dirname(library.libraries.tensorflow), ...library.cudaLibraryDirs].map((d) => `-Wl,-rpath,${d}`);
  const args = [
    toolchain.nodeGyp,
    'rebuild',
    `--nodedir=${toolchain.nodeDir}`,
    `--python=${toolchain.python}`,
    '--module_name=tfjs_binding',
    `--module_path=${dirname(location.file)}`,
    `--napi_build_version=${location.napi}`,
  ];
  const env = { ...process.env, LDFLAGS: [process.env['LDFLAGS'] ?? '', ...rpaths].join(' ').trim() };
  const result = await runProcess(process.execPath, args, { cwd: packageDir, env, timeoutMs: 20 * 60_000, ...(signal ? { signal } : {}) });
  if (result.code !== 0) {
    throw new NativeInstallError(
      'build',
      `node-gyp could not build ${basename(location.file)} against TensorFlow ${library.version} (${result.failure ?? `exit ${String(result.code)}`}):\n${tailOf(result, 20)}`,
      'check the compiler error above; the build needs the TensorFlow C headers (the wheel has them under tensorflow/include) and a C++17 compiler',
    );
  }
  try {
    await access(location.file, constants.R_OK);
  } catch {
    throw new NativeInstallError('build', `node-gyp finished but ${location.file} is missing.`, 'run again with FITSTREAM_DEBUG=1 and report the output');
  }
}
