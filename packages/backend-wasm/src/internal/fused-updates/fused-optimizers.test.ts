import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// applyOptimizerUpdate (@fitstream/optimizers) finds these kernels in tfjs' kernel registry by name: these tests are the
// contract between the two packages (names, inputs, attributes, outputs and the maxElements hint of each registration).
import { applyOptimizerUpdate, FUSED_UPDATE_KERNELS, usesFusedUpdate } from '@fitstream/optimizers';
import { installWasmKernels, uninstallWasmKernels } from '../install-wasm-kernels.js';
import { installCpuKernels, uninstallCpuKernels } from '../install-cpu-kernels.js';
import { expectNoLeak, onBackend, randomValues, relativeError, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';
import { FUSED_KERNELS, fusedMaxElements, JS_LOOP_MAX_ELEMENTS, setSimdUpdatesEnabled, simdUpdatesOf } from './fused-update-kernels.js';

const STEPS = 20;
// Sizes 851, 23, 60 and 8000: tails of 3, 3, 0 and 0 elements for the SIMD kernel; the last shape is above
// JS_LOOP_MAX_ELEMENTS, so with the JavaScript loop both the loop and the op-for-op path are checked.
const SHAPES = [[37, 23], [23], [5, 4, 3], [80, 100]];
// A dense kernel of ≥ 200 000 elements (200 703 = 4·50 175 + 3) and every tail length of the SIMD kernel.
const LARGE_SHAPES = [[449, 447], [7], [1], [3, 2], [5, 1], [4]];
const worst = new WorstError();

const CONFIGS: ReadonlyArray<readonly [string, () => tf.Optimizer]> = [
  ['adam', () => tf.train.adam(0.01)],
  ['adam (custom betas, epsilon)', () => tf.train.adam(0.003, 0.8, 0.99, 1e-5)],
  ['rmsprop', () => tf.train.rmsprop(0.01)],
  // Centered: the reference is the op-for-op path of applyOptimizerUpdate (see stockRun), not tfjs' own update, whose
  // denominator is wrong.
  ['rmsprop (momentum, centered)', () => tf.train.rmsprop(0.01, 0.85, 0.5, 1e-7, true)],
  ['momentum', () => tf.train.momentum(0.05, 0.9)],
  ['momentum (nesterov)', () => tf.train.momentum(0.05, 0.8, true)],
  ['sgd', () => tf.train.sgd(0.1)],
];

/** Runs `steps` updates with fixed pseudo-random gradients (one weight gets no gradient in step 3) and returns the state. */
function train(
  make: () => tf.Optimizer,
  fused: boolean,
  arrayForm = false,
  shapes: number[][] = SHAPES,
  steps = STEPS,
  gradientValues: (size: number, seed: number) => Float32Array = randomValues,
): { weights: Float32Array[]; slots: Float32Array[]; iterations: number; accBeta: number[] } {
  const variables = shapes.map((shape, i) => tf.variable(tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), 100 + i), shape)));
  const optimizer = make();
  for (let step = 0; step < steps; step++) {
    const grads: tf.NamedTensorMap = {};
    variables.forEach((v, i) => {
      // A variable without a gradient this step: tfjs skips its update but keeps slots by position.
      if (step === 3 && i === 1) grads[v.name] = null as unknown as tf.Tensor;
      else grads[v.name] = tf.tensor(gradientValues(v.size, 1000 * step + i), v.shape);
    });
    const given = arrayForm ? Object.entries(grads).map(([name, tensor]) => ({ name, tensor })) : grads;
    if (fused) applyOptimizerUpdate(optimizer, given);
    else optimizer.applyGradients(given);
    tf.dispose(Object.values(grads).filter((g) => g !== null));
  }
  const weights = variables.map((v) => v.dataSync().slice() as Float32Array);
  const o = optimizer as unknown as Record<string, unknown>;
  const slotNames = ['accumulatedFirstMoment', 'accumulatedSecondMoment', 'accumulatedMeanSquares', 'accumulatedMoments', 'accumulatedMeanGrads', 'accumulations'];
  const slots = slotNames.flatMap((key) => ((o[key] as Array<{ variable: tf.Variable }> | undefined) ?? []).map((s) => s.variable.dataSync().slice() as Float32Array));
  const accBeta = ['accBeta1', 'accBeta2'].filter((k) => o[k] instanceof tf.Variable).map((k) => (o[k] as tf.Variable).dataSync()[0]!);
  const iterations = optimizer.iterations;
  optimizer.dispose();
  tf.dispose(variables);
  return { weights, slots, iterations, accBeta };
}

