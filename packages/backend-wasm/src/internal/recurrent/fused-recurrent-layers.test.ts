import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { installWasmKernels, uninstallWasmKernels, wasmMatMulThreads } from '../install-wasm-kernels.js';
import { backendDataIds, onBackend, randomValues, relativeError, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';
import { setRecurrentSimdEnabled } from './gate-simd.js';
import { GRU_SEQUENCE, GRU_SEQUENCE_GRAD } from './gru-sequence-kernels.js';
import { LSTM_SEQUENCE, LSTM_SEQUENCE_GRAD } from './lstm-sequence-kernels.js';
import { lstmResidentBackwards } from './lstm-two-threads.js';

const TOLERANCE = 1e-5;
const worst = new WorstError();
const [B, T, D, H] = [3, 5, 4, 6];
/** Batch, steps, features, units of a test layer. */
type Dims = readonly [number, number, number, number];

beforeAll(setUpWasmWithKernels);
afterAll(() => console.log(`fused recurrent layers: worst relative error vs unfused cpu ${worst.toString()}`));

type Kind = 'lstm' | 'gru';

interface LayerOptions {
  readonly recurrentActivation: 'hardSigmoid' | 'sigmoid';
  readonly activation?: 'tanh' | 'relu' | 'linear';
  readonly returnSequences?: boolean;
  readonly returnState?: boolean;
  readonly goBackwards?: boolean;
  readonly useBias?: boolean;
}

const constant = (shape: number[], seed: number): tf.Tensor => tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed), shape);

function makeLayer(kind: Kind, options: LayerOptions, [b, t, d, h]: Dims = [B, T, D, H]): tf.layers.Layer {
  const layer = kind === 'lstm' ? tf.layers.lstm({ units: h, ...options }) : tf.layers.gru({ units: h, ...options });
  tf.tidy(() => {
    layer.apply(tf.zeros([b, t, d]));
    // Weights away from zero so every gate is exercised (hard sigmoid saturates on some values, as in training).
    layer.setWeights(layer.getWeights().map((w, i) => tf.mul(constant(w.shape, 100 + i), 0.9)));
  });
  return layer;
}

/** Forward outputs and the gradients of Σ wᵢ·outputᵢ w.r.t. input, initial states and every weight, as host data. */
function outputsAndGradients(kind: Kind, layer: tf.layers.Layer, [b, t, d, h]: Dims = [B, T, D, H]): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.variable(constant([b, t, d], 1));
    const states = (kind === 'lstm' ? [2, 3] : [2]).map((seed) => tf.variable(constant([b, h], seed)));
    const outputs: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const result = layer.apply(x, { initialState: states }) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(result) ? result : [result];
      outputs.push(...list.map((t) => tf.keep(t.clone())));
      return tf.addN(list.map((t, i) => tf.sum(tf.mul(t, constant(t.shape, 50 + i))))) as tf.Scalar;
    }, [x, ...states, ...(layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val))]);
    const result = [value, ...outputs, ...Object.values(grads)].map((t) => t.dataSync() as Float32Array);
    tf.dispose(outputs);
    tf.dispose([x, ...states]);
    return result;
  });
}

function expectClose(actual: Float32Array[], expected: Float32Array[], where: string): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((values, i) => {
    const error = worst.record(relativeError(values, expected[i]!), `${where} #${i}`);
    expect(error, `${where}: tensor #${i}`).toBeLessThan(TOLERANCE);
  });
}

/** Every kernel `fn` runs, in order (repeats included). */
function kernelNamesOf(fn: () => void): Promise<string[]> {
  return tf.profile(fn).then((info) => info.kernels.map((k) => k.name));
}

const VARIANTS: Array<[string, Omit<LayerOptions, 'recurrentActivation'>]> = [
  ['last output', {}],
  ['returnSequences', { returnSequences: true }],
  ['returnState', { returnState: true, returnSequences: true }],
  ['goBackwards', { goBackwards: true, returnSequences: true, returnState: true }],
];

