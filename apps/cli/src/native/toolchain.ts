import { access, constants, realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { NativeInstallError } from './native-install-error.js';
import { runProcess } from './run-process.js';

/** What building the tfjs-node binding needs besides TensorFlow: a C++ compiler, make, Node's headers and node-gyp. */
export interface Toolchain {
  /** `c++ --version`'s first line. */
  readonly compiler: string;
  /** A folder holding `include/node/node_api.h` (node-gyp's `--nodedir`): no header download. */
  readonly nodeDir: string;
  /** node-gyp's entry script, run with this Node. */
  readonly nodeGyp: string;
  /** The Python node-gyp runs gyp with. */
  readonly python: string;
}

/** Options of {@link findToolchain}. */
export interface FindToolchainOptions {
  /** A folder with `include/node` (default: the headers installed beside this Node binary). */
  readonly nodeDir?: string;
  /** The Python for gyp (default: the one TensorFlow was found with, else `python3`). */
  readonly python?: string;
  /** Where to resolve a project-local node-gyp from (default: the working directory). */
  readonly projectDir?: string;
  readonly signal?: AbortSignal;
}

const BUILD_TOOLS_FIX =
  process.platform === 'darwin'
    ? 'xcode-select --install'
    : 'sudo apt-get install -y build-essential python3   (Fedora: sudo dnf install gcc-c++ make python3)';

/** Checks every build tool and names the one that is missing with the command that installs it. */
export async function findToolchain(options: FindToolchainOptions = {}): Promise<Toolchain> {
  const signal = options.signal ? { signal: options.signal } : {};
  const cxx = process.env['CXX'] ?? 'c++';
  const compiler = await runProcess(cxx, ['--version'], { timeoutMs: 30_000, ...signal });
  if (compiler.code !== 0) {
    throw new NativeInstallError('toolchain', `No C++ compiler: \`${cxx} --version\` ${compiler.failure === 'ENOENT' ? 'was not found' : 'failed'}.`, BUILD_TOOLS_FIX);
  }
  const make = await runProcess('make', ['--version'], { timeoutMs: 30_000, ...signal });
  if (make.code !== 0) throw new NativeInstallError('toolchain', 'No `make` on PATH (node-gyp builds with it).', BUILD_TOOLS_FIX);
  const python = options.python ?? 'python3';
  const py = await runProcess(python, ['--version'], { timeoutMs: 30_000, ...signal });
  if (py.code !== 0) throw new NativeInstallError('toolchain', `node-gyp needs Python 3, and "${python}" did not run.`, BUILD_TOOLS_FIX);
  return {
    compiler: compiler.stdout.split('\n')[0]?.trim() ?? cxx,
    nodeDir: await findNodeHeaders(options.nodeDir),
    nodeGyp: await findNodeGyp(options.projectDir ?? process.cwd()),
    python,
  };
}

/**
 * Node's headers: official Node builds (nodejs.org tarballs, nvm, Docker images) install them at
 * `<prefix>/include/node` beside `<prefix>/bin/node`. Without them node-gyp would download them, which needs a network.
 */
export async function findNodeHeaders(nodeDir?: string): Promise<string> {
  const candidates = nodeDir !== undefined ? [resolve(nodeDir)] : [dirname(dirname(await realpath(process.execPath))), '/usr', '/usr/local'];
  for (const dir of candidates) {
    try {
      await access(join(dir, 'include', 'node', 'node_api.h'), constants.R_OK);
      return dir;
    } catch {
      /* try the next */
    }
  }
  throw new NativeInstallError(
    'toolchain',
    `Node.js ${process.version}'s headers (include/node/node_api.h) are not in ${candidates.join(', ')}.`,
    'install Node.js from nodejs.org or with nvm (both ship the headers), or your distribution\'s nodejs-dev/libnode-dev package; or name a folder holding include/node with --nodedir <dir>',
  );
}

/**
 * node-gyp: a copy the project installed, else the one npm bundles (npm ships node-gyp to build dependencies' addons;
 * `npm_execpath` names npm's own script when fitstream runs under npm/npx, else npm is found beside this Node).
 */
export async function findNodeGyp(projectDir: string): Promise<string> {
  const candidates: string[] = [];
  try {
    candidates.push(createRequire(join(resolve(projectDir), 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed in the project */
  }
  const npmScript = process.env['npm_execpath'];
  if (npmScript) candidates.push(join(dirname(dirname(npmScript)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = dirname(dirname(await realpath(process.execPath)));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const file of candidates) {
    try {
      await access(file, constants.R_OK);
      return file;
    } catch {
      /* try the next */
    }
  }
  throw new NativeInstallError('toolchain', `node-gyp was not found (looked in: ${candidates.join(', ')}).`, 'npm install --save-dev node-gyp   (in this project), then retry');
}