/** Index of the first element whose bits differ (−1: identical). Faster than a deep equal on large arrays. */
function firstMismatch(actual: Float32Array, expected: Float32Array | undefined): number {
  if (expected === undefined || actual.length !== expected.length) return -2;
  const [a, b] = [new Uint32Array(actual.buffer, actual.byteOffset, actual.length), new Uint32Array(expected.buffer, expected.byteOffset, expected.length)];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * The run the fused one must equal: the optimizer's own update — except centered RMSProp, whose tfjs update takes
 * √(ms − (mg² + ε)) where Keras, TensorFlow and PyTorch take √(ms − mg² + ε): there it is the op-for-op path (what
 * applyOptimizerUpdate runs where no fused kernel is registered: cpu, or wasm with the kernels uninstalled).
 */
function stockRun(name: string, ...args: Parameters<typeof train>): ReturnType<typeof train> {
  const [make, , ...rest] = args;
  if (!name.includes('centered')) return train(make, false, ...rest);
  if (tf.getBackend() !== 'wasm') return train(make, true, ...rest);
  uninstallWasmKernels(tf);
  try {
    return train(make, true, ...rest);
  } finally {
    installWasmKernels(tf);
  }
}

/** The fused run equals the stock one on wasm bit for bit, and the stock one on cpu to ≤ 1e-6. */
function expectSameState(name: string, fused: ReturnType<typeof train>, stockWasm: ReturnType<typeof train>, reference: ReturnType<typeof train>, steps: number): void {
  fused.weights.forEach((w, i) => {
    expect(worst.record(relativeError(w, reference.weights[i]!), `${name} weight ${i}`)).toBeLessThanOrEqual(1e-6);
    expect(firstMismatch(w, stockWasm.weights[i]), `${name} weight ${i}: first element that differs`).toBe(-1);
  });
  expect(fused.slots).toHaveLength(stockWasm.slots.length);
  fused.slots.forEach((s, i) => {
    expect(worst.record(relativeError(s, reference.slots[i]!), `${name} slot ${i}`)).toBeLessThanOrEqual(1e-6);
    expect(firstMismatch(s, stockWasm.slots[i]), `${name} slot ${i}: first element that differs`).toBe(-1);
  });
  expect(fused.iterations).toBe(steps);
  expect(fused.accBeta).toEqual(stockWasm.accBeta);
}

describe('fused optimizer updates', () => {
  beforeAll(setUpWasmWithKernels);
  afterEach(() => setSimdUpdatesEnabled(true));
  afterAll(() => {
    console.info(`fused optimizers (wasm) vs stock tfjs optimizers (cpu), worst relative error: ${worst.toString()}`);
  });

  it('registers the kernel names @fitstream/optimizers looks up, one per optimizer class', () => {
    expect(FUSED_KERNELS).toEqual(FUSED_UPDATE_KERNELS);
  });

  describe.each([
    ['WebAssembly SIMD kernel', true],
    ['JavaScript loop', false],
  ] as const)('with the %s', (_, simd) => {
    it.each(CONFIGS)('%s: 20 fused steps on wasm equal the stock optimizer on cpu (≤ 1e-6) and on wasm (bit for bit)', async (name, make) => {
      setSimdUpdatesEnabled(simd);
      expect(simdUpdatesOf(tf.backend()) !== undefined).toBe(simd);
      const reference = await onBackend('cpu', () => stockRun(name, make, false));
      const stockWasm = stockRun(name, make, false);
      const probe = make();
      expect(usesFusedUpdate(probe)).toBe(true);
      probe.dispose();
      expectSameState(name, train(make, true), stockWasm, reference, STEPS);
    });
  });

  it.each(CONFIGS)(
    '%s: a variable of 200 703 elements and sizes 1–7 (every SIMD tail), 8 steps, equal the stock optimizer bit for bit',
    async (name, make) => {
      const steps = 8;
      const gradients = (size: number, seed: number): Float32Array => randomValues(size, seed);
      const reference = await onBackend('cpu', () => stockRun(name, make, false, false, LARGE_SHAPES, steps, gradients));
      const stockWasm = stockRun(name, make, false, false, LARGE_SHAPES, steps, gradients);
      expect(simdUpdatesOf(tf.backend())).toBeDefined();
      expectSameState(`${name} (large)`, train(make, true, false, LARGE_SHAPES, steps, gradients), stockWasm, reference, steps);
    },
  );

  it('takes every variable through the SIMD kernel on wasm; the JavaScript loop keeps its limit (cpu, or SIMD off)', async () => {
    expect(fusedMaxElements(tf.backend())).toBe(Number.POSITIVE_INFINITY);
    setSimdUpdatesEnabled(false);
    expect(fusedMaxElements(tf.backend())).toBe(JS_LOOP_MAX_ELEMENTS);
    setSimdUpdatesEnabled(true);
    await onBackend('cpu', () => expect(fusedMaxElements(tf.backend())).toBe(JS_LOOP_MAX_ELEMENTS));
    // @fitstream/optimizers reads the limit from the registration (it imports nothing of this package).
    for (const name of Object.values(FUSED_KERNELS)) {
      expect((tf.getKernel(name, 'wasm') as { maxElements?: unknown } | undefined)?.maxElements).toBe(fusedMaxElements);
    }
    // With the loop, the test shapes straddle its limit, so the loop and the op-for-op path are both checked above.
    const sizes = SHAPES.map((s) => s.reduce((a, b) => a * b, 1));
    expect(sizes.some((n) => n <= JS_LOOP_MAX_ELEMENTS)).toBe(true);
    expect(sizes.some((n) => n > JS_LOOP_MAX_ELEMENTS)).toBe(true);
  });

  it('a learning-rate scale on a large variable equals an optimizer with the scaled rate, bit for bit', () => {
    const run = (lr: number, scale?: number): Float32Array => {
      const v = tf.variable(tf.tensor(randomValues(70_001, 9), [70_001]));
      const optimizer = tf.train.adam(lr);
      for (let step = 0; step < 4; step++) {
        const g = tf.tensor(randomValues(70_001, 90 + step), [70_001]);
        applyOptimizerUpdate(optimizer, { [v.name]: g }, scale === undefined ? undefined : () => scale);
        g.dispose();
      }
      const out = v.dataSync().slice() as Float32Array;
      optimizer.dispose();
      v.dispose();
      return out;
    };
    // Adam's moments do not depend on the rate, so scaling one variable's rate equals an optimizer with lr × factor.
    expect(firstMismatch(run(0.01, 0.3), run(0.01 * 0.3))).toBe(-1);
    expect(firstMismatch(run(0.01, 0.3), run(0.01))).not.toBe(-1);
  });

  it('keeps the same SIMD kernels across heap growth, and updates variables allocated after it', () => {
    const backend = tf.backend() as unknown as { wasm: { asm: { memory: { buffer: ArrayBuffer } } } };
    const memory = backend.wasm.asm.memory;
    const kernels = simdUpdatesOf(backend);
    expect(kernels).toBeDefined();
    const heapBytes = memory.buffer.byteLength;
    const filler = tf.zeros([heapBytes / 4]); // more than the free part of the heap: it must grow
    expect(memory.buffer.byteLength).toBeGreaterThan(heapBytes);
    expect(backend.wasm.asm.memory).toBe(memory);
    expect(simdUpdatesOf(backend)).toBe(kernels);
    const make = (): tf.Optimizer => tf.train.adam(0.01);
    const shapes = [[313, 317], [9]];
    expect(firstMismatch(train(make, true, false, shapes, 3).weights[0]!, train(make, false, false, shapes, 3).weights[0])).toBe(-1);
    filler.dispose();
  });

  it('centered RMSProp takes √(ms − mg² + ε) (Keras, TensorFlow, PyTorch), finite for tiny gradients where tfjs\' own update is NaN, on wasm and cpu', async () => {
    const step = (g: number, fitstream: boolean): number => {
      const v = tf.variable(tf.scalar(1));
      const optimizer = tf.train.rmsprop(0.1, 0.9, 0, 1e-7, true);
      const grad = tf.scalar(g);
      if (fitstream) applyOptimizerUpdate(optimizer, { [v.name]: grad });
      else optimizer.applyGradients({ [v.name]: grad });
      const value = v.dataSync()[0]!;
      tf.dispose([v, grad]);
      optimizer.dispose();
      return value;
    };
    for (const backend of ['wasm', 'cpu'] as const) {
      await onBackend(backend, () => {
        // ms = 0.1·g², mg = 0.1·g: ms − mg² = 0.09·g². tfjs: √(0.09·g² − 1e-7) is NaN for g = 1e-4.
        expect(step(1e-4, false), `${backend}: tfjs' own update`).toBeNaN();
        const expected = 1 - (0.1 * 1e-4) / Math.sqrt(0.09 * 1e-8 + 1e-7);
        expect(step(1e-4, true), backend).toBeCloseTo(expected, 6);
        expect(step(0, true), `${backend}: a zero gradient leaves the value`).toBe(1);
      });
    }
  });

  it('accepts gradients as a NamedTensor array, like applyGradients', () => {
    const make = (): tf.Optimizer => tf.train.adam(0.01);
    expect(train(make, true, true).weights).toEqual(train(make, false, true).weights);
  });

  it('keeps getWeights/setWeights working: a fused run saved after 10 steps and restored continues identically', async () => {
    const run = async (restoreAt: number | undefined): Promise<Float32Array> => {
      const v = tf.variable(tf.tensor(randomValues(40, 5), [8, 5]));
      let optimizer = tf.train.adam(0.02);
      for (let step = 0; step < 16; step++) {
        if (step === restoreAt) {
          const saved = (await optimizer.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
          const extras = [(optimizer as unknown as { accBeta1: tf.Variable }).accBeta1.dataSync()[0]!, (optimizer as unknown as { accBeta2: tf.Variable }).accBeta2.dataSync()[0]!];
          optimizer.dispose();
          optimizer = tf.train.adam(0.02);
          await optimizer.setWeights(saved);
          const o = optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
          o.accBeta1.assign(tf.scalar(extras[0]!));
          o.accBeta2.assign(tf.scalar(extras[1]!));
        }
        const g = tf.tensor(randomValues(40, 50 + step), [8, 5]);
        applyOptimizerUpdate(optimizer, { [v.name]: g });
        g.dispose();
      }
      const out = v.dataSync().slice() as Float32Array;
      optimizer.dispose();
      v.dispose();
      return out;
    };
    expect(await run(10)).toEqual(await run(undefined));
  });

  it('leaves nothing behind: numDataIds and numTensors are flat across steps', () => {
    const v = tf.variable(tf.randomNormal([64, 32]));
    const b = tf.variable(tf.zeros([32]));
    const g = { [v.name]: tf.randomNormal([64, 32]), [b.name]: tf.randomNormal([32]) };
    for (const make of CONFIGS.map(([, m]) => m)) {
      const optimizer = make();
      expectNoLeak(() => applyOptimizerUpdate(optimizer, g), 5); // the warm-up call creates the slots
      optimizer.dispose();
    }
    tf.dispose([v, b, ...Object.values(g)]);
  });

  it('uses the optimizer’s own update when it is overridden, not float32, or the kernels are not installed', async () => {
    class Custom extends tf.AdamOptimizer {
      calls = 0;
      override applyGradients(g: Parameters<tf.Optimizer['applyGradients']>[0]): void {
        this.calls++;
        super.applyGradients(g as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
      }
    }
    const custom = new Custom(0.01, 0.9, 0.999);
    expect(usesFusedUpdate(custom)).toBe(false);
    const v = tf.variable(tf.ones([3]));
    const g = tf.ones([3]);
    applyOptimizerUpdate(custom, { [v.name]: g });
    expect(custom.calls).toBe(1);
    custom.dispose();
    expect(usesFusedUpdate(tf.train.adagrad(0.1))).toBe(false);

    const cpuAdam = tf.train.adam(0.01);
    await onBackend('cpu', () => expect(usesFusedUpdate(cpuAdam)).toBe(false));
    uninstallWasmKernels(tf);
    expect(usesFusedUpdate(cpuAdam)).toBe(false);
    applyOptimizerUpdate(cpuAdam, { [v.name]: g }); // stock path still works
    await setUpWasmWithKernels();
    expect(usesFusedUpdate(cpuAdam)).toBe(true);
    cpuAdam.dispose();
    tf.dispose([v, g]);
  });

  it('a fused kernel rejects mismatched inputs with a clear error', () => {
    const value = tf.zeros([4]);
    const gradient = tf.zeros([5]);
    expect(() => tf.engine().runKernel('FitstreamSgdUpdate', { value, gradient }, { learningRate: 0.1 })).toThrow(
      /FitstreamSgdUpdate: input of shape \[5\] does not match the variable's shape \[4\]/,
    );
    expect(() => tf.engine().runKernel('FitstreamSgdUpdate', { value, gradient: value }, {})).toThrow(/attribute 'learningRate' must be a finite number/);
    tf.dispose([value, gradient]);
  });
});

describe('fused optimizer updates on the cpu backend (installCpuKernels)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    uninstallCpuKernels(tf);
    await tf.setBackend('wasm');
  });

  it.each(CONFIGS)('%s: 20 fused steps on cpu equal the stock optimizer on cpu bit for bit, at every size', (name, make) => {
    // The reference without the kernels: tfjs' own update, or for centered RMSProp the op-for-op path (see stockRun).
    uninstallCpuKernels(tf);
    const stock = train(make, name.includes('centered'));
    installCpuKernels(tf, { batchCopies: false });
    const probe = make();
    expect(usesFusedUpdate(probe)).toBe(true);
    probe.dispose();
    expectSameState(name, train(make, true), stock, stock, STEPS);
  });

  it('has no size limit on cpu, where the JavaScript pass beats tfjs’ ops at every size: the 8 000-element variable runs fused', () => {
    installCpuKernels(tf, { batchCopies: false });
    for (const name of Object.values(FUSED_KERNELS)) {
      const registration = tf.getKernel(name, 'cpu') as { maxElements?: (backend: unknown) => number } | undefined;
      expect(registration?.maxElements?.(tf.backend())).toBe(Number.POSITIVE_INFINITY);
    }
    const v = tf.variable(tf.tensor(randomValues(8000, 3), [80, 100]));
    const g = tf.tensor(randomValues(8000, 4), [80, 100]);
    const optimizer = tf.train.momentum(0.05, 0.9);
    const kernels: string[] = [];
    const spy = (name: string) => kernels.push(name);
    const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
    const runKernel = engine.runKernel;
    engine.runKernel = function (this: unknown, kernelName: string, ...rest: unknown[]) {
      spy(kernelName);
      return runKernel.call(this, kernelName, ...rest);
    };
    try {
      applyOptimizerUpdate(optimizer, { [v.name]: g });
    } finally {
      engine.runKernel = runKernel;
    }
    expect(kernels).toContain(FUSED_KERNELS.momentum);
    expect(kernels).not.toContain('Mul');
    expectNoLeak(() => applyOptimizerUpdate(optimizer, { [v.name]: g }), 5);
    optimizer.dispose();
    tf.dispose([v, g]);
  });

  it('uninstalling restores the stock path', () => {
    const sgd = tf.train.sgd(0.1);
    installCpuKernels(tf);
    expect(usesFusedUpdate(sgd)).toBe(true);
    const before = uninstallCpuKernels(tf);
    expect(before.registered).toEqual(expect.arrayContaining(Object.values(FUSED_KERNELS)));
    expect(before.replaced).toEqual(['GatherV2']);
    expect(usesFusedUpdate(sgd)).toBe(false);
    expect(uninstallCpuKernels(tf)).toEqual({ registered: [], replaced: [] });
    sgd.dispose();
  });
});
