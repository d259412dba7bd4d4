import { hostname } from 'node:os';
import { join } from 'node:path';
import { BufferedFile } from '../buffered-file.js';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter, readProtoFields, type ProtoField } from './protobuf.js';

// A record of readonly fields, alike in shape only to the fineTuning:trainable payload (fine-tuning.ts) and datasets' DatasetMetadata: unrelated data.
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

/** One framed record of an event file: its byte range and its payload (an `Event` message). */
export interface FramedRecord {
  readonly start: number;
  readonly end: number;
  readonly data: Uint8Array;
}

/**
 * The records at the start of an event file, up to the first whose length or either CRC is wrong — a record torn by a
 * kill mid-write, or bytes that are no TFRecord; `end` is where the last good record ends.
 */
export function readTfRecords(bytes: Uint8Array): { readonly records: FramedRecord[]; readonly end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: FramedRecord[] = [];
  let o = 0;
  while (o + 12 <= bytes.length) {
    if (view.getUint32(o + 8, true) !== maskedCrc32c(bytes.subarray(o, o + 8))) break;
    const length = view.getBigUint64(o, true);
    if (length > BigInt(bytes.length - o - 16)) break; // the data or its CRC is cut off
    const n = Number(length);
    const data = bytes.subarray(o + 12, o + 12 + n);
    if (view.getUint32(o + 12 + n, true) !== maskedCrc32c(data)) break;
    records.push({ start: o, end: o + 16 + n, data });
    o += 16 + n;
  }
  return { records, end: o };
}

/** One `Summary.Value` of a decoded event: a scalar (`simpleValue`) or a histogram. */
export interface EventValue {
  readonly tag: string;
  readonly simpleValue?: number;
  readonly histogram?: Histogram;
}

/** The fields of an `Event` this package writes. */
export interface DecodedEvent {
  readonly wallTime: number;
  readonly step: number;
  readonly fileVersion?: string;
  readonly values: readonly EventValue[];
}

const decoder = new TextDecoder();
const fieldsOf = (fields: readonly ProtoField[], field: number) => fields.filter((f) => f.field === field);
const float64 = (f: ProtoField | undefined) => (f && f.wire === 1 ? new DataView(f.bytes.buffer, f.bytes.byteOffset, 8).getFloat64(0, true) : 0);
const doubles = (fields: readonly ProtoField[]) =>
  fields.flatMap((f) => {
    if (f.wire === 1) return [float64(f)];
    if (f.wire !== 2) return [];
    const view = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
    return Array.from({ length: Math.floor(f.bytes.length / 8) }, (_, k) => view.getFloat64(8 * k, true));
  });

function decodeHistogram(bytes: Uint8Array): Histogram {
  const h = readProtoFields(bytes);
  const one = (field: number) => float64(fieldsOf(h, field)[0]);
  return { min: one(1), max: one(2), num: one(3), sum: one(4), sumSquares: one(5), bucketLimit: doubles(fieldsOf(h, 6)), bucket: doubles(fieldsOf(h, 7)) };
}

/** Decodes one record's `Event` (wall time, step, file version, summary values); throws when it is no valid message. */
export function decodeEvent(data: Uint8Array): DecodedEvent {
  const ev = readProtoFields(data);
  const version = fieldsOf(ev, 3)[0];
  const values = fieldsOf(ev, 5).flatMap((summary) =>
    fieldsOf(readProtoFields(summary.bytes), 1).map((v): EventValue => {
      const value = readProtoFields(v.bytes);
      const tag = decoder.decode(fieldsOf(value, 1)[0]?.bytes ?? new Uint8Array());
      const simple = fieldsOf(value, 2)[0];
      const histo = fieldsOf(value, 5)[0];
      return {
        tag,
        ...(simple?.wire === 5 ? { simpleValue: new DataView(simple.bytes.buffer, simple.bytes.byteOffset, 4).getFloat32(0, true) } : {}),
        ...(histo?.wire === 2 ? { histogram: decodeHistogram(histo.bytes) } : {}),
      };
    }),
  );
  return {
    wallTime: float64(fieldsOf(ev, 1)[0]),
    step: fieldsOf(ev, 2)[0]?.varint ?? 0,
    ...(version?.wire === 2 ? { fileVersion: decoder.decode(version.bytes) } : {}),
    values,
  };
}

/** Reads the events of an event file's bytes: the complete records, decoded (a torn last record is left out). */
export function readEventFile(bytes: Uint8Array): DecodedEvent[] {
  return readTfRecords(bytes).records.map((r) => decodeEvent(r.data));
}

let fileCounter = 0;

/** Options of {@link EventFileWriter}. */
export interface EventFileWriterOptions {
  /** When the file starts, in ms since the epoch (its name and version record); default now. */
  readonly now?: number;
  /**
   * An existing event file to append to (a resumed fit continues its run's file, already cut back to the checkpoint),
   * or `undefined` to start a new one; the writer holds its records in memory until this settles.
   */
  readonly continuing?: PromiseLike<string | undefined>;
}

/**
 * One `events.out.tfevents.<seconds>.<host>` file in `dir`, buffered until {@link flush}, or an existing one continued
 * (`continuing`). TensorBoard reads every event file in a directory (one run), so a new writer per fit is fine.
 */
export class EventFileWriter {
  private current: string;
  private file: BufferedFile | undefined;
  private pending: Uint8Array[] = [];
  private readonly opening: Promise<BufferedFile>;

  constructor(dir: string, options: EventFileWriterOptions = {}) {
    const now = options.now ?? Date.now();
    // The counter keeps two writers started in the same second apart (TensorBoard orders files by name).
    const suffix = fileCounter++ === 0 ? '' : `.${process.pid}-${fileCounter}`;
    this.current = join(dir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}${suffix}`);
    const start = (existing: string | undefined): BufferedFile => {
      if (existing !== undefined) {
        this.current = existing;
        return new BufferedFile(existing, 'append');
      }
      const file = new BufferedFile(this.current, 'truncate');
      file.write(tfRecord(fileVersionEvent(now / 1000)));
      return file;
    };
    if (options.continuing === undefined) {
      this.file = start(undefined);
      this.opening = Promise.resolve(this.file);
    } else {
      this.opening = Promise.resolve(options.continuing).then((existing) => {
        const file = start(existing);
        for (const chunk of this.pending) file.write(chunk);
        this.pending = [];
        this.file = file;
        return file;
      });
    }
  }

  /** The file written: a new one, or once `continuing` settled, the continued one. */
  get path(): string {
    return this.current;
  }

  private write(record: Uint8Array): void {
    if (this.file) this.file.write(record);
    else this.pending.push(record);
  }

  scalar(tag: string, value: number, step: number): void {
    this.write(tfRecord(scalarEvent(tag, value, step)));
  }

  histogram(tag: string, values: ArrayLike<number>, step: number, buckets?: number): void {
    this.write(tfRecord(histogramEvent(tag, histogramOf(values, buckets), step)));
  }

  async flush(): Promise<void> {
    await (await this.opening).flush();
  }

  async close(): Promise<void> {
    await (await this.opening).close();
  }
}
