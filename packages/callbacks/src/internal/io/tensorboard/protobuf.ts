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
    this.tag(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.push(b);
    return this;
  }

  /** Wire type 5: float. */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
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
