/**
 * Routes tfjs-layers' `LSTM` and `GRU` to the whole-sequence wasm kernels, so models use them unchanged.
 *
 * While the `recurrentLayers` group is installed, the layer classes' `call` (found through tfjs' serialization map,
 * no deep import) is wrapped: on the wasm backend, for the cases the kernels implement, the wrapper does what
 * `LSTM.call` / `GRU.call` → `RNN.call` do (initial or stateful state, `resetStates` of a stateful layer,
 * `returnSequences`, `returnState`, `goBackwards`) with the whole sequence in one kernel, whose registered gradient is
 * the backward kernel. Everything else (a mask, dropout while training, `unroll`, activations other than linear,
 * relu, tanh, sigmoid and hard sigmoid, custom cells, constants) runs the original `call`, with the reason written
 * once per layer through `console.warn`. `Bidirectional` calls its two wrapped layers' `call`, so it is covered.
 * {@link restoreRecurrentLayers} puts the original property descriptors back.
 */
import type { KernelFunc, NamedAttrMap, NamedTensorMap, Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../kernels/wasm-kernel-types.js';
import { LayerCallPatch, layerClass } from '../kernels/layer-call-patch.js';
import { requireWasmKernel } from '../kernels/wasm-kernel-scope.js';
import { orZeros, passUnreachedAsNull } from '../kernels/unreached-gradients.js';
import { createGruSequenceGradKernel, createGruSequenceKernel, GRU_SEQUENCE, GRU_SEQUENCE_GRAD } from './gru-sequence-kernels.js';
import { createLstmSequenceGradKernel, createLstmSequenceKernel, LSTM_SEQUENCE, LSTM_SEQUENCE_GRAD } from './lstm-sequence-kernels.js';
import type { TwoThreadCopies } from './two-thread-workspace.js';
import { flushDeferredCopies } from '../gemm/gemm-mat-mul.js';
import { ACTIVATIONS, type RecurrentActivationName, type RecurrentNativeKernels } from './recurrent-heap.js';

interface LayerVariableLike {
  read(): Tensor;
}

interface ActivationLike {
  getClassName(): string;
}

/** The fields of tfjs-layers' LSTMCell / GRUCell the fused path reads. */
interface CellLike {
  readonly units: number;
  readonly activation: ActivationLike;
  readonly recurrentActivation: ActivationLike;
  readonly useBias: boolean;
  readonly kernel: LayerVariableLike;
  readonly recurrentKernel: LayerVariableLike;
  readonly bias: LayerVariableLike | null;
  readonly dropout: number;
  readonly recurrentDropout: number;
  dropoutMask: Tensor | Tensor[] | null;
  recurrentDropoutMask: Tensor | Tensor[] | null;
}

/** The fields and methods of tfjs-layers' RNN the fused path uses. */
interface RnnLayerLike {
  readonly name: string;
  readonly cell: CellLike;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly unroll: boolean;
  readonly states_: Tensor[] | null;
  getInitialState(inputs: Tensor): Tensor[];
  resetStates(states?: Tensor | Tensor[], training?: boolean | null): void;
}

type Kwargs = Record<string, unknown> | undefined | null;
type CallFn = (this: RnnLayerLike, inputs: Tensor | Tensor[], kwargs: Kwargs) => Tensor | Tensor[];

interface LayerSpec {
  readonly layer: 'LSTM' | 'GRU';
  readonly cell: 'LSTMCell' | 'GRUCell';
  readonly kernel: string;
  /** Number of states (h, c for LSTM; h for GRU). */
  readonly states: number;
}

const SPECS: readonly LayerSpec[] = [
  { layer: 'LSTM', cell: 'LSTMCell', kernel: LSTM_SEQUENCE, states: 2 },
  { layer: 'GRU', cell: 'GRUCell', kernel: GRU_SEQUENCE, states: 1 },
];

/** Kernel names of the `recurrentLayers` group, with how to build each. */
export const RECURRENT_KERNELS: ReadonlyArray<{ readonly name: string; readonly create: (ctx: { readonly tf: Tf }) => KernelFunc }> = [
  {
    name: LSTM_SEQUENCE,
    create: ({ tf }) => {
      registerRecurrentGradients(tf);
      patchRecurrentLayers(tf);
      return createLstmSequenceKernel(nativeKernels(tf), twoThreadCopies(tf));
    },
  },
  { name: LSTM_SEQUENCE_GRAD, create: ({ tf }) => createLstmSequenceGradKernel(nativeKernels(tf), twoThreadCopies(tf)) },
  { name: GRU_SEQUENCE, create: ({ tf }) => createGruSequenceKernel(nativeKernels(tf)) },
  { name: GRU_SEQUENCE_GRAD, create: ({ tf }) => createGruSequenceGradKernel(nativeKernels(tf), twoThreadCopies(tf)) },
];

/** The matMul and transpose the kernels call: what is registered at install time (fitstream's, if installed). */
function nativeKernels(tf: Tf): RecurrentNativeKernels {
  return {
    batchMatMul: requireWasmKernel(tf, 'BatchMatMul').kernelFunc,
    fusedMatMul: requireWasmKernel(tf, '_FusedMatMul').kernelFunc,
    transpose: requireWasmKernel(tf, 'Transpose').kernelFunc,
  };
}

/**
 * Whether the two-thread recurrences may defer copying out the outputs only a gradient reads (lstm-two-threads.ts):
 * not while the engine reads every kernel output as it is made (tfjs' `DEBUG` flag, `tf.profile`).
 */
function twoThreadCopies(tf: Tf): () => TwoThreadCopies {
  return () => ({ defer: !tf.env().getBool('DEBUG') && (tf.engine().state as { profiling?: boolean }).profiling !== true });
}

let gradientsRegistered = false;

/**
 * Registers the gradients of the two forward kernels once per process (a gradient only runs where its forward
 * kernel ran, so leaving it registered after uninstall changes nothing).
 */
export function registerRecurrentGradients(tf: Tf): void {
  if (gradientsRegistered) return;
  tf.registerGradient({
    kernelName: LSTM_SEQUENCE,
    inputsToSave: ['x', 'kernel', 'recurrentKernel', 'h0', 'c0'],
    // y, hLast, cLast, gates, cSeq, tcSeq
    outputsToSave: [true, false, false, true, true, true],
    gradFunc: (dys, saved, attrs) => {
      // null where an output reaches no loss (unreached-gradients.ts); only these three are read.
      const [dyIn, dhIn, dcIn] = dys as Array<Tensor | null>;
      const [x, kernel, recurrentKernel, h0, c0, y, gates, cSeq, tcSeq] = saved as Tensor[];
      const [dy, dhLast, dcLast] = [orZeros(tf, dyIn, y!.shape), orZeros(tf, dhIn, h0!.shape), orZeros(tf, dcIn, c0!.shape)];
      const grads = tf.engine().runKernel(
        LSTM_SEQUENCE_GRAD,
        { dy, dhLast, dcLast, x: x!, kernel: kernel!, recurrentKernel: recurrentKernel!, h0: h0!, c0: c0!, y: y!, gates: gates!, cSeq: cSeq!, tcSeq: tcSeq! },
        attrs as NamedAttrMap,
      ) as Tensor[];
      const [dZ, dKernel, dRecurrent, dBias, dh0, dc0] = grads as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      return { x: () => inputGradient(tf, dZ, kernel!, x!), kernel: () => dKernel, recurrentKernel: () => dRecurrent, bias: () => dBias, h0: () => dh0, c0: () => dc0 };
    },
  });
  tf.registerGradient({
    kernelName: GRU_SEQUENCE,
    inputsToSave: ['x', 'kernel', 'recurrentKernel', 'h0'],
    // y, hLast, gates, rh
    outputsToSave: [true, false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dyIn, dhIn] = dys as Array<Tensor | null>;
      const [x, kernel, recurrentKernel, h0, y, gates, rh] = saved as Tensor[];
      const [dy, dhLast] = [orZeros(tf, dyIn, y!.shape), orZeros(tf, dhIn, h0!.shape)];
      const grads = tf.engine().runKernel(
        GRU_SEQUENCE_GRAD,
        { dy, dhLast, x: x!, kernel: kernel!, recurrentKernel: recurrentKernel!, h0: h0!, y: y!, gates: gates!, rh: rh! },
        attrs as NamedAttrMap,
      ) as Tensor[];
      const [dZ, dKernel, dRecurrent, dBias, dh0] = grads as [Tensor, Tensor, Tensor, Tensor, Tensor];
      return { x: () => inputGradient(tf, dZ, kernel!, x!), kernel: () => dKernel, recurrentKernel: () => dRecurrent, bias: () => dBias, h0: () => dh0 };
    },
  });
  gradientsRegistered = true;
}

