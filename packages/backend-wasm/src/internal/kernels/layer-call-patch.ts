/**
 * Wrapping a tfjs-layers class's `call` while fitstream's kernels are installed, and putting it back exactly: the
 * class is found through tfjs' serialization registry (the classes are not exported, and the package does no deep
 * import), the wrapper is installed as an own property, and restoring puts the original property descriptor back (or
 * deletes the own property where the class had none). Used by the batch-normalisation and recurrent layer patches.
 */
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

  /** Puts every wrapped class's own `call` back exactly. */
  restore(): void {
    for (const [cls, descriptor] of this.#patched) {
      if (descriptor === undefined) delete (cls.prototype as { call?: unknown }).call;
      else Object.defineProperty(cls.prototype, 'call', descriptor);
    }
    this.#patched.clear();
  }
}
