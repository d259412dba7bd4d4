/**
 * A small WebAssembly module, assembled here byte by byte, that runs the fused optimizer updates (Adam, RMSProp,
 * momentum, SGD) in one SIMD pass directly on the tfjs wasm backend's heap.
 *
 * Why: the scalar JavaScript loop of fused-update-kernels.ts costs ≈13 ns/element and tfjs' own ≈14 XNNPACK
 * elementwise kernels ≈3.5 ns/element summed (plus a dispatch and an allocation each). One f32x4 pass measures, on a
 * 200 704-element variable (Zen 4, Node 20, one process): Adam 1.08 ns/element, RMSProp 0.65, momentum 0.24, SGD 0.16.
 * SGD and momentum are memory-bound (12–20 bytes/element); Adam is bound by the divider — per 4 elements it needs
 * 3 `f32x4.div` and 1 `f32x4.sqrt` (m/c1, v/c2, the quotient, √), which bit-identity with tfjs forbids replacing by
 * reciprocal multiplications, and WebAssembly has no FMA for a corrected quotient.
 *
 * Why by hand: no WebAssembly toolchain (clang, wat2wasm, binaryen) is part of the build, and none is needed for six
 * straight-line loops. The functions are written as formulas (see {@link SPECS}) and a ~150-line assembler below turns
 * each into a vector loop and a scalar tail that run the same float32 operations in the same order — so both are
 * bit-identical to tfjs (wasm `f32x4.add/sub/mul/div/sqrt` and `f32.add/…/sqrt` are IEEE-754 correctly rounded per lane,
 * denormals included; nothing is fused or reassociated). The bytes were cross-checked against the `wabt` npm package
 * (wat2wasm/wasm2wat) during development; at run time only `WebAssembly.validate` checks them.
 *
 * Module layout (binary format, https://webassembly.github.io/spec/core/binary/):
 *
 *   magic `\0asm`, version 1
 *   type section (1)     one func type per kernel: (i32 × pointers, i32 n, f32 × parameters) → ()
 *   import section (2)   `env.memory`: the backend's own memory. Non-shared: limits flag 0x00, min 0 (any current size
 *                        and maximum match). Shared (the threaded build, SharedArrayBuffer heap): flag 0x03, min 0,
 *                        max 65536 pages — a shared memory import must be declared shared and with a maximum ≥ the
 *                        imported one's, and 65536 pages (4 GiB) is the largest there is.
 *   function section (3) function i has type i
 *   export section (7)   the kernels by name (`adam`, `rmsprop`, `rmspropCentered`, `momentum`, `nesterov`, `sgd`)
 *   code section (10)    one body per kernel, laid out as
 *
 *     params:  inputs… outputs… (i32 byte offsets into the heap), n (i32, elements), scalars… (f32)
 *     locals:  i, end4, endAll (i32) · one v128 per scalar (its splat) · one v128 per `let` · one f32 per `let`
 *       end4   = (n & −4) << 2            ;; bytes covered by whole f32x4 vectors
 *       endAll = n << 2
 *       splat_k = f32x4.splat(scalar_k)   ;; once per call
 *       block loop                        ;; vector loop, i advances 16 bytes
 *         br_if 1 (i ≥u end4)
 *         for each statement:  let  → <expr as f32x4> local.set vlet
 *                              store → local.get out; local.get i; i32.add; <expr as f32x4>; v128.store
 *         i += 16; br 0
 *       end end
 *       block loop                        ;; scalar tail (n % 4 elements), i advances 4 bytes
 *         br_if 1 (i ≥u endAll)
 *         the same statements with f32 ops, f32.load/f32.store and the unsplatted scalars
 *         i += 4; br 0
 *       end end
 *     an input element is `local.get ptr; local.get i; i32.add; v128.load` (f32.load in the tail); memarg alignment
 *     is 2^2 (float32 tensors are only guaranteed 4-byte aligned; unaligned v128 access is legal, the hint is a hint)
 *
 * It is compiled synchronously (`new WebAssembly.Module`, kernels are synchronous): at ≈1.9 KB it is under the 4 KB
 * that Chrome allows for synchronous compilation on the main thread.
 *
 * The module imports the memory, it does not own one: tensors stay where tfjs allocated them, the kernel receives their
 * byte offsets (what `backend.typedArrayFromHeap` views), and heap growth is seen automatically because a
 * `WebAssembly.Memory` object keeps its identity when it grows. One instance is made per backend memory and cached.
 */

