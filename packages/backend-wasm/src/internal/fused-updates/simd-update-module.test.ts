/**
 * The hand-assembled SIMD module on its own memories (plain and shared `WebAssembly.Memory`, growing), through the
 * real kernel functions: a small fake of the wasm backend (bump allocator on the memory, an Emscripten-like module
 * object) runs the SIMD path, a fake of the cpu backend runs the JavaScript loop, and both must agree bit for bit.
 * The loop itself is checked against tfjs' optimizers in fused-optimizers.test.ts.
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { randomValues } from '../../test-support/wasm-kernel-harness.js';
import { FUSED_KERNELS, fusedKernelFunc, setSimdUpdatesEnabled, simdUpdatesOf } from './fused-update-kernels.js';
import { simdUpdateModuleBytes, simdUpdatesFor, simdUpdatesSupported, type WasmMemory } from './simd-update-module.js';

interface Memory extends WasmMemory {
  grow(pages: number): number;
}
interface WasmJs {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => Memory;
  Module: { new (bytes: Uint8Array): object; exports(m: object): Array<{ name: string; kind: string }>; imports(m: object): Array<{ module: string; name: string; kind: string }> };
  validate(bytes: Uint8Array): boolean;
}
const WA = (globalThis as unknown as { WebAssembly: WasmJs }).WebAssembly;

type Placement = 'asm.memory' | 'wasmMemory' | 'wasmExports.memory';

/** A stand-in for tfjs-backend-wasm: tensors are byte ranges of `memory`, handed out by a bump allocator. */
class FakeWasmBackend {
  readonly wasm: { HEAPU8: Uint8Array; asm?: Record<string, unknown>; wasmMemory?: unknown; wasmExports?: Record<string, unknown> };
  private readonly offsets = new Map<object, number>();
  /** Starts at 4 mod 16 and keeps sizes unrounded, so most tensors are not 16-byte aligned. */
  private top = 68;

  constructor(
    readonly memory: Memory,
    placement: Placement = 'asm.memory',
  ) {
    this.wasm = { HEAPU8: new Uint8Array(memory.buffer) };
    if (placement === 'asm.memory') this.wasm.asm = { memory, other: () => 0 };
    else if (placement === 'wasmMemory') this.wasm.wasmMemory = memory;
    else this.wasm.wasmExports = { memory };
  }

  makeOutput(shape: number[], dtype: 'float32'): TensorInfo {
    const bytes = 4 * shape.reduce((p, q) => p * q, 1);
    const end = this.top + bytes;
    if (end > this.memory.buffer.byteLength) {
      this.memory.grow(Math.ceil((end - this.memory.buffer.byteLength) / 65536));
      this.wasm.HEAPU8 = new Uint8Array(this.memory.buffer); // what Emscripten does after growing
    }
    const dataId = {};
    this.offsets.set(dataId, this.top);
    this.top = end + 4;
    return { dataId, shape, dtype };
  }

  getMemoryOffset(dataId: object): number {
    return this.offsets.get(dataId)!;
  }

  typedArrayFromHeap(info: TensorInfo): Float32Array {
    return new Float32Array(this.wasm.HEAPU8.buffer, this.getMemoryOffset(info.dataId), info.shape.reduce((p, q) => p * q, 1));
  }

  tensor(values: Float32Array, shape: number[]): TensorInfo {
    const info = this.makeOutput(shape, 'float32');
    this.typedArrayFromHeap(info).set(values);
    return info;
  }

  read(info: TensorInfo): Float32Array {
    return this.typedArrayFromHeap(info).slice();
  }
}

/** A stand-in for tfjs' cpu backend (plain typed arrays): the fused kernels run their JavaScript loops on it. */
class FakeCpuBackend {
  private readonly store = new Map<object, { values: Float32Array }>();
  readonly data = { get: (dataId: object) => this.store.get(dataId) };

  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo {
    const dataId = {};
    this.store.set(dataId, { values });
    return { dataId, shape, dtype };
  }

