// Test-only fault injection: a kill at an exact file-system step, decided by what the code does, not by timing.
//
// Every mutating node:fs/promises call on a path under `root` (mkdir, open, rename, rm, unlink, writeFile, and the
// writeFile/write/sync/close of the file handles it opens) is one step. Armed with `killAt = k`, steps 1 … k-1 run
// and step k and every later one under `root` fail: a dead process changes nothing more, so the disk then holds
// exactly what a SIGKILL before step k leaves (page cache included — what a kill, unlike a power cut, keeps).
// Patched through `syncBuiltinESMExports`, which updates the ESM bindings the code under test imported.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

type AnyFunction = (...args: unknown[]) => unknown;

const fsp = createRequire(import.meta.url)('node:fs/promises') as Record<string, AnyFunction>;
const GATED = ['mkdir', 'open', 'rename', 'rm', 'rmdir', 'unlink', 'writeFile', 'appendFile', 'truncate', 'copyFile'] as const;
const HANDLE_METHODS = ['writeFile', 'write', 'writev', 'sync', 'datasync', 'close', 'truncate'] as const;

/** A fault injector bound to one directory tree; `dispose()` restores node:fs/promises. */
export interface FsFaults {
  /** Steps seen since the last `arm`, as `op path` (relative to `root`). */
  readonly steps: readonly string[];
  /** Starts counting steps from zero; with `killAt`, step `killAt` and every later one fail. */
  arm(killAt?: number): void;
  /** Stops counting and failing (the disk is what the "killed" process left). */
  disarm(): void;
  /** Whether the kill happened since the last `arm`. */
  readonly killed: boolean;
  dispose(): void;
}

export class InjectedKill extends Error {
  override readonly name = 'InjectedKill';
}

export function injectFsFaults(root: string): FsFaults {
  const base = resolve(root);
  const originals = Object.fromEntries(GATED.map((name) => [name, fsp[name]!])) as Record<(typeof GATED)[number], AnyFunction>;
  let armed = false;
  let killAt = Number.POSITIVE_INFINITY;
  let killed = false;
  const steps: string[] = [];
  const under = (path: unknown) => typeof path === 'string' && (resolve(path) === base || resolve(path).startsWith(base + sep));
  const relative = (path: string) => resolve(path).slice(base.length + 1);

  /** Counts one step on `path`; throws when the process is "dead". */
  const step = (op: string, path: string, to?: string) => {
    if (!armed) return;
    const what = `${op} ${under(path) ? relative(path) : path}${to === undefined ? '' : ` ${relative(to)}`}`;
    if (killed || steps.length + 1 >= killAt) {
      killed = true;
      throw new InjectedKill(`killed before ${what}`);
    }
    steps.push(what);
  };

  const gateHandle = (handle: Record<string, AnyFunction>, path: string) => {
    for (const method of HANDLE_METHODS) {
      const original = handle[method];
      if (typeof original !== 'function') continue;
      handle[method] = async function gated(this: unknown, ...args: unknown[]) {
        try {
          step(`handle.${method}`, path);
        } catch (error) {
          // The OS closes a killed process's descriptors without writing anything: so does the emulated kill.
          if (method === 'close') await original.apply(handle, args);
          throw error;
        }
        return original.apply(handle, args);
      };
    }
    return handle;
  };

  for (const name of GATED) {
    const original = originals[name];
    fsp[name] = async function gated(this: unknown, ...args: unknown[]) {
      const target = name === 'rename' || name === 'copyFile' ? args[1] : args[0];
      const source = name === 'rename' || name === 'copyFile' ? args[0] : undefined;
      if (!under(target) && !under(source)) return original.apply(this, args);
      step(name, source === undefined ? String(target) : `${relative(source as string)} →`, source === undefined ? undefined : String(target));
      const result = await original.apply(this, args);
      return name === 'open' ? gateHandle(result as Record<string, AnyFunction>, String(target)) : result;
    };
  }
  syncBuiltinESMExports();

  return {
    steps,
    get killed() {
      return killed;
    },
    arm(at = Number.POSITIVE_INFINITY) {
      steps.length = 0;
      killAt = at;
      killed = false;
      armed = true;
    },
    disarm() {
      armed = false;
    },
    dispose() {
      armed = false;
      Object.assign(fsp, originals);
      syncBuiltinESMExports();
    },
  };
}
