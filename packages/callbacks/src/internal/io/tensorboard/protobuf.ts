// A minimal protobuf writer for the handful of TensorBoard messages we emit. Written by hand: the encoding needs
// varints, fixed64 doubles, fixed32 floats and length-delimited fields (~60 lines); a protobuf library would add a
// schema compiler or reflection runtime (protobufjs is ~300 kB) for four messages.

const encoder = new TextEncoder();

/** Builds one message. Field numbers and wire types follow tensorflow/core/util/event.proto and summary.proto. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An unsigned varint (safe integers up to 2^53). */
  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf: varint ${value} out of range.`);
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  /** Wire type 0: int64 / int32 (non-negative). */
  int64(field: number, value: number): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  /** Wire type 1: double. */
  double(field: number, value: number): this {
    return this.fixed(field, 1, 8, (view) => view.setFloat64(0, value, true));
  }

  /** Wire type 5: float. */
  float(field: number, value: number): this {
    return this.fixed(field, 5, 4, (view) => view.setFloat32(0, value, true));
  }

  /** A fixed-width little-endian value: wire type 1 (8 bytes) or 5 (4 bytes), written by `write`. */
  private fixed(field: number, wireType: 1 | 5, width: 8 | 4, write: (view: DataView) => void): this {
    this.tag(field, wireType);
    const b = new Uint8Array(width);
    write(new DataView(b.buffer));
    this.push(b);
    return this;
  }

  /** Wire type 2: bytes, a string or an embedded message. */
  bytes(field: number, value: Uint8Array | string | ProtoWriter): this {
    const data = typeof value === 'string' ? encoder.encode(value) : value instanceof ProtoWriter ? value.finish() : value;
    this.tag(field, 2);
    this.varint(data.length);
    this.push(data);
    return this;
  }

  /** Wire type 2: packed repeated doubles. */
  packedDoubles(field: number, values: readonly number[]): this {
    const b = new Uint8Array(8 * values.length);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat64(8 * i, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const p of this.parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}

/** One field of a parsed message: a varint (wire type 0), 8 or 4 raw bytes (1, 5) or length-delimited bytes (2). */
export interface ProtoField {
  readonly field: number;
  readonly wire: 0 | 1 | 2 | 5;
  /** The varint's value (wire type 0); 0 otherwise. */
  readonly varint: number;
  /** The field's bytes (wire types 1, 2, 5); empty for a varint. */
  readonly bytes: Uint8Array;
}

/**
 * Parses one message into its fields, in order — the reader side of {@link ProtoWriter}, enough to read back the event
 * files it writes (resuming a run). Throws on a malformed message (a truncated field, an unknown wire type).
 */
export function readProtoFields(buf: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let i = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (i >= buf.length) throw new RangeError('protobuf: truncated varint.');
      const b = buf[i++]!;
      value += (b & 0x7f) * scale;
      if (!(b & 0x80)) return value;
      scale *= 0x80;
      if (scale > 2 ** 63) throw new RangeError('protobuf: varint too long.');
    }
  };
  const take = (n: number): Uint8Array => {
    if (i + n > buf.length) throw new RangeError('protobuf: truncated field.');
    const out = buf.subarray(i, i + n);
    i += n;
    return out;
  };
  const none = new Uint8Array();
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) fields.push({ field, wire, varint: varint(), bytes: none });
    else if (wire === 1) fields.push({ field, wire, varint: 0, bytes: take(8) });
    else if (wire === 5) fields.push({ field, wire, varint: 0, bytes: take(4) });
    else if (wire === 2) fields.push({ field, wire, varint: 0, bytes: take(varint()) });
    else throw new RangeError(`protobuf: unexpected wire type ${wire}.`);
  }
  return fields;
}