  tensor(values: Float32Array, shape: number[]): TensorInfo {
    return this.makeTensorInfo(shape, 'float32', values.slice());
  }

  read(info: TensorInfo): Float32Array {
    return this.store.get(info.dataId)!.values.slice();
  }
}

type Backend = FakeWasmBackend | FakeCpuBackend;

interface Case {
  readonly label: string;
  readonly kernel: string;
  readonly attrs: NamedAttrMap;
  /** Elementwise inputs in kernel order; outputs replace them in that order (value first). */
  readonly state: readonly string[];
  /** Initial values of the state after `value` and `gradient` (slot `name`), from a uniform u in [-1, 1). */
  readonly init: (u: number, name: string) => number;
  readonly adamScalars?: boolean;
}

const CASES: readonly Case[] = [
  { label: 'adam', kernel: FUSED_KERNELS.adam, attrs: { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, learningRate: 0.01 }, state: ['value', 'gradient', 'm', 'v'], init: (u) => Math.abs(u) * 0.01, adamScalars: true },
  { label: 'adam (custom)', kernel: FUSED_KERNELS.adam, attrs: { beta1: 0.8, beta2: 0.99, epsilon: 1e-5, learningRate: 0.003 }, state: ['value', 'gradient', 'm', 'v'], init: (u) => Math.abs(u), adamScalars: true },
  { label: 'rmsprop', kernel: FUSED_KERNELS.rmsprop, attrs: { decay: 0.9, momentum: 0.3, epsilon: 1e-7, learningRate: 0.01, centered: false }, state: ['value', 'gradient', 'ms', 'mom'], init: (u) => Math.abs(u) },
  // ms ≥ 1 ≫ mg²: sqrt(ms − mg² + ε) stays real.
  {
    label: 'rmsprop (centered)',
    kernel: FUSED_KERNELS.rmsprop,
    attrs: { decay: 0.85, momentum: 0.5, epsilon: 1e-12, learningRate: 0.01, centered: true },
    state: ['value', 'gradient', 'ms', 'mom', 'mg'],
    init: (u, name) => (name === 'ms' ? 1 + Math.abs(u) : 0.1 * u),
  },
  { label: 'momentum', kernel: FUSED_KERNELS.momentum, attrs: { momentum: 0.9, learningRate: 0.05, nesterov: false }, state: ['value', 'gradient', 'acc'], init: (u) => u },
  { label: 'momentum (nesterov)', kernel: FUSED_KERNELS.momentum, attrs: { momentum: 0.8, learningRate: 0.05, nesterov: true }, state: ['value', 'gradient', 'acc'], init: (u) => u },
  { label: 'sgd', kernel: FUSED_KERNELS.sgd, attrs: { learningRate: 0.1 }, state: ['value', 'gradient'], init: (u) => u },
];

/** Sizes around the vector width (tails of 0–3 elements) and one large variable. */
const SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 1023, 200_003];
const STEPS = 3;

/** Zeros of both signs, subnormals and large magnitudes among the random values (non-negative where a moment must be). */
function withSpecials(values: Float32Array, nonNegative: boolean): Float32Array {
  const specials = nonNegative ? [0, 1e-40, 3e-39, 1e-30, 1e20] : [0, -0, 1e-40, -3e-39, 1e-30, -1e20, 7e19];
  for (let i = 0; i < values.length; i += 7) values[i] = specials[(i / 7) % specials.length]!;
  return values;
}

function initialState(c: Case, size: number, seed: number): Float32Array[] {
  const nonNegativeSlot = c.label.startsWith('adam') || c.label.startsWith('rmsprop');
  return c.state.map((name, k) => {
    const u = randomValues(size, seed * 31 + k);
    if (name === 'value') return withSpecials(u, false);
    if (name === 'gradient') return u;
    const slot = Float32Array.from(u, (x) => c.init(x, name));
    // Specials in the first moment/accumulator only: a huge v or ms with g ≈ 1 would still be fine, but the
    // centered RMSProp needs ms ≥ mg² + ε.
    return k === 2 && !c.label.startsWith('rmsprop (centered)') ? withSpecials(slot, nonNegativeSlot) : slot;
  });
}

