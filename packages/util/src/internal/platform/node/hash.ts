import { createHash, type Hash } from 'node:crypto';
import type { Sha256Hash } from '../sha256-hash.js';

/**
 * SHA-256 of a string (UTF-8) or bytes, as lower-case hex: the checksums in checkpoints and caches.
 *
 * @example
 * ```ts
 * sha256('abc'); // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * ```
 */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

class NodeSha256 implements Sha256Hash {
  readonly #hash: Hash = createHash('sha256');

  update(data: string | Uint8Array): this {
    this.#hash.update(data);
    return this;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * An incremental SHA-256 ({@link Sha256Hash}): the same digest as {@link sha256} of the concatenated pieces.
 *
 * @example
 * ```ts
 * const key = createSha256().update(JSON.stringify(topology)).update(weightBytes).digest();
 * ```
 */
export function createSha256(): Sha256Hash {
  return new NodeSha256();
}