describe.each(['lstm', 'gru'] as const)('fused %s', (kind) => {
  const forward = kind === 'lstm' ? LSTM_SEQUENCE : GRU_SEQUENCE;
  const backward = kind === 'lstm' ? LSTM_SEQUENCE_GRAD : GRU_SEQUENCE_GRAD;

  describe.each(['hardSigmoid', 'sigmoid'] as const)('recurrentActivation %s', (recurrentActivation) => {
    it.each(VARIANTS)('%s: outputs and gradients equal the unfused layer on cpu', async (name, variant) => {
      const layer = makeLayer(kind, { recurrentActivation, ...variant });
      const fused = outputsAndGradients(kind, layer);
      const unfused = await onBackend('cpu', () => outputsAndGradients(kind, layer));
      expectClose(fused, unfused, `${kind} ${recurrentActivation} ${name}`);
      const names = await kernelNamesOf(() => void outputsAndGradients(kind, layer));
      expect(names).toContain(forward);
      expect(names).toContain(backward);
      layer.dispose();
    });
  });

  it.each([
    ['relu', { recurrentActivation: 'sigmoid', activation: 'relu' }],
    ['linear, no bias', { recurrentActivation: 'hardSigmoid', activation: 'linear', useBias: false }],
  ] as const)('activation %s equals the unfused layer', async (name, options) => {
    const layer = makeLayer(kind, { ...options, returnSequences: true });
    const fused = outputsAndGradients(kind, layer);
    const unfused = await onBackend('cpu', () => outputsAndGradients(kind, layer));
    expectClose(fused, unfused, `${kind} ${name}`);
    layer.dispose();
  });
});

describe('weight gradients on the SIMD loops and the own GEMM (units and B·T multiples of 4)', () => {
  // [B, T, D, H] = [4, 5, 4, 8]: Xᵀ·dZ and the bias on the column loop (D ≤ 16, 4H and 3H multiples of 4), the
  // transposes 4×4-blocked, h₋₁ᵀ·dZ on the own GEMM — and the same with the own GEMM off (a transpose and XNNPACK)
  // and with the SIMD loops off (GEMMs and the stock transpose).
  const dims: Dims = [4, 5, 4, 8];
  afterAll(async () => {
    setRecurrentSimdEnabled(true);
    uninstallWasmKernels(tf);
    installWasmKernels(tf);
    await wasmMatMulThreads();
  });

  it.each([
    ['own GEMM and SIMD loops', true, true],
    ['XNNPACK and SIMD loops', false, true],
    ['XNNPACK, no SIMD loops', false, false],
  ] as const)('%s: outputs and gradients equal the unfused layer on cpu', async (where, ownGemm, simd) => {
    uninstallWasmKernels(tf);
    installWasmKernels(tf, { ownGemm });
    const report = await wasmMatMulThreads();
    expect(report.threads > 0).toBe(ownGemm);
    setRecurrentSimdEnabled(simd);
    for (const kind of ['lstm', 'gru'] as const) {
      const layer = makeLayer(kind, { recurrentActivation: 'sigmoid', returnSequences: true }, dims);
      const before = await wasmMatMulThreads();
      const fused = outputsAndGradients(kind, layer, dims);
      const after = await wasmMatMulThreads();
      // h₋₁ᵀ·dZ on the own GEMM: a product of its own, or (on two threads) inside the backward recurrence.
      const onOwnGemm = after.products - before.products + after.recurrences - before.recurrences;
      if (ownGemm) expect(onOwnGemm, 'h₋₁ᵀ·dZ on the own GEMM').toBeGreaterThan(0);
      const unfused = await onBackend('cpu', () => outputsAndGradients(kind, layer, dims));
      expectClose(fused, unfused, `${kind} ${where}`);
      layer.dispose();
    }
  });
});