/**
 * dx = dZ·Wᵀ from the backward kernel's pre-activation gradients: the tape asks for it only when the sequence input
 * itself needs a gradient (a stacked layer, not a model's first), so a first layer skips this GEMM.
 */
function inputGradient(tf: Tf, dZ: Tensor, kernel: Tensor, x: Tensor): Tensor {
  // The two-thread backward leaves dZ in its shared memory until someone reads it.
  flushDeferredCopies();
  return tf.tidy(() => {
    const [batch = 0, steps = 0, gates = 0] = dZ.shape;
    return tf.reshape(tf.matMul(tf.reshape(dZ, [batch * steps, gates]), kernel, false, true), x.shape);
  });
}

/** The layer classes whose `call` is wrapped. */
const patch = new LayerCallPatch();

/** Layers already told why they run unfused. */
const warned = new WeakSet<object>();

/** Wraps `LSTM.prototype.call` and `GRU.prototype.call` (idempotent). */
export function patchRecurrentLayers(tf: Tf): void {
  for (const spec of SPECS) patch.wrap<CallFn>(tf, spec.layer, (original) => fusedCall(tf, spec, original));
}

/** Puts the layer classes' original `call` back exactly (called by `uninstallWasmKernels`). */
export function restoreRecurrentLayers(): void {
  patch.restore();
}

