import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCuda, parseLdconfig } from '../native/cuda.js';
import { AUTO_BACKEND } from '../test-support/cli.js';
import { diagnose, doctorExitCode, findTfjsCoreCopies, formatReport, nodeModulesChain, problemsOf, type DoctorReport } from './doctor.js';

const LDCONFIG = `1523 libs found in cache \`/etc/ld.so.cache'
	libcudnn.so.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.8
	libcudnn_ops_infer.so.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn_ops_infer.so.8
	libcudart.so.11.0 (libc6,x86-64) => /usr/local/cuda-11.2/lib64/libcudart.so.11.0
	libcudart.so (libc6,x86-64) => /usr/local/cuda-11.2/lib64/libcudart.so
	libc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6
`;

describe('doctor: CUDA libraries', () => {
  it('parses the CUDA runtime and cuDNN versions from ldconfig -p', () => {
    expect(parseLdconfig(LDCONFIG)).toEqual({ cudart: ['11.0', 'unversioned'], cudnn: ['8'] });
    expect(parseLdconfig('\tlibc.so.6 (libc6,x86-64) => /lib/libc.so.6\n')).toEqual({ cudart: [], cudnn: [] });
  });

  it('reports unchecked when ldconfig cannot run', async () => {
    expect(await checkCuda(() => Promise.reject(new Error('no ldconfig')))).toEqual({ checked: false, cudart: [], cudnn: [] });
    expect(await checkCuda(() => Promise.resolve(LDCONFIG))).toMatchObject({ checked: true, cudnn: ['8'] });
  });
});

describe('doctor: duplicate tfjs-core copies', () => {
  let root: string;
  const pkg = async (dir: string, version: string) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-core', version }));
  };
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'fitstream-doctor-'));
    await pkg(join(root, 'node_modules', '@tensorflow', 'tfjs-core'), '4.22.0');
    await pkg(join(root, 'node_modules', 'some-lib', 'node_modules', '@tensorflow', 'tfjs-core'), '3.21.0');
    await mkdir(join(root, 'node_modules', 'other'), { recursive: true });
    // A symlinked workspace package is not followed (it would count the same copy twice).
    await symlink(join(root, 'node_modules', 'some-lib'), join(root, 'node_modules', 'linked'), 'dir');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds every copy with its version, nested ones included', async () => {
    const copies = await findTfjsCoreCopies([join(root, 'node_modules'), join(root, 'missing', 'node_modules')]);
    expect(copies.map((c) => [c.path.slice(root.length), c.version]).sort()).toEqual([
      ['/node_modules/@tensorflow/tfjs-core', '4.22.0'],
      ['/node_modules/some-lib/node_modules/@tensorflow/tfjs-core', '3.21.0'],
    ]);
  });

  it('walks the node_modules chain up to the root', () => {
    expect(nodeModulesChain('/a/b/node_modules/c')).toEqual(['/a/b/node_modules/c/node_modules', '/a/b/node_modules', '/a/node_modules', '/node_modules']);
  });
});

describe('doctor: problems, fixes and exit code', () => {
  const base: Omit<DoctorReport, 'problems'> = {
    node: { version: 'v20.20.0', required: '>=20.19', ok: true },
    platform: 'linux',
    arch: 'x64',
    cpus: 2,
    versions: { node: 'v20.20.0', tfjs: {}, fitstream: {} },
    backends: [
      { name: 'tensorflow-gpu', package: '@tensorflow/tfjs-node-gpu', installed: true, version: '4.22.0', available: false, detail: 'installed but failed to load: libcudart.so.11.0: cannot open shared object file', fix: 'install the CUDA 11.2 runtime' },
      { name: 'tensorflow', package: '@tensorflow/tfjs-node', installed: false, version: null, available: false, detail: 'not installed', fix: 'npm install @tensorflow/tfjs-node@4.22.0' },
      { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', installed: true, version: '4.22.0', available: true, detail: 'initialises', fix: null },
      { name: 'cpu', package: null, installed: true, version: '4.22.0', available: true, detail: 'built in', fix: null },
    ],
    auto: 'wasm',
    cache: { directory: '/tmp/c', writable: true, entries: 0 },
    cuda: { checked: true, cudart: [], cudnn: [] },
    tfjsCoreCopies: [{ path: '/x/node_modules/@tensorflow/tfjs-core', version: '4.22.0' }],
  };

  it('lists installed-but-broken backends and duplicate tfjs-core copies with their fixes; optional backends are not problems', () => {
    const problems = problemsOf({ ...base, tfjsCoreCopies: [...base.tfjsCoreCopies, { path: '/x/node_modules/a/node_modules/@tensorflow/tfjs-core', version: '3.21.0' }] });
    expect(problems.map((p) => p.problem)).toEqual([
      expect.stringMatching(/^tensorflow-gpu: installed but failed to load/),
      expect.stringMatching(/^2 copies of @tensorflow\/tfjs-core are installed \(4\.22\.0 at .*; 3\.21\.0 at .*\)/),
    ]);
    expect(problems[1]!.fix).toMatch(/npm dedupe/);
  });

  it('exits non-zero exactly when no backend loads', () => {
    expect(doctorExitCode(base)).toBe(0);
    const none = { ...base, auto: null, backends: base.backends.map((b) => ({ ...b, available: false })) };
    expect(doctorExitCode(none)).toBe(1);
    expect(problemsOf(none).map((p) => p.problem)).toContain('no tfjs backend loads: training cannot run');
  });

  it('prints CUDA, tfjs-core copies and the problems with their fixes', () => {
    const text = formatReport({ ...base, problems: problemsOf(base) });
    expect(text).toMatch(/CUDA \(tfjs-node-gpu\) +ldconfig -p: libcudart not found; libcudnn not found/);
    expect(text).toMatch(/tfjs-core copies +1 \(4\.22\.0 at \/x\/node_modules\/@tensorflow\/tfjs-core\)/);
    expect(text).toMatch(/Problems \(1\):\n +✗ tensorflow-gpu: .*\n +fix: install the CUDA 11\.2 runtime/);
  });
});

describe('doctor: this machine', () => {
  it('diagnoses: one tfjs-core copy in this repository, a backend to pick, and no exit failure', async () => {
    const report = await diagnose();
    expect(report.tfjsCoreCopies.length).toBeGreaterThanOrEqual(1);
    expect(new Set(report.tfjsCoreCopies.map((c) => c.version))).toEqual(new Set(['4.22.0']));
    expect(report.auto).toBe(AUTO_BACKEND);
    expect(doctorExitCode(report)).toBe(0);
    expect(report.cuda.checked).toBe(process.platform === 'linux');
    expect(Array.isArray(report.problems)).toBe(true);
  }, 60_000);
});
