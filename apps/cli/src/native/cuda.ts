import { execFile } from 'node:child_process';
import { NativeInstallError } from './native-install-error.js';

/** What `ldconfig -p` lists for the CUDA runtime and cuDNN (`null`: ldconfig could not be run, e.g. not Linux). */
export interface CudaLibraries {
  readonly checked: boolean;
  /** Versions from the sonames, e.g. `libcudart.so.11.0` → `11.0`; empty when none is found. */
  readonly cudart: readonly string[];
  readonly cudnn: readonly string[];
}

/** Parses `ldconfig -p` output into the CUDA runtime and cuDNN versions it lists (deduplicated, in order). */
export function parseLdconfig(text: string): { cudart: string[]; cudnn: string[] } {
  const versions = (lib: string): string[] => {
    const found = new Set<string>();
    for (const match of text.matchAll(new RegExp(`^\\s*${lib}\\.so(?:\\.([0-9][0-9.]*))?\\s`, 'gm'))) found.add(match[1] ?? 'unversioned');
    return [...found];
  };
  return { cudart: versions('libcudart'), cudnn: versions('libcudnn') };
}

/** Runs `ldconfig -p` (Linux only) and reports the CUDA runtime and cuDNN it lists. */
export async function checkCuda(run: () => Promise<string> = ldconfig): Promise<CudaLibraries> {
  try {
    return { checked: true, ...parseLdconfig(await run()) };
  } catch {
    return { checked: false, cudart: [], cudnn: [] };
  }
}

function ldconfig(): Promise<string> {
  return new Promise((done, fail) => {
    if (process.platform !== 'linux') {
      fail(new Error('ldconfig is Linux-only'));
      return;
    }
    // /sbin is not always on a user's PATH.
    const tryAt = (paths: readonly string[]): void => {
      const [first, ...rest] = paths;
      if (first === undefined) {
        fail(new Error('ldconfig not found'));
        return;
      }
      execFile(first, ['-p'], { timeout: 5000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => (error ? tryAt(rest) : done(stdout)));
    };
    tryAt(['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']);
  });
}


/**
 * Before building tfjs-node-gpu: the CUDA runtime and cuDNN must be loadable, from the `nvidia-*` pip packages that
 * `tensorflow[and-cuda]` installs beside the wheel, or from the system (`ldconfig -p`).
 * @throws NativeInstallError naming what is missing and how to install it.
 */
export async function checkCudaLibraries(
  library: { readonly cudaLibraryDirs: readonly string[]; readonly version: string },
  run: () => Promise<string> = ldconfig,
): Promise<void> {
  const fromPip = (name: string) => library.cudaLibraryDirs.some((dir) => dir.split(/[/\\]/).includes(name));
  if (fromPip('cuda_runtime') && fromPip('cudnn')) return;
  const system = await checkCuda(run);
  if (system.cudart.length > 0 && system.cudnn.length > 0) return;
  const found = system.checked ? `ldconfig -p lists libcudart ${system.cudart.join(', ') || 'none'} and libcudnn ${system.cudnn.join(', ') || 'none'}` : 'ldconfig could not run';
  throw new NativeInstallError(
    'tensorflow',
    `--gpu needs the CUDA runtime and cuDNN that TensorFlow ${library.version} was built for: no nvidia-cuda-runtime/nvidia-cudnn pip packages beside the wheel, and ${found}.`,
    'python3 -m pip install "tensorflow[and-cuda]"   (CUDA 12 and cuDNN 9 as pip packages; needs an NVIDIA driver, see nvidia-smi)',
  );
}
