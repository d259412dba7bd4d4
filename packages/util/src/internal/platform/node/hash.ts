import { createHash } from 'node:crypto';

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
