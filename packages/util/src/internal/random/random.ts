/**
 * fitstream's one PRNG: xoshiro128** streams whose 64-bit keys are derived by hashing a path of
 * `(seed, purpose, coordinates…)`. Deriving depends only on the key, never on how many numbers a stream has drawn, so
 * the shuffle of epoch 3 is the same whether or not epochs 0–2 ran, in this process or in a worker.
 *
 * Written by hand because the seeded PRNGs on npm (seedrandom, pure-rand) either lack key splitting from string
 * paths or would pin us to their output for golden vectors; the algorithms here are short and published
 * (xoshiro128** by Blackman & Vigna, MurmurHash3's finaliser).
 */

/** Serializable state of a {@link Random} stream, stored in checkpoints. */
export interface RandomState {
  readonly algorithm: 'xoshiro128**';
  /** The stream key (two uint32 words) that {@link Random.derive} hashes from. */
  readonly key: readonly [number, number];
  /** The generator state (four uint32 words). */
  readonly state: readonly [number, number, number, number];
}

const GOLDEN = 0x9e3779b9;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3-style hash of a list of uint32 words. */
function hashWords(words: readonly number[], seed: number): number {
  let h = seed >>> 0;
  for (const w of words) {
    let k = Math.imul(w >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  return fmix32(h ^ words.length);
}

const encoder = new TextEncoder();

function stringWords(s: string): number[] {
  const bytes = encoder.encode(s);
  const words: number[] = [bytes.length];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push((bytes[i]! | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>> 0);
  }
  return words;
}

function coordinateWords(n: number): [number, number] {
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`Random.derive: coordinates must be safe integers (epoch, fold, rank…), got ${n}.`);
  }
  const neg = n < 0 ? 1 : 0;
  const abs = Math.abs(n);
  return [abs >>> 0, ((Math.floor(abs / 2 ** 32) & 0x1fffff) | (neg << 31)) >>> 0];
}

function seedWords(seed: number | string): number[] {
  if (typeof seed === 'string') return [0x5eed5eed, ...stringWords(seed)];
  return [0x5eed0000, ...coordinateWords(seed)];
}

function expandKey(key: readonly [number, number]): [number, number, number, number] {
  // splitmix-style expansion; a state of all zeros is impossible because the increments differ per word.
  const s: [number, number, number, number] = [0, 0, 0, 0];
  let x = key[0] ^ Math.imul(key[1], GOLDEN);
  for (let i = 0; i < 4; i++) {
    x = (x + GOLDEN) >>> 0;
    s[i] = fmix32(x ^ hashWords([key[0], key[1], i], 0x243f6a88));
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return s;
}

/**
 * A seeded, splittable random stream.
 *
 * @example
 * ```ts
 * const root = Random.fromSeed(42);
 * const order = root.derive('shuffle', 3).permutation(150); // epoch 3's order, independent of epochs 0–2
 * ```
 */
export class Random {
  private readonly key: readonly [number, number];
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(key: readonly [number, number], state: readonly [number, number, number, number]) {
    this.key = key;
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /** The root stream for a seed. Integers (any safe integer) and strings are accepted. */
  static fromSeed(seed: number | string): Random {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
      throw new RangeError(`seed must be a safe integer or a string, got ${seed}.`);
    }
    const words = seedWords(seed);
    const key: [number, number] = [hashWords(words, 0x8badf00d), hashWords(words, 0x1badb002)];
    return new Random(key, expandKey(key));
  }

  /** Restores a stream saved with {@link Random.getState}. */
  static fromState(state: RandomState): Random {
    if (state.algorithm !== 'xoshiro128**') {
      throw new Error(`Random.fromState: unknown algorithm "${String(state.algorithm)}"; this version reads "xoshiro128**".`);
    }
    return new Random(state.key, state.state);
  }

  /**
   * A child stream named by a purpose and integer coordinates, e.g. `derive('shuffle', epoch)` or
   * `derive('dropout', epoch, batch, rank)`. A pure function of this stream's key and the path.
   */
  derive(purpose: string, ...coordinates: number[]): Random {
    const words = [this.key[0], this.key[1], ...stringWords(purpose)];
    for (const c of coordinates) words.push(...coordinateWords(c));
    const key: [number, number] = [hashWords(words, 0x8badf00d), hashWords(words, 0x1badb002)];
    return new Random(key, expandKey(key));
  }

  /** The next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An unbiased integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Random.int(n): n must be an integer in [1, 2^32], got ${n}.`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A standard normal deviate (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly random permutation of `0 … n-1` (Fisher–Yates). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Random.permutation(n): n must be a non-negative integer, got ${n}.`);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    this.shuffleInPlace(out);
    return out;
  }

  /** Shuffles an array in place (Fisher–Yates) and returns it. */
  shuffleInPlace<A extends { length: number; [i: number]: unknown }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** The stream's state, JSON-serializable. */
  getState(): RandomState {
    return { algorithm: 'xoshiro128**', key: [this.key[0], this.key[1]], state: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