describe('the recurrences on two threads (the own GEMM with its worker)', () => {
  // B = 40: chunks of 16, 16 and 8 rows; H = 12: the products' 12, 24 (GRU) and 36 columns end in partial 8-column panels.
  const dims: Dims = [40, 6, 3, 12];

  it.each([
    ['lstm', 'forwards', false, true],
    ['lstm', 'goBackwards', true, true],
    // The LSTM's input projection runs inside its forward task, the bias as a last k: also without one.
    ['lstm', 'forwards without a bias', false, false],
    ['gru', 'forwards', false, true],
    ['gru', 'goBackwards', true, true],
  ] as const)('%s %s: outputs and gradients equal the unfused layer on cpu, and the two-thread route ran', async (kind, name, goBackwards, useBias) => {
    const layer = makeLayer(kind, { recurrentActivation: 'sigmoid', returnSequences: true, returnState: true, goBackwards, useBias }, dims);
    const report = await wasmMatMulThreads();
    // This machine has a second core for the worker (CI's has); with one, the one-thread route runs and is checked above.
    expect(report.threads, report.reason).toBe(2);
    const resident = lstmResidentBackwards();
    const fused = outputsAndGradients(kind, layer, dims);
    const ran = (await wasmMatMulThreads()).recurrences - report.recurrences;
    expect(ran, 'forward and backward recurrences on two threads').toBe(2);
    // Nothing else ran on the shared memory in between: the LSTM's backward read its forward's arrays where they lay.
    expect(lstmResidentBackwards() - resident).toBe(kind === 'lstm' ? 1 : 0);
    const unfused = await onBackend('cpu', () => outputsAndGradients(kind, layer, dims));
    expectClose(fused, unfused, `${kind} on two threads, ${name}`);
    layer.dispose();
  });

  /**
   * Σ w·output of `layers` applied in turn to x, and its gradients w.r.t. x and every weight; `between` runs after
   * the forward passes (so before the backward ones).
   */
  function stackGradients(layers: readonly tf.layers.Layer[], between: () => void = () => undefined): Float32Array[] {
    return tf.tidy(() => {
      const x = tf.variable(constant([dims[0], dims[1], dims[2]], 1));
      const weights = layers.flatMap((layer) => layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
      const { value, grads } = tf.variableGrads(() => {
        const y = layers.reduce((input, layer) => layer.apply(input) as tf.Tensor, x as tf.Tensor);
        between();
        return tf.sum(tf.mul(y, constant(y.shape, 50)));
      }, [x, ...weights]);
      const result = [value, ...Object.values(grads)].map((t) => t.dataSync() as Float32Array);
      x.dispose();
      return result;
    });
  }

  it('stacked LSTMs: the last layer reads its forward in place, the first copies it back in, both equal the unfused layers', async () => {
    const [b, t, , h] = dims;
    const layers = [makeLayer('lstm', { recurrentActivation: 'sigmoid', returnSequences: true }, dims), makeLayer('lstm', { recurrentActivation: 'sigmoid', returnSequences: true }, [b, t, h, h])];
    const before = await wasmMatMulThreads();
    const resident = lstmResidentBackwards();
    const fused = stackGradients(layers);
    expect((await wasmMatMulThreads()).recurrences - before.recurrences).toBe(4);
    // The second forward overwrote the first's arrays (after copying its deferred outputs out): one backward in place.
    expect(lstmResidentBackwards() - resident).toBe(1);
    const unfused = await onBackend('cpu', () => stackGradients(layers));
    expectClose(fused, unfused, 'stacked lstm on two threads');
    layers.forEach((layer) => layer.dispose());
  });

  it('a backward that takes the one-thread route reads the outputs its two-thread forward deferred, copied out first', async () => {
    const layer = makeLayer('lstm', { recurrentActivation: 'sigmoid', returnSequences: true }, dims);
    const before = await wasmMatMulThreads();
    let fused: Float32Array[];
    try {
      // The SIMD gate passes off after the forward: the backward runs on the calling thread, from tfjs' heap.
      fused = stackGradients([layer], () => setRecurrentSimdEnabled(false));
    } finally {
      setRecurrentSimdEnabled(true);
    }
    expect((await wasmMatMulThreads()).recurrences - before.recurrences, 'only the forward on two threads').toBe(1);
    const unfused = await onBackend('cpu', () => stackGradients([layer]));
    expectClose(fused, unfused, 'lstm forward on two threads, backward on one');
    layer.dispose();
  });

  it('a product on the shared memory between forward and backward: the backward copies its inputs back in, equal to the unfused layer', async () => {
    const layer = makeLayer('lstm', { recurrentActivation: 'sigmoid', returnSequences: true }, dims);
    // Large enough for the own GEMM's two threads (gemm-mat-mul.ts), so it loads its operands into the shared memory.
    const [a, w] = [constant([256, 512], 7), constant([512, 128], 8)];
    const product = (): void => void tf.sum(tf.matMul(a, w));
    const before = await wasmMatMulThreads();
    const resident = lstmResidentBackwards();
    const fused = stackGradients([layer], product);
    const after = await wasmMatMulThreads();
    expect(after.products - before.products, 'the product ran on the own GEMM').toBeGreaterThan(0);
    expect(after.recurrences - before.recurrences).toBe(2);
    expect(lstmResidentBackwards() - resident).toBe(0);
    const unfused = await onBackend('cpu', () => stackGradients([layer], product));
    expectClose(fused, unfused, 'lstm with a product between forward and backward');
    tf.dispose([a, w]);
    layer.dispose();
  });
});

describe('output gradients that reach no loss', () => {
  it.each(['lstm', 'gru'] as const)('%s: arrive at the gradient as null, not as zeros copied to the heap', (kind) => {
    const config = tf.getGradient(kind === 'lstm' ? LSTM_SEQUENCE : GRU_SEQUENCE) as { gradFunc: (...args: unknown[]) => unknown };
    const original = config.gradFunc;
    const seen: Array<Array<boolean>> = [];
    config.gradFunc = (dys: unknown, ...rest: unknown[]) => (seen.push((dys as Array<tf.Tensor | null>).map((dy) => dy === null)), original(dys, ...rest));
    const layer = makeLayer(kind, { recurrentActivation: 'sigmoid' });
    try {
      outputsAndGradients(kind, layer);
    } finally {
      config.gradFunc = original;
      layer.dispose();
    }
    // Outputs: y, hLast(, cLast), then the saved intermediates. The layer returns hLast (no returnSequences): y, cLast
    // and the intermediates reach no loss.
    expect(seen).toEqual([kind === 'lstm' ? [true, false, true, true, true, true] : [true, false, true, true]]);
  });
});

describe('gate passes in JavaScript (engines without WebAssembly SIMD)', () => {
  beforeAll(() => setRecurrentSimdEnabled(false));
  afterAll(() => setRecurrentSimdEnabled(true));

  it.each([
    ['hardSigmoid, goBackwards', { recurrentActivation: 'hardSigmoid', goBackwards: true, returnSequences: true, returnState: true }],
    ['sigmoid, relu', { recurrentActivation: 'sigmoid', activation: 'relu', returnSequences: true }],
  ] as const)('%s: equal to the unfused layer', async (name, options) => {
    for (const kind of ['lstm', 'gru'] as const) {
      const layer = makeLayer(kind, options);
      const fused = outputsAndGradients(kind, layer);
      const unfused = await onBackend('cpu', () => outputsAndGradients(kind, layer));
      expectClose(fused, unfused, `${kind} js ${name}`);
      layer.dispose();
    }
  });
});

describe('layers in models', () => {
  it('a stateful LSTM carries and resets its state as the unfused layer does', async () => {
    const run = (): Float32Array[] => {
      const model = tf.sequential({ layers: [tf.layers.lstm({ units: H, stateful: true, batchInputShape: [B, T, D], returnSequences: true })] });
      model.setWeights(model.getWeights().map((w, i) => constant(w.shape, 200 + i)));
      const x = constant([B, T, D], 7);
      const results: Float32Array[] = [];
      const record = (): void => {
        const y = model.predict(x) as tf.Tensor;
        results.push(y.dataSync() as Float32Array);
        y.dispose();
      };
      record();
      record(); // starts from the state the first call left
      const layer = model.layers[0] as unknown as { states: tf.Tensor[] };
      results.push(...layer.states.map((s) => s.dataSync() as Float32Array));
      model.resetStates();
      record(); // equals the first again
      const tensorsBefore = tf.memory().numTensors;
      record();
      model.resetStates();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      tf.dispose(x);
      model.dispose();
      return results;
    };
    const fused = run();
    const unfused = await onBackend('cpu', run);
    expectClose(fused, unfused, 'stateful lstm');
    expect(relativeError(fused[0]!, fused[4]!)).toBe(0);
    expect(relativeError(fused[0]!, fused[1]!)).toBeGreaterThan(1e-3);
  });

  it.each(['lstm', 'gru'] as const)('Bidirectional(%s): outputs and weight gradients equal the unfused layer', async (kind) => {
    const inner = kind === 'lstm' ? tf.layers.lstm({ units: H, returnSequences: true }) : tf.layers.gru({ units: H, returnSequences: true, recurrentActivation: 'sigmoid' });
    const model = tf.sequential({ layers: [tf.layers.bidirectional({ layer: inner as tf.RNN, inputShape: [T, D], mergeMode: 'concat' })] });
    model.setWeights(model.getWeights().map((w, i) => constant(w.shape, 300 + i)));
    const run = (): Float32Array[] =>
      tf.tidy(() => {
        const x = constant([B, T, D], 9);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, constant([B, T, 2 * H], 10))) as tf.Scalar);
        return [value, ...Object.values(grads)].map((t) => t.dataSync() as Float32Array);
      });
    const fused = run();
    const unfused = await onBackend('cpu', run);
    expectClose(fused, unfused, `bidirectional ${kind}`);
    const names = await kernelNamesOf(() => void run());
    expect(names.filter((n) => n === (kind === 'lstm' ? LSTM_SEQUENCE : GRU_SEQUENCE))).toHaveLength(2);
    model.dispose();
  });

  it.each(['lstm', 'gru'] as const)('%s: a few Adam steps of model.fit give the weights of the unfused layer, without leaking', async (kind) => {
    const recurrent = kind === 'lstm' ? tf.layers.lstm({ units: 8, inputShape: [6, 3] }) : tf.layers.gru({ units: 8, inputShape: [6, 3] });
    const model = tf.sequential({ layers: [recurrent, tf.layers.dense({ units: 1 })] });
    const initial = model.getWeights().map((w, i) => constant(w.shape, 400 + i));
    const x = constant([16, 6, 3], 11);
    const y = constant([16, 1], 12);
    const train = async (): Promise<Float32Array[]> => {
      model.setWeights(initial);
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
      await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
      const tensors = tf.memory().numTensors;
      const ids = backendDataIds();
      await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
      expect(tf.memory().numTensors).toBe(tensors);
      if (tf.getBackend() === 'wasm') expect(backendDataIds()).toBe(ids);
      return model.getWeights().map((w) => w.dataSync() as Float32Array);
    };
    const fused = await train();
    const unfused = await onBackend('cpu', train);
    // Four Adam steps amplify float32 rounding differences a little; the forward/gradient tests hold 1e-5 exactly.
    fused.forEach((w, i) => expect(relativeError(w, unfused[i]!), `weight #${i}`).toBeLessThan(1e-4));
    tf.dispose([x, y, ...initial]);
    model.dispose();
  });

  it('a masked input runs unfused, saying why once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const model = tf.sequential({
      layers: [tf.layers.masking({ inputShape: [T, D], maskValue: 0 }), tf.layers.lstm({ units: H })],
    });
    const x = constant([B, T, D], 13);
    const names = await kernelNamesOf(() => {
      tf.dispose(model.predict(x) as tf.Tensor);
      tf.dispose(model.predict(x) as tf.Tensor);
    });
    expect(names).not.toContain(LSTM_SEQUENCE);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/runs unfused.*mask/);
    tf.dispose(x);
    model.dispose();
  });

  it('dropout runs unfused while training (saying why once) and fused in inference', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const model = tf.sequential({ layers: [tf.layers.gru({ units: H, inputShape: [T, D], dropout: 0.2 }), tf.layers.dense({ units: 1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = constant([B, T, D], 14);
    const y = constant([B, 1], 15);
    const training = await kernelNamesOf(() => void model.trainOnBatch(x, y));
    expect(training).not.toContain(GRU_SEQUENCE);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/dropout/);
    const inference = await kernelNamesOf(() => tf.dispose(model.predict(x) as tf.Tensor));
    expect(inference).toContain(GRU_SEQUENCE);
    tf.dispose([x, y]);
    model.dispose();
  });

  it.each([
    ['one time step', [2, 1, 3]],
    ['a batch of one', [1, 4, 3]],
  ] as const)('%s: equal to the unfused layer', async (name, shape) => {
    const layer = tf.layers.lstm({ units: 5, returnSequences: true, recurrentActivation: 'sigmoid' });
    const x = constant([...shape], 16);
    tf.dispose(layer.apply(x) as tf.Tensor); // builds the weights
    const run = (): Float32Array[] =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar);
        return [value, ...Object.values(grads)].map((t) => t.dataSync() as Float32Array);
      });
    const fused = run();
    const unfused = await onBackend('cpu', run);
    expectClose(fused, unfused, `lstm ${name}`);
    x.dispose();
    layer.dispose();
  });

  it('uninstallWasmKernels restores the layer classes exactly', async () => {
    const classes = (['LSTM', 'GRU'] as const).map((name) => tf.serialization.SerializationMap.getMap().classNameMap[name]![0] as unknown as { prototype: object });
    const installedCalls = classes.map((cls) => Object.getOwnPropertyDescriptor(cls.prototype, 'call')?.value as unknown);
    uninstallWasmKernels(tf);
    try {
      const originals = classes.map((cls) => Object.getOwnPropertyDescriptor(cls.prototype, 'call')?.value as unknown);
      originals.forEach((call, i) => expect(call).not.toBe(installedCalls[i]));
      const layer = makeLayer('lstm', { recurrentActivation: 'hardSigmoid' });
      expect(await kernelNamesOf(() => tf.dispose(layer.apply(constant([B, T, D], 1)) as tf.Tensor))).not.toContain(LSTM_SEQUENCE);
      installWasmKernels(tf, { recurrentLayers: false });
      classes.forEach((cls, i) => expect(Object.getOwnPropertyDescriptor(cls.prototype, 'call')?.value).toBe(originals[i]));
      installWasmKernels(tf);
      classes.forEach((cls, i) => expect(Object.getOwnPropertyDescriptor(cls.prototype, 'call')?.value).not.toBe(originals[i]));
      uninstallWasmKernels(tf);
      classes.forEach((cls, i) => expect(Object.getOwnPropertyDescriptor(cls.prototype, 'call')?.value).toBe(originals[i]));
      layer.dispose();
    } finally {
      installWasmKernels(tf);
    }
  });
});