function fusedCall(tf: Tf, spec: LayerSpec, original: CallFn): CallFn {
  return function (this: RnnLayerLike, inputs, kwargs) {
    if (tf.getBackend() !== 'wasm' || tf.getKernel(spec.kernel, 'wasm') === undefined) {
      return original.call(this, inputs, kwargs);
    }
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const reason = x === undefined ? null : unfusedReason(tf, this, spec, x, kwargs);
    if (x === undefined || reason !== null) {
      if (reason !== null && !warned.has(this)) {
        warned.add(this);
        console.warn(`fitstream: ${spec.layer} layer '${this.name}' runs unfused on wasm (op by op, slower): ${reason}.`);
      }
      return original.call(this, inputs, kwargs);
    }
    const initialState = (kwargs?.['initialState'] as Tensor[] | null | undefined) ?? (this.stateful ? this.states_ : null);
    if (this.stateful && initialState === null) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => runFused(tf, this, spec, x, initialState, kwargs?.['training'] as boolean | null | undefined));
  };
}

/** Why the fused kernels cannot run this call, or null. */
function unfusedReason(tf: Tf, layer: RnnLayerLike, spec: LayerSpec, x: Tensor, kwargs: Kwargs): string | null {
  const cell = layer.cell;
  if (Object.getPrototypeOf(cell) !== layerClass(tf, spec.cell)?.prototype) return `its cell is not tfjs-layers' ${spec.cell}`;
  if (kwargs?.['mask'] != null) return 'a mask is applied (Masking, or an Embedding with maskZero)';
  if (kwargs?.['constants'] != null) return 'constants are passed';
  const dropping = (rate: number): boolean => rate > 0 && rate < 1;
  if (kwargs?.['training'] === true && (dropping(cell.dropout) || dropping(cell.recurrentDropout))) {
    return 'dropout or recurrentDropout is applied while training';
  }
  if (layer.unroll) return 'unroll is true';
  for (const [field, activation] of [['activation', cell.activation], ['recurrentActivation', cell.recurrentActivation]] as const) {
    const name = activation.getClassName();
    if (!ACTIVATIONS.includes(name as RecurrentActivationName) || Object.getPrototypeOf(activation) !== layerClass(tf, name)?.prototype) {
      return `${field} '${name}' is not one of ${ACTIVATIONS.join(', ')}`;
    }
  }
  if (x.rank !== 3 || x.dtype !== 'float32' || (x.shape[1] ?? 0) < 1) return `the input is not a float32 [batch, time, features] sequence (got ${x.dtype} [${x.shape.join(',')}])`;
  const given = kwargs?.['initialState'] as Tensor[] | null | undefined;
  if (given != null) {
    const expected = [x.shape[0], cell.units];
    if (given.length !== spec.states || given.some((s) => s.dtype !== 'float32' || s.rank !== 2 || s.shape[0] !== expected[0] || s.shape[1] !== expected[1])) {
      return `the initial state is not ${spec.states} float32 [${expected.join(',')}] tensor(s)`;
    }
  }
  return null;
}

/** What `LSTM.call`/`GRU.call` → `RNN.call` do, with the sequence in one kernel. */
function runFused(tf: Tf, layer: RnnLayerLike, spec: LayerSpec, x: Tensor, given: Tensor[] | null, training: boolean | null | undefined): Tensor | Tensor[] {
  const cell = layer.cell;
  // As LSTM.call / GRU.call: masks left by an earlier unfused call are disposed.
  if (cell.dropoutMask != null) {
    tf.dispose(cell.dropoutMask);
    cell.dropoutMask = null;
  }
  if (cell.recurrentDropoutMask != null) {
    tf.dispose(cell.recurrentDropoutMask);
    cell.recurrentDropoutMask = null;
  }
  const initialState = given ?? layer.getInitialState(x);
  const inputs: NamedTensorMap = {
    x,
    kernel: cell.kernel.read(),
    recurrentKernel: cell.recurrentKernel.read(),
    h0: initialState[0]!,
  };
  if (cell.useBias && cell.bias !== null) inputs['bias'] = cell.bias.read();
  if (spec.states === 2) inputs['c0'] = initialState[1]!;
  const attrs: NamedAttrMap = {
    activation: cell.activation.getClassName(),
    recurrentActivation: cell.recurrentActivation.getClassName(),
    goBackwards: layer.goBackwards,
  };
  const outputs = tf.engine().runKernel(spec.kernel, inputs, attrs) as Tensor[];
  // The saved intermediates (gates, cell states) never get a gradient: no zeros made for them every step.
  passUnreachedAsNull(tf, spec.kernel, outputs, attrs);
  const [y, hLast, cLast] = outputs as [Tensor, Tensor, Tensor];
  const states = spec.states === 2 ? [hLast, cLast] : [hLast];
  if (layer.stateful) {
    layer.resetStates(states, training);
  }
  const output = layer.returnSequences ? y : hLast;
  return layer.returnState ? [output, ...states] : output;
}
