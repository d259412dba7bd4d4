import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../program.js';
import { checkCudaLibraries } from './cuda.js';
import { findTensorflow } from './find-tensorflow.js';
import { installNativeBackend, NATIVE_RECORD_FILE, readNativeRecord } from './native-install.js';
import { NativeInstallError } from './native-install-error.js';
import { findNodeHeaders } from './toolchain.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-native-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Runs the promise and returns its NativeInstallError (failing when it resolves or throws something else). */
async function failure(promise: Promise<unknown>): Promise<NativeInstallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NativeInstallError);
  return error as NativeInstallError;
}

describe('fitstream native install: each missing piece is named, with the command that fixes it', () => {
  it('no Python', async () => {
    const e = await failure(findTensorflow({ python: join(tmp, 'no-such-python') }));
    expect(e.step).toBe('tensorflow');
    expect(e.message).toMatch(/No Python to find TensorFlow with: no Python interpreter ".*no-such-python" on PATH/);
    expect(e.fix).toMatch(/pip install tensorflow-cpu.*--python <path>.*--libtensorflow <dir>/);
  });

  it('a Python without TensorFlow (a fresh virtual environment)', async () => {
    const venv = join(tmp, 'venv');
    execFileSync('python3', ['-m', 'venv', '--without-pip', venv], { timeout: 60_000 });
    const e = await failure(findTensorflow({ python: join(venv, 'bin', 'python') }));
    expect(e.message).toMatch(/^Python 3\.\d+\.\d+ at .*venv.* has no TensorFlow installed\./);
    expect(e.fix).toMatch(/^python3 -m pip install tensorflow-cpu/);
  });

  it('a libtensorflow folder without its libraries', async () => {
    const dir = join(tmp, 'libtensorflow');
    await mkdir(join(dir, 'include'), { recursive: true });
    const e = await failure(findTensorflow({ libtensorflow: dir }));
    expect(e.message).toMatch(/--libtensorflow .*libtensorflow: .*lib\/libtensorflow\.so\.2 is missing/);
    expect(e.fix).toMatch(/libtensorflow C release/);
  });

  it('--gpu without CUDA libraries from pip or the system', async () => {
    const e = await failure(checkCudaLibraries({ cudaLibraryDirs: [], version: '2.21.0' }, () => Promise.resolve('\tlibc.so.6 (libc6,x86-64) => /lib/libc.so.6\n')));
    expect(e.message).toMatch(/--gpu needs the CUDA runtime and cuDNN .* ldconfig -p lists libcudart none and libcudnn none/);
    expect(e.fix).toMatch(/pip install "tensorflow\[and-cuda\]"/);
    // The nvidia-* wheels of tensorflow[and-cuda] beside TensorFlow are enough.
    const pip = ['/site-packages/nvidia/cuda_runtime/lib', '/site-packages/nvidia/cudnn/lib'];
    await expect(checkCudaLibraries({ cudaLibraryDirs: pip, version: '2.21.0' }, () => Promise.reject(new Error('unused')))).resolves.toBeUndefined();
  });

  it("Node's headers missing", async () => {
    const e = await failure(findNodeHeaders(join(tmp, 'no-node')));
    expect(e.step).toBe('toolchain');
    expect(e.message).toMatch(/headers \(include\/node\/node_api\.h\) are not in .*no-node/);
    expect(e.fix).toMatch(/--nodedir <dir>/);
  });

  it('two sources of TensorFlow at once', async () => {
    const e = await failure(installNativeBackend({ python: 'python3', libtensorflow: tmp, projectDir: tmp }));
    expect(e).toMatchObject({ step: 'arguments', fix: 'give one of them' });
  });

  it('the CLI prints the problem and its fix and exits 1', async () => {
    const err: string[] = [];
    const code = await main(['native', 'install', '--python', join(tmp, 'no-such-python')], { out: () => undefined, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/^fitstream: No Python to find TensorFlow with: .*\n {2}fix: install Python 3\.9\+/m);
  });
});

// The whole route, in an empty project: npm installs tfjs-node with its script skipped, node-gyp builds the binding
// against the pip wheel, a child process checks it against the cpu backend; the second install reuses the build.
const hasTensorflow = (() => {
  try {
    execFileSync('python3', ['-c', 'import importlib.util, sys; sys.exit(importlib.util.find_spec("tensorflow") is None)'], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
})();
const required = process.env['FITSTREAM_NATIVE_TESTS'] === 'required';

describe.skipIf(!hasTensorflow && !required)(`building against the TensorFlow pip wheel${hasTensorflow ? '' : ' (skipped: python3 has no tensorflow; pip install tensorflow-cpu)'}`, () => {
  it('installs, builds, verifies and records; a second install reuses the cached binding', { timeout: 15 * 60_000 }, async () => {
    const project = join(tmp, 'project');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'native-test', private: true, type: 'module' }));
    const previousCache = process.env['FITSTREAM_CACHE_DIR'];
    process.env['FITSTREAM_CACHE_DIR'] = join(tmp, 'cache');
    try {
      const lines: string[] = [];
      const record = await installNativeBackend({ projectDir: project, log: (l) => lines.push(l) });
      expect(record).toMatchObject({ package: '@tensorflow/tfjs-node', packageVersion: '4.22.0', origin: 'built', tensorflow: { source: 'python' } });
      expect(record.check.tensorflowVersion).toBe(record.tensorflow.version);
      expect(record.check.maxAbsDifference).toBeLessThanOrEqual(1e-4);
      expect(record.check.gpu).toBe(false);
      expect(lines.join('\n')).toMatch(/TensorFlow 2\.\d+\.\d+ from pip tensorflow(-cpu)? [\s\S]*install script skipped[\s\S]*building with node-gyp[\s\S]*verified/);
      const packageDir = join(project, 'node_modules', '@tensorflow', 'tfjs-node');
      expect(await readNativeRecord(packageDir)).toEqual(record);
      expect(JSON.parse(await readFile(join(packageDir, NATIVE_RECORD_FILE), 'utf8'))).toMatchObject({ binding: join(packageDir, 'lib', 'napi-v8', 'tfjs_binding.node') });
      // The project's manifest is untouched (--no-save): after `npm ci` the command is run again, and is quick.
      expect(JSON.parse(await readFile(join(project, 'package.json'), 'utf8'))).toEqual({ name: 'native-test', private: true, type: 'module' });

      await rm(join(packageDir, 'lib'), { recursive: true, force: true });
      const again = await installNativeBackend({ projectDir: project });
      expect(again).toMatchObject({ origin: 'cached', compiler: null, check: { tensorflowVersion: record.check.tensorflowVersion } });
    } finally {
      if (previousCache === undefined) delete process.env['FITSTREAM_CACHE_DIR'];
      else process.env['FITSTREAM_CACHE_DIR'] = previousCache;
    }
  });
});
