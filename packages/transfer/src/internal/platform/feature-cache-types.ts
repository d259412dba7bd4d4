/** Features stored by a {@link FeatureCache}: float32 values and their shape. */
export interface CachedFeatures {
  readonly values: Float32Array;
  readonly shape: number[];
}

/** Where `extractFeatures({ cacheDir })` keeps features between calls, by key (a SHA-256 of weights and inputs). */
export interface FeatureCache {
  /** The file that holds the features of `key`. */
  path(key: string): string;
  /** The features stored under `key`, when present and intact (a damaged entry reads as absent). */
  read(key: string): Promise<CachedFeatures | undefined>;
  /** Stores float32 feature bytes of `shape` under `key`, atomically; `model` names the extractor in the metadata. */
  write(key: string, data: Uint8Array, shape: readonly number[], model: string): Promise<void>;
}