/** Runs `STEPS` updates of one variable of `size` elements on `backend`; returns the final state. */
function runSteps(c: Case, backend: Backend, size: number, seed: number): Float32Array[] {
  const kernel: KernelFunc = fusedKernelFunc(c.kernel as (typeof FUSED_KERNELS)[keyof typeof FUSED_KERNELS]);
  const shape = [size];
  let [value, , ...slots] = initialState(c, size, seed).map((values) => backend.tensor(values, shape));
  let accBeta1 = 0.9;
  let accBeta2 = 0.999;
  for (let step = 0; step < STEPS; step++) {
    const gradient = backend.tensor(randomValues(size, seed + 1000 * (step + 1)), shape);
    const inputs: Record<string, TensorInfo> = { value: value!, gradient };
    c.state.slice(2).forEach((name, k) => (inputs[name] = slots[k]!));
    if (c.adamScalars) {
      inputs['accBeta1'] = backend.tensor(new Float32Array([accBeta1]), []);
      inputs['accBeta2'] = backend.tensor(new Float32Array([accBeta2]), []);
      accBeta1 = Math.fround(accBeta1 * Math.fround(c.attrs['beta1'] as number));
      accBeta2 = Math.fround(accBeta2 * Math.fround(c.attrs['beta2'] as number));
    }
    const out = kernel({ inputs, backend: backend as never, attrs: c.attrs }) as TensorInfo[];
    expect(out).toHaveLength(c.state.length - 1);
    [value, ...slots] = out;
  }
  return [value!, ...slots].map((info) => backend.read(info));
}

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Index of the first element whose bits differ (−1: identical; −2: lengths differ). Faster than a deep equal. */
function firstMismatch(actual: Float32Array, expected: Float32Array): number {
  const [a, b] = [bits(actual), bits(expected)];
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function memoryOf(kind: 'plain' | 'shared'): Memory {
  return kind === 'shared' ? new WA.Memory({ initial: 1, maximum: 16384, shared: true }) : new WA.Memory({ initial: 1 });
}

describe('SIMD optimizer-update module', () => {
  afterEach(() => setSimdUpdatesEnabled(true));

  it('validates, plain and shared, with the six kernels exported and the memory imported', () => {
    for (const shared of [false, true]) {
      const bytes = simdUpdateModuleBytes(shared);
      expect([...bytes.slice(0, 8)]).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
      expect(WA.validate(bytes)).toBe(true);
      expect(simdUpdatesSupported(shared)).toBe(true);
      const module = new WA.Module(bytes);
      expect(WA.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
      expect(WA.Module.exports(module).map((e) => `${e.name}:${e.kind}`)).toEqual(
        ['adam', 'rmsprop', 'rmspropCentered', 'momentum', 'nesterov', 'sgd'].map((n) => `${n}:function`),
      );
    }
    // Only the import's limits differ: flag 0x00 + min 0, or flag 0x03 (shared, max) + min 0 + max 65536 pages.
    const plain = simdUpdateModuleBytes(false);
    const shared = simdUpdateModuleBytes(true);
    expect(shared.length).toBe(plain.length + 3);
    // Import section: id 2, size, 1 import, "env" "memory", kind 2 (memory), limits.
    const memoryImport = Buffer.from([...new TextEncoder().encode('\x03env\x06memory'), 0x02]);
    const at = Buffer.from(plain).indexOf(memoryImport);
    expect(at).toBeGreaterThan(0);
    expect(Buffer.from(shared).indexOf(memoryImport)).toBe(at);
    expect([...plain.slice(at - 3, at)]).toEqual([0x02, memoryImport.length + 3, 1]);
    expect([...shared.slice(at - 3, at)]).toEqual([0x02, memoryImport.length + 6, 1]);
    expect([...plain.slice(at + memoryImport.length, at + memoryImport.length + 2)]).toEqual([0x00, 0x00]);
    expect([...shared.slice(at + memoryImport.length, at + memoryImport.length + 5)]).toEqual([0x03, 0x00, 0x80, 0x80, 0x04]);
    expect(plain.slice(0, at - 2)).toEqual(shared.slice(0, at - 2));
    expect(plain.slice(at + memoryImport.length + 2)).toEqual(shared.slice(at + memoryImport.length + 5));
  });

  describe.each(['plain', 'shared'] as const)('on a %s memory', (kind) => {
    it.each(CASES.map((c) => [c.label, c] as const))(
      '%s: 3 steps equal the JavaScript loop bit for bit, sizes 0–31 (every tail length), 1023 and 200 003',
      (_, c) => {
        const wasm = new FakeWasmBackend(memoryOf(kind));
        expect(simdUpdatesOf(wasm)).toBeDefined(); // the SIMD path runs, not the loop
        SIZES.forEach((size, i) => {
          const ours = runSteps(c, wasm, size, 10 + i);
          const reference = runSteps(c, new FakeCpuBackend(), size, 10 + i);
          ours.forEach((values, k) => {
            expect(values.some(Number.isNaN), `${c.label} size ${size} output ${k} has NaN`).toBe(false);
            expect(firstMismatch(values, reference[k]!), `${c.label} size ${size} output ${k}: first element that differs`).toBe(-1);
          });
        });
      },
    );
  });

  it('keeps working as the memory grows, with one instance per memory', () => {
    const memory = memoryOf('plain');
    const wasm = new FakeWasmBackend(memory);
    const kernels = simdUpdatesOf(wasm);
    expect(kernels).toBeDefined();
    const c = CASES[0]!;
    const pagesBefore = memory.buffer.byteLength / 65536;
    const ours = runSteps(c, wasm, 100_001, 7); // ≈ 3 MB: grows the 1-page memory many times, between kernel calls
    expect(memory.buffer.byteLength / 65536).toBeGreaterThan(pagesBefore + 40);
    runSteps(c, new FakeCpuBackend(), 100_001, 7).forEach((ref, k) => expect(firstMismatch(ours[k]!, ref)).toBe(-1));
    expect(simdUpdatesOf(wasm)).toBe(kernels);
    expect(simdUpdatesFor(memory)).toBe(kernels);
  });

  it.each(['asm.memory', 'wasmMemory', 'wasmExports.memory'] as const)('finds the heap memory at %s', (placement) => {
    const memory = memoryOf(placement === 'wasmMemory' ? 'shared' : 'plain');
    expect(simdUpdatesOf(new FakeWasmBackend(memory, placement))).toBe(simdUpdatesFor(memory));
  });

  it('falls back to the JavaScript loop where the memory cannot be found, on the cpu backend, or when turned off', () => {
    const lost = new FakeWasmBackend(memoryOf('plain'));
    lost.wasm.asm = {}; // no memory among the exports
    expect(simdUpdatesOf(lost)).toBeUndefined();
    const c = CASES[0]!;
    const reference = runSteps(c, new FakeCpuBackend(), 37, 3);
    runSteps(c, lost, 37, 3).forEach((values, k) => expect(firstMismatch(values, reference[k]!)).toBe(-1));

    expect(simdUpdatesOf(new FakeCpuBackend())).toBeUndefined();
    expect(simdUpdatesFor({ buffer: new ArrayBuffer(65536) })).toBeUndefined(); // not a WebAssembly.Memory

    const wasm = new FakeWasmBackend(memoryOf('plain'));
    setSimdUpdatesEnabled(false);
    expect(simdUpdatesOf(wasm)).toBeUndefined();
    setSimdUpdatesEnabled(true);
    expect(simdUpdatesOf(wasm)).toBeDefined();
  });
});
