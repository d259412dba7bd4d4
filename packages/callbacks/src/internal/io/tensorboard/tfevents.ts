import { hostname } from 'node:os';
import { join } from 'node:path';
import { BufferedFile } from '../buffered-file.js';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter } from './protobuf.js';

/** TensorBoard's HistogramProto fields. */
export interface Histogram {
  readonly min: number;
  readonly max: number;
  readonly num: number;
  readonly sum: number;
  readonly sumSquares: number;
  /** Right edges of the buckets; the last one is +max (TensorBoard draws from min to the last edge). */
  readonly bucketLimit: readonly number[];
  readonly bucket: readonly number[];
}

/** Equal-width buckets between min and max (TensorBoard re-bins for display); non-finite values are dropped. */
export function histogramOf(values: ArrayLike<number>, buckets = 30): Histogram {
  let min = Infinity;
  let max = -Infinity;
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    num += 1;
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] };
  if (min === max) return { min, max, num, sum, sumSquares, bucketLimit: [max], bucket: [num] };
  const width = (max - min) / buckets;
  const counts = new Array<number>(buckets).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    counts[Math.min(buckets - 1, Math.floor((v - min) / width))]! += 1;
  }
  const bucketLimit = counts.map((_, i) => (i === buckets - 1 ? max : min + width * (i + 1)));
  return { min, max, num, sum, sumSquares, bucketLimit, bucket: counts };
}

/** One TFRecord: uint64 length, masked CRC32C of the length, data, masked CRC32C of the data (all little-endian). */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

function event(wallTime: number, step: number): ProtoWriter {
  return new ProtoWriter().double(1, wallTime).int64(2, step);
}

/** `Event { wall_time, step, summary { value { tag, simple_value } } }`. */
export function scalarEvent(tag: string, value: number, step: number, wallTime = Date.now() / 1000): Uint8Array {
  const summaryValue = new ProtoWriter().bytes(1, tag).float(2, value);
  return event(wallTime, step).bytes(5, new ProtoWriter().bytes(1, summaryValue)).finish();
}

/** `Event { wall_time, step, summary { value { tag, histo: HistogramProto } } }`. */
export function histogramEvent(tag: string, h: Histogram, step: number, wallTime = Date.now() / 1000): Uint8Array {
  const histo = new ProtoWriter().double(1, h.min).double(2, h.max).double(3, h.num).double(4, h.sum).double(5, h.sumSquares).packedDoubles(6, h.bucketLimit).packedDoubles(7, h.bucket);
  const summaryValue = new ProtoWriter().bytes(1, tag).bytes(5, histo);
  return event(wallTime, step).bytes(5, new ProtoWriter().bytes(1, summaryValue)).finish();
}

/** The first record of every event file: `Event { wall_time, file_version: "brain.Event:2" }`. */
export function fileVersionEvent(wallTime = Date.now() / 1000): Uint8Array {
  return new ProtoWriter().double(1, wallTime).int64(2, 0).bytes(3, 'brain.Event:2').finish();
}

let fileCounter = 0;

/**
 * One `events.out.tfevents.<seconds>.<host>` file in `dir`, buffered until {@link flush}. TensorBoard reads every event
 * file in a directory (one run), so a new writer per fit is fine.
 */
export class EventFileWriter {
  readonly path: string;
  private readonly file: BufferedFile;

  constructor(dir: string, now = Date.now()) {
    // The counter keeps two writers started in the same second apart (TensorBoard orders files by name).
    const suffix = fileCounter++ === 0 ? '' : `.${process.pid}-${fileCounter}`;
    this.path = join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}${suffix}`);
    this.file = new BufferedFile(this.path, 'truncate');
    this.file.write(tfRecord(fileVersionEvent(now / 1000)));
  }

  scalar(tag: string, value: number, step: number): void {
    this.file.write(tfRecord(scalarEvent(tag, value, step)));
  }

  histogram(tag: string, values: ArrayLike<number>, step: number, buckets?: number): void {
    this.file.write(tfRecord(histogramEvent(tag, histogramOf(values, buckets), step)));
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
