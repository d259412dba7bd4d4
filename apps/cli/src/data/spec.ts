import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { FitstreamInputError } from '@fitstream/core';
import { z } from 'zod';

/** The file formats `loadUserData` reads. */
export const DATA_FORMATS = ['csv', 'tsv', 'jsonl', 'json', 'npy', 'npz', 'images', 'module'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** Delimiters a CSV file may use; auto-detected from the header record when not given. */
export const DELIMITERS = [',', ';', '\t', '|'] as const;

/** Cell texts read as missing values unless `missing` says otherwise. */
export const DEFAULT_MISSING = ['', 'NA', 'NaN', 'null'] as const;

const columnList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const splitSize = z.number().positive().refine((v) => v < 1 || Number.isInteger(v), { message: 'must be a fraction in (0, 1) or a whole number of rows' });

/**
 * What `fitstream fit` reads: the user's data file and how its columns are used. Embedded by the configuration under
 * `data`; every key but `path` has a default.
 *
 * @example
 * ```ts
 * const spec = userDataSchema.parse({ path: 'iris.csv', columns: { target: 'species' } });
 * spec.split.validation; // 0.2
 * ```
 */
export const userDataSchema = z.strictObject({
  /** A file (`.csv`, `.tsv`, `.txt`, `.jsonl`, `.ndjson`, `.json`, `.npy`, `.npz`, `.js`/`.mjs`/`.ts`/`.mts`) or an image folder. */
  path: z.string().min(1),
  /** The format; default from the extension (a folder: `images`). */
  format: z.enum(DATA_FORMATS).optional(),
  /** CSV delimiter; default: detected among `,` `;` tab `|` from the header record (outside quotes). */
  delimiter: z.enum(DELIMITERS).optional(),
  /** Whether the first CSV record names the columns (default true); without one they are `column_1 … column_k`. */
  header: z.boolean().default(true),
  /** Cell texts that are missing values (compared after trimming). */
  missing: z.array(z.string()).default([...DEFAULT_MISSING]),
  /** Column roles. `features` defaults to every column no other role uses. Arrays (`.npz`): names of the arrays. */
  columns: z
    .strictObject({
      features: columnList.optional(),
      target: columnList.optional(),
      weights: z.string().min(1).optional(),
      groups: z.string().min(1).optional(),
      time: z.string().min(1).optional(),
    })
    .prefault({}),
  /** `classification` or `regression`; default inferred from the target (strings, or ≤ 20 distinct integers: classification). */
  task: z.enum(['classification', 'regression']).optional(),
  /** Feature columns to one-hot encode besides the string columns (e.g. integer codes). */
  categorical: z.array(z.string().min(1)).default([]),
  /** Scaling of numeric features, fitted on the training split: default `standard` for tables, `none` for arrays and images. */
  scale: z.enum(['standard', 'minmax', 'none']).optional(),
  /** Missing values: an error listing them (default), dropping their rows, or imputation fitted on the training split. */
  onMissing: z.enum(['error', 'drop-rows', 'mean', 'median', 'most-frequent']).default('error'),
  /** An unseen category at predict time is an error instead of an all-zero row and a warning. */
  strict: z.boolean().default(false),
  split: z
    .strictObject({
      /** Validation rows: a fraction in (0, 1) or a count. */
      validation: splitSize.default(0.2),
      /** Keep class proportions on both sides (default: true for classification with a random split). */
      stratify: z.boolean().optional(),
      /** `random`, `group` (whole groups of `columns.groups` on one side) or `time` (the latest rows by `columns.time` validate). */
      by: z.enum(['random', 'group', 'time']).default('random'),
    })
    .prefault({}),
  /** Image folders: every image resized to `size` = `[height, width]` with `channels` 1 (grey) or 3 (RGB). */
  images: z
    .strictObject({
      size: z.tuple([z.int().min(1), z.int().min(1)]),
      channels: z.union([z.literal(1), z.literal(3)]).default(3),
    })
    .optional(),
  /** Passed to a data module's function as `options`. */
  options: z.record(z.string(), z.unknown()).default({}),
  /** The longest a data module may take to load and give its data (default 30 minutes). */
  moduleTimeoutMs: z.int().min(1).default(30 * 60_000),
});

/** A data spec as written in a config file or built from flags (defaults not yet applied). */
export type UserDataSpec = z.input<typeof userDataSchema>;
/** A data spec with its defaults applied. */
export type ResolvedDataSpec = z.output<typeof userDataSchema>;

const EXTENSIONS: Readonly<Record<string, DataFormat>> = {
  '.csv': 'csv',
  '.txt': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.npy': 'npy',
  '.npz': 'npz',
  '.js': 'module',
  '.mjs': 'module',
  '.cjs': 'module',
  '.ts': 'module',
  '.mts': 'module',
  '.cts': 'module',
};

/**
 * The format of `path`: `spec.format`, else a folder is `images` and a file goes by its extension.
 *
 * @example
 * ```ts
 * await detectFormat('data/iris.tsv'); // 'tsv'
 * ```
 */
export async function detectFormat(path: string, format?: DataFormat): Promise<DataFormat> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new FitstreamInputError('data.path', `${path} does not exist. Pass a data file (CSV, TSV, JSON Lines, .npy, .npz, a JS/TS module) or an image folder.`);
  if (format !== undefined) return format;
  if (info.isDirectory()) return 'images';
  const found = EXTENSIONS[extname(path).toLowerCase()];
  if (found === undefined) {
    throw new FitstreamInputError('data.format', `cannot tell the format of ${path} from its extension "${extname(path)}"; set data.format to one of ${DATA_FORMATS.join(', ')}.`);
  }
  return found;
}