/** f32 scalar expression over the current element of the input streams, evaluated per lane. */
type Expr =
  | { readonly k: 'in'; readonly name: string }
  | { readonly k: 'param'; readonly name: string }
  | { readonly k: 'let'; readonly name: string }
  | { readonly k: 'bin'; readonly op: 'add' | 'sub' | 'mul' | 'div'; readonly a: Expr; readonly b: Expr }
  | { readonly k: 'sqrt'; readonly a: Expr };

type Statement = { readonly let: string; readonly value: Expr } | { readonly store: string; readonly value: Expr };

interface KernelSpec {
  readonly name: string;
  /** Input streams (heap byte offsets), in parameter order. */
  readonly inputs: readonly string[];
  /** Output streams (heap byte offsets), after the inputs. */
  readonly outputs: readonly string[];
  /** f32 scalars, after the element count. */
  readonly scalars: readonly string[];
  readonly body: readonly Statement[];
}

const load = (name: string): Expr => ({ k: 'in', name });
const s = (name: string): Expr => ({ k: 'param', name });
const ref = (name: string): Expr => ({ k: 'let', name });
const add = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'add', a, b });
const sub = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'sub', a, b });
const mul = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'mul', a, b });
const div = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'div', a, b });
const sqrt = (a: Expr): Expr => ({ k: 'sqrt', a });

/**
 * The kernels, as the float32 steps of tfjs' optimizers (operand order included, though + and × are commutative
 * exactly). Same formulas as the JavaScript loops in fused-update-kernels.ts, which document the scalars.
 */
