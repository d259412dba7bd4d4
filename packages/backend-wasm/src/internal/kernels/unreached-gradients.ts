/**
 * Output gradients that reach no loss passed to a kernel's gradient as `null`, not as zeros.
 *
 * tfjs' tape (tfjs-core 4.22 `Engine.addTapeNode`) wraps every registered gradient so that each output without a
 * gradient gets one of zeros, made as a JavaScript array and copied to the backend. The fused kernels have outputs
 * that exist only to be saved for their backward — an LSTM's gates and cell states, ≈ 6× its output — so every
 * training step allocated, filled and copied ≈ 3 MB of zeros the gradient never reads (≈ 1.5 ms of the bench LSTM's
 * step, plus garbage collection). The tfjs source marks the spot "TODO: pass dys that are not used in the backprop
 * graph to the user as null instead of zeros".
 *
 * {@link passUnreachedAsNull} does that for one kernel call: right after the call, the tape node it pushed gets a
 * gradient that hands `null` through; the kernel's registered gradient makes on the heap the zeros it actually needs.
 * Where the tape is off, or the node is not the call's (another tfjs version), nothing changes and tfjs' zeros arrive
 * as before — every gradient function here accepts both.
 */
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs';
import type { Tf } from './wasm-kernel-types.js';

/** The fields of tfjs' tape node and engine state read here. */
interface TapeNodeLike {
  readonly kernelName: string;
  readonly outputs: readonly Tensor[];
  readonly saved?: Tensor[];
  gradient?: (dys: Array<Tensor | null>) => unknown;
}
interface EngineStateLike {
  readonly activeTape?: TapeNodeLike[] | null;
}

/** See the module comment. `outputs` are what `runKernel(kernelName, …, attrs)` just returned. */
export function passUnreachedAsNull(tf: Tf, kernelName: string, outputs: readonly Tensor[], attrs: NamedAttrMap): void {
  const tape = (tf.engine() as unknown as { state?: EngineStateLike }).state?.activeTape;
  const node = tape?.[tape.length - 1];
  const config = tf.getGradient(kernelName);
  if (node === undefined || config === undefined || node.kernelName !== kernelName || node.outputs[0] !== outputs[0] || typeof node.gradient !== 'function') return;
  const saved = node.saved ?? [];
  node.gradient = (dys) => config.gradFunc(dys as Tensor[], saved, attrs);
}

/** `dy` when tfjs passed one, else zeros of `shape` made on the backend (a `Fill`, not a JavaScript array). */
export function orZeros(tf: Tf, dy: Tensor | null | undefined, shape: readonly number[]): Tensor {
  return dy ?? tf.zeros([...shape]);
}
