/**
 * An incremental SHA-256: feed it strings (as UTF-8) and bytes in pieces, then read the hex digest once. Hashing in
 * pieces equals hashing their concatenation, so large inputs (weights, data sets) need no copy into one buffer.
 *
 * @example
 * ```ts
 * const hash = createSha256();
 * hash.update('weights:').update(new Uint8Array([1, 2, 3]));
 * hash.digest(); // lower-case hex, 64 characters
 * ```
 */
export interface Sha256Hash {
  /** Adds `data` (a string is hashed as its UTF-8 bytes); returns the same hash for chaining. */
  update(data: string | Uint8Array): this;
  /** The lower-case hex digest of everything added; call once, as the last call. */
  digest(): string;
}
