// In a browser there is no node:crypto, and WebCrypto's digest is asynchronous; checkpoints verify synchronously, so
// the hash comes from @noble/hashes (audited, dependency-free, the same SHA-256 bytes as node:crypto).
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
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
  return bytesToHex(nobleSha256(typeof data === 'string' ? utf8ToBytes(data) : data));
}

class BrowserSha256 implements Sha256Hash {
  readonly #hash = nobleSha256.create();

  update(data: string | Uint8Array): this {
    this.#hash.update(typeof data === 'string' ? utf8ToBytes(data) : data);
    return this;
  }

  digest(): string {
    return bytesToHex(this.#hash.digest());
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
  return new BrowserSha256();
}