const SPECS: readonly KernelSpec[] = [
  {
    // m = m·b1 + g·(1−b1); v = v·b2 + g²·(1−b2); x = ((m/c1) / (√(v/c2) + ε))·(−lr) + x
    name: 'adam',
    inputs: ['x', 'g', 'm', 'v'],
    outputs: ['xOut', 'mOut', 'vOut'],
    scalars: ['b1', 'oneMinusB1', 'b2', 'oneMinusB2', 'c1', 'c2', 'eps', 'negLr'],
    body: [
      { let: 'g', value: load('g') },
      { let: 'm', value: add(mul(load('m'), s('b1')), mul(ref('g'), s('oneMinusB1'))) },
      { let: 'v', value: add(mul(load('v'), s('b2')), mul(mul(ref('g'), ref('g')), s('oneMinusB2'))) },
      { store: 'mOut', value: ref('m') },
      { store: 'vOut', value: ref('v') },
      { store: 'xOut', value: add(mul(div(div(ref('m'), s('c1')), add(sqrt(div(ref('v'), s('c2'))), s('eps'))), s('negLr')), load('x')) },
    ],
  },
  {
    // ms = ms·d + g²·(1−d); mom = mom·μ + (g·lr) / √(ms + ε); x = x − mom
    name: 'rmsprop',
    inputs: ['x', 'g', 'ms', 'mom'],
    outputs: ['xOut', 'msOut', 'momOut'],
    scalars: ['d', 'oneMinusD', 'mu', 'eps', 'lr'],
    body: [
      { let: 'g', value: load('g') },
      { let: 'ms', value: add(mul(load('ms'), s('d')), mul(mul(ref('g'), ref('g')), s('oneMinusD'))) },
      { let: 'mom', value: add(mul(load('mom'), s('mu')), div(mul(ref('g'), s('lr')), sqrt(add(ref('ms'), s('eps'))))) },
      { store: 'msOut', value: ref('ms') },
      { store: 'momOut', value: ref('mom') },
      { store: 'xOut', value: sub(load('x'), ref('mom')) },
    ],
  },
  {
    // … and mg = mg·d + g·(1−d); mom = mom·μ + (g·lr) / √(ms − (mg² + ε))
    name: 'rmspropCentered',
    inputs: ['x', 'g', 'ms', 'mom', 'mg'],
    outputs: ['xOut', 'msOut', 'momOut', 'mgOut'],
    scalars: ['d', 'oneMinusD', 'mu', 'eps', 'lr'],
    body: [
      { let: 'g', value: load('g') },
      { let: 'ms', value: add(mul(load('ms'), s('d')), mul(mul(ref('g'), ref('g')), s('oneMinusD'))) },
      { let: 'mg', value: add(mul(load('mg'), s('d')), mul(ref('g'), s('oneMinusD'))) },
      {
        let: 'mom',
        value: add(mul(load('mom'), s('mu')), div(mul(ref('g'), s('lr')), sqrt(sub(ref('ms'), add(mul(ref('mg'), ref('mg')), s('eps')))))),
      },
      { store: 'msOut', value: ref('ms') },
      { store: 'mgOut', value: ref('mg') },
      { store: 'momOut', value: ref('mom') },
      { store: 'xOut', value: sub(load('x'), ref('mom')) },
    ],
  },
  {
    // acc = μ·acc + g; x = c·acc + x   (c = −lr)
    name: 'momentum',
    inputs: ['x', 'g', 'acc'],
    outputs: ['xOut', 'accOut'],
    scalars: ['mu', 'c'],
    body: [
      { let: 'acc', value: add(mul(s('mu'), load('acc')), load('g')) },
      { store: 'accOut', value: ref('acc') },
      { store: 'xOut', value: add(mul(s('c'), ref('acc')), load('x')) },
    ],
  },
  {
    // acc = μ·acc + g; x = c·(g + acc·μ) + x
    name: 'nesterov',
    inputs: ['x', 'g', 'acc'],
    outputs: ['xOut', 'accOut'],
    scalars: ['mu', 'c'],
    body: [
      { let: 'g', value: load('g') },
      { let: 'acc', value: add(mul(s('mu'), load('acc')), ref('g')) },
      { store: 'accOut', value: ref('acc') },
      { store: 'xOut', value: add(mul(s('c'), add(ref('g'), mul(ref('acc'), s('mu')))), load('x')) },
    ],
  },
  {
    // x = c·g + x
    name: 'sgd',
    inputs: ['x', 'g'],
    outputs: ['xOut'],
    scalars: ['c'],
    body: [{ store: 'xOut', value: add(mul(s('c'), load('g')), load('x')) }],
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Assembler: LEB128, sections, opcodes (only those used).

/** Unsigned LEB128. */
function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: readonly number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const EMPTY_BLOCK = 0x40;

const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** SIMD instructions: prefix 0xfd, then the opcode as unsigned LEB128. */
const SIMD_PREFIX = 0xfd;
const SIMD = { v128Load: 0x00, v128Store: 0x0b, f32x4Splat: 0x13, f32x4Sqrt: 0xe3, f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Div: 0xe7 } as const;
const simd = (op: number): number[] => [SIMD_PREFIX, ...uleb(op)];

/** memarg: alignment 2^2 (float32), offset 0. */
const MEMARG = [2, 0];

const BIN_OPS = {
  add: { scalar: [OP.f32Add], vector: simd(SIMD.f32x4Add) },
  sub: { scalar: [OP.f32Sub], vector: simd(SIMD.f32x4Sub) },
  mul: { scalar: [OP.f32Mul], vector: simd(SIMD.f32x4Mul) },
  div: { scalar: [OP.f32Div], vector: simd(SIMD.f32x4Div) },
} as const;

function lookup(map: ReadonlyMap<string, number>, key: string, what: string, kernel: string): number {
  const index = map.get(key);
  if (index === undefined) throw new Error(`simd-update-module: ${kernel} uses unknown ${what} '${key}'`);
  return index;
}

/** The code-section entry (locals + body) of one kernel. */
function functionBody(spec: KernelSpec): number[] {
  const streams = [...spec.inputs, ...spec.outputs];
  const lets = [...new Set(spec.body.flatMap((st) => ('let' in st ? [st.let] : [])))];
  const n = streams.length;
  const scalarBase = n + 1;
  const iLocal = scalarBase + spec.scalars.length;
  const end4Local = iLocal + 1;
  const endAllLocal = iLocal + 2;
  const splatBase = iLocal + 3;
  const vLetBase = splatBase + spec.scalars.length;
  const sLetBase = vLetBase + lets.length;
  const streamIndex = new Map(streams.map((name, i) => [name, i]));
  const scalarIndex = new Map(spec.scalars.map((name, i) => [name, i]));
  const letIndex = new Map(lets.map((name, i) => [name, i]));

  const get = (local: number): number[] => [OP.localGet, ...uleb(local)];
  const set = (local: number): number[] => [OP.localSet, ...uleb(local)];
  const address = (stream: string): number[] => [...get(lookup(streamIndex, stream, 'stream', spec.name)), ...get(iLocal), OP.i32Add];

  const expr = (e: Expr, vector: boolean): number[] => {
    switch (e.k) {
      case 'in':
        return [...address(e.name), ...(vector ? [...simd(SIMD.v128Load), ...MEMARG] : [OP.f32Load, ...MEMARG])];
      case 'param': {
        const k = lookup(scalarIndex, e.name, 'scalar', spec.name);
        return get(vector ? splatBase + k : scalarBase + k);
      }
      case 'let': {
        const k = lookup(letIndex, e.name, 'let', spec.name);
        return get(vector ? vLetBase + k : sLetBase + k);
      }
      case 'bin':
        return [...expr(e.a, vector), ...expr(e.b, vector), ...BIN_OPS[e.op][vector ? 'vector' : 'scalar']];
      case 'sqrt':
        return [...expr(e.a, vector), ...(vector ? simd(SIMD.f32x4Sqrt) : [OP.f32Sqrt])];
    }
  };
  const statements = (vector: boolean): number[] =>
    spec.body.flatMap((st) =>
      'let' in st
        ? [...expr(st.value, vector), ...set((vector ? vLetBase : sLetBase) + lookup(letIndex, st.let, 'let', spec.name))]
        : [...address(st.store), ...expr(st.value, vector), ...(vector ? [...simd(SIMD.v128Store), ...MEMARG] : [OP.f32Store, ...MEMARG])],
    );
  /** `block loop br_if(i ≥u end) body; i += step; br 0 end end` */
  const loop = (end: number, step: number, body: number[]): number[] => [
    OP.block, EMPTY_BLOCK,
    OP.loop, EMPTY_BLOCK,
    ...get(iLocal), ...get(end), OP.i32GeU, OP.brIf, 1,
    ...body,
    ...get(iLocal), OP.i32Const, ...sleb(step), OP.i32Add, ...set(iLocal),
    OP.br, 0,
    OP.end,
    OP.end,
  ];

  const code = [
    ...get(n), OP.i32Const, ...sleb(-4), OP.i32And, OP.i32Const, 2, OP.i32Shl, ...set(end4Local),
    ...get(n), OP.i32Const, 2, OP.i32Shl, ...set(endAllLocal),
    ...spec.scalars.flatMap((_, k) => [...get(scalarBase + k), ...simd(SIMD.f32x4Splat), ...set(splatBase + k)]),
    ...loop(end4Local, 16, statements(true)),
    ...loop(endAllLocal, 4, statements(false)),
    OP.end,
  ];
  const locals = vec(
    (
      [
        [3, I32],
        [spec.scalars.length + lets.length, V128],
        [lets.length, F32],
      ] as const
    )
      .filter(([count]) => count > 0)
      .map(([count, type]) => [...uleb(count), type]),
  );
  const entry = [...locals, ...code];
  return [...uleb(entry.length), ...entry];
}

/** The module's bytes; `shared` declares the imported memory shared (the threaded backend's heap). */
export function simdUpdateModuleBytes(shared: boolean): Uint8Array {
  const types = SPECS.map((spec) => [
    0x60,
    ...vec([...spec.inputs, ...spec.outputs, 'n'].map(() => [I32]).concat(spec.scalars.map(() => [F32]))),
    ...vec([]),
  ]);
  const memoryLimits = shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const imports = vec([[...name('env'), ...name('memory'), 0x02, ...memoryLimits]]);
  const functions = vec(SPECS.map((_, i) => uleb(i)));
  const exports = vec(SPECS.map((spec, i) => [...name(spec.name), 0x00, ...uleb(i)]));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, functions),
    ...section(7, exports),
    ...section(10, vec(SPECS.map(functionBody))),
  ];
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------------------------
// Instantiation on a memory.

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

/** Heap byte offsets are passed as i32: offsets ≥ 2 GiB wrap to negative numbers with the same bits. */
export interface SimdUpdates {
  adam(x: number, g: number, m: number, v: number, xOut: number, mOut: number, vOut: number, n: number, b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, c1: number, c2: number, eps: number, negLr: number): void;
  rmsprop(x: number, g: number, ms: number, mom: number, xOut: number, msOut: number, momOut: number, n: number, d: number, oneMinusD: number, mu: number, eps: number, lr: number): void;
  rmspropCentered(x: number, g: number, ms: number, mom: number, mg: number, xOut: number, msOut: number, momOut: number, mgOut: number, n: number, d: number, oneMinusD: number, mu: number, eps: number, lr: number): void;
  momentum(x: number, g: number, acc: number, xOut: number, accOut: number, n: number, mu: number, c: number): void;
  nesterov(x: number, g: number, acc: number, xOut: number, accOut: number, n: number, mu: number, c: number): void;
  sgd(x: number, g: number, xOut: number, n: number, c: number): void;
}

function wasmApi(): WasmApi | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return typeof api?.validate === 'function' && typeof api.Module === 'function' ? api : undefined;
}

