/**
 * Instantiating the project's hand-assembled WebAssembly modules on the tfjs wasm backend's own memory: finding that
 * memory in the Emscripten glue, compiling a module once per memory kind (shared or not) and instantiating it once per
 * memory. Used by the elementwise SIMD kernels (simd-elementwise.ts) and the strided loops (kernels/heap-simd-loops.ts).
 */

/** The parts of the WebAssembly JS API used here (the project's TypeScript lib has no DOM/WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
}

function wasmApi(): WasmApi | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return typeof api?.validate === 'function' && typeof api.Module === 'function' ? api : undefined;
}

function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;
}

/** Where tfjs-backend-wasm's Emscripten glue keeps the heap's `WebAssembly.Memory` (depends on the build). */
interface EmscriptenModule {
  /** Threaded builds: the shared memory the glue creates and passes to the workers. */
  wasmMemory?: unknown;
  /** Non-threaded builds (Emscripten ≤ 3.1.2x): the instance's exports, memory among them as `memory`. */
  asm?: Record<string, unknown>;
  /** Newer Emscripten names the exports `wasmExports`. */
  wasmExports?: Record<string, unknown>;
  HEAPU8?: Uint8Array;
}

const memories = new WeakMap<object, WasmMemory | null>();

/**
 * The heap memory of a tfjs-backend-wasm instance (the candidate whose buffer is the one the backend's HEAPU8 view is
 * on), cached per Emscripten module; undefined when `backend` has no Emscripten module or its memory is not found.
 */
export function heapMemoryOf(backend: unknown): WasmMemory | undefined {
  const glue = (backend as { wasm?: EmscriptenModule | null } | null)?.wasm;
  if (typeof glue !== 'object' || glue === null) return undefined;
  let memory = memories.get(glue);
  if (memory === undefined) {
    const heap = glue.HEAPU8?.buffer;
    const candidates = [glue.wasmMemory, glue.asm?.['memory'], glue.wasmExports?.['memory'], ...Object.values(glue.asm ?? {})];
    memory = candidates.find((c): c is WasmMemory => typeof c === 'object' && c !== null && heap !== undefined && (c as WasmMemory).buffer === heap) ?? null;
    memories.set(glue, memory);
  }
  return memory ?? undefined;
}

/** A module (its bytes per memory kind, its export names) compiled once per memory kind and instantiated once per memory. */
export class HeapModule<T extends object> {
  /** Compiled modules (non-shared, shared); `null` when the engine rejects the bytes (no SIMD, no threads). */
  readonly #compiled = new Map<boolean, object | null>();
  readonly #instances = new WeakMap<WasmMemory, T | null>();

  constructor(
    private readonly moduleBytes: (shared: boolean) => Uint8Array,
    private readonly exportNames: () => readonly string[],
  ) {}

  /** The module's bytes for a non-shared or shared memory. */
  bytes(shared: boolean): Uint8Array {
    return this.moduleBytes(shared);
  }

  #compile(api: WasmApi, shared: boolean): object | null {
    let module = this.#compiled.get(shared);
    if (module === undefined) {
      const bytes = this.bytes(shared);
      try {
        module = api.validate(bytes) ? new api.Module(bytes) : null;
      } catch {
        module = null;
      }
      this.#compiled.set(shared, module);
    }
    return module;
  }

  /** The compiled module for a non-shared or shared memory (to post to a worker), or undefined where the engine rejects it. */
  compiled(shared: boolean): object | undefined {
    const api = wasmApi();
    return api === undefined ? undefined : (this.#compile(api, shared) ?? undefined);
  }

  /**
   * The functions bound to `memory`, or `undefined` where this engine cannot run them (no WebAssembly SIMD, or a shared
   * memory without threads support) or the memory cannot be imported. Cached per memory.
   */
  for(memory: WasmMemory): T | undefined {
    const cached = this.#instances.get(memory);
    if (cached !== undefined) return cached ?? undefined;
    const api = wasmApi();
    let result: T | null = null;
    if (api !== undefined && memory instanceof api.Memory) {
      const module = this.#compile(api, isShared(memory.buffer));
      if (module !== null) {
        try {
          const { exports } = new api.Instance(module, { env: { memory } });
          if (this.exportNames().every((name) => typeof exports[name] === 'function')) result = exports as unknown as T;
        } catch {
          result = null;
        }
      }
    }
    this.#instances.set(memory, result);
    return result ?? undefined;
  }

  /** The functions bound to `backend`'s heap memory (see {@link heapMemoryOf}), or undefined where they cannot run. */
  forBackend(backend: unknown): T | undefined {
    const memory = heapMemoryOf(backend);
    return memory === undefined ? undefined : this.for(memory);
  }

  /** Whether this engine validates the module (WebAssembly SIMD available); `shared` for the shared-memory variant. */
  supported(shared = false): boolean {
    const api = wasmApi();
    return api !== undefined && this.#compile(api, shared) !== null;
  }
}
