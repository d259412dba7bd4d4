/**
 * Wrapping a tfjs-layers class's `call` while fitstream's kernels are installed, and putting it back exactly: the
 * class is found through tfjs' serialization registry (the classes are not exported, and the package does no deep
 * import), the wrapper is installed as an own property, and restoring puts the original property descriptor back (or
 * deletes the own property where the class had none). Used by the batch-normalisation and recurrent layer patches.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from './wasm-kernel-types.js';

type ClassNameMap = Record<string, [{ prototype: object }, unknown] | undefined>;

/** The tfjs-layers class registered for serialization as `className`, or undefined. */
export function layerClass(tf: Tf, className: string): { prototype: object } | undefined {
  return (tf.serialization.SerializationMap.getMap().classNameMap as unknown as ClassNameMap)[className]?.[0];
}

/** The `call`s wrapped by one patch, with the descriptors to put back. */
export class LayerCallPatch {
  /** The layer classes whose `call` is wrapped, with the property descriptor to put back. */
  readonly #patched = new Map<{ prototype: object }, PropertyDescriptor | undefined>();

  /**
   * Wraps `call` of the layer class registered as `className` with `wrap(original)`; nothing happens when the class is
   * not registered or this patch already wrapped it (idempotent).
   */
  wrap<F>(tf: Tf, className: string, wrap: (original: F) => F): void {
    const cls = layerClass(tf, className);
    if (cls === undefined || this.#patched.has(cls)) return;
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, 'call');
    const original = (cls.prototype as { call: F }).call;
    Object.defineProperty(cls.prototype, 'call', {
      configurable: true,
      enumerable: descriptor?.enumerable ?? false,
      writable: true,
      value: wrap(original),
    });
    this.#patched.set(cls, descriptor);
  }

  /**
   * Wraps `call` of the layer class registered as `className` so that, on the wasm backend with `kernelName` registered
   * and a single float32 input, `fused(layer, x, kwargs)` computes the output; where it returns undefined (a case the
   * fused path does not take), and everywhere else, the original `call` runs. The conditions the fused layer paths
   * (conv, dense, batch normalisation) all share.
   */
  wrapSingleInput<L>(
    tf: Tf,
    className: string,
    kernelName: string,
    fused: (layer: L, x: Tensor, kwargs: Record<string, unknown>) => Tensor | undefined,
  ): void {
    type CallFn = (this: L, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) => Tensor | Tensor[];
    this.wrap<CallFn>(tf, className, (original) =>
      function (this: L, inputs, kwargs) {
        const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
        const out =
          x === undefined || x.dtype !== 'float32' || tf.getBackend() !== 'wasm' || tf.getKernel(kernelName, 'wasm') === undefined ? undefined : fused(this, x, kwargs);
        return out ?? original.call(this, inputs, kwargs);
      },
    );
  }

  /** Puts every wrapped class's own `call` back exactly. */
  restore(): void {
    for (const [cls, descriptor] of this.#patched) {
      if (descriptor === undefined) delete (cls.prototype as { call?: unknown }).call;
      else Object.defineProperty(cls.prototype, 'call', descriptor);
    }
    this.#patched.clear();
  }
}