function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;
}

/** Compiled modules (non-shared, shared); `null` when the engine rejects the bytes (no SIMD, no threads). */
const compiled = new Map<boolean, object | null>();
const instances = new WeakMap<WasmMemory, SimdUpdates | null>();

function compile(api: WasmApi, shared: boolean): object | null {
  let module = compiled.get(shared);
  if (module === undefined) {
    const bytes = simdUpdateModuleBytes(shared);
    try {
      module = api.validate(bytes) ? new api.Module(bytes) : null;
    } catch {
      module = null;
    }
    compiled.set(shared, module);
  }
  return module;
}

/**
 * The SIMD kernels bound to `memory`, or `undefined` where this engine cannot run them (no WebAssembly SIMD, or a
 * shared memory without threads support) or the memory cannot be imported. Cached per memory.
 */
export function simdUpdatesFor(memory: WasmMemory): SimdUpdates | undefined {
  const cached = instances.get(memory);
  if (cached !== undefined) return cached ?? undefined;
  const api = wasmApi();
  let result: SimdUpdates | null = null;
  if (api !== undefined && memory instanceof api.Memory) {
    const module = compile(api, isShared(memory.buffer));
    if (module !== null) {
      try {
        const { exports } = new api.Instance(module, { env: { memory } });
        if (SPECS.every((spec) => typeof exports[spec.name] === 'function')) result = exports as unknown as SimdUpdates;
      } catch {
        result = null;
      }
    }
  }
  instances.set(memory, result);
  return result ?? undefined;
}

/** Whether this engine validates the module (WebAssembly SIMD available); `shared` for the shared-memory variant. */
export function simdUpdatesSupported(shared = false): boolean {
  const api = wasmApi();
  return api !== undefined && compile(api, shared) !== null;
}
