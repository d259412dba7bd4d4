import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@fitstream/core';
import { describeOnBackends } from '../../../test-support/backends.js';
import { crc32c, maskedCrc32c, tensorBoard } from '../../../index.js';
import { blobs, smallTrainer } from '../../../test-support/fixtures.js';

// ---- An independent reader: bitwise CRC-32C and a generic protobuf field parser, sharing no code with the writer. ----

function crcBitwise(bytes: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return ~crc >>> 0;
}
const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

type Field = { wire: 0; value: bigint } | { wire: 1; value: DataView } | { wire: 2; value: Uint8Array } | { wire: 5; value: DataView };

function parseMessage(buf: Uint8Array): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    let f: Field;
    if (wire === 0) f = { wire, value: varint() };
    else if (wire === 1) {
      f = { wire, value: new DataView(buf.buffer, buf.byteOffset + i, 8) };
      i += 8;
    } else if (wire === 5) {
      f = { wire, value: new DataView(buf.buffer, buf.byteOffset + i, 4) };
      i += 4;
    }
    else if (wire === 2) {
      const len = Number(varint());
      f = { wire, value: buf.subarray(i, i + len) };
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), f]);
  }
  return fields;
}

const one = (m: Map<number, Field[]>, field: number) => m.get(field)?.[0];
const str = (f: Field | undefined) => new TextDecoder().decode((f as { value: Uint8Array }).value);
const dbl = (f: Field | undefined) => (f as { value: DataView }).value.getFloat64(0, true);
const packed = (f: Field | undefined) => {
  const b = (f as { value: Uint8Array }).value;
  return Array.from({ length: b.length / 8 }, (_, k) => new DataView(b.buffer, b.byteOffset + 8 * k, 8).getFloat64(0, true));
};

interface Decoded {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: { tag: string; simple?: number; histo?: { min: number; max: number; num: number; sum: number; limits: number[]; buckets: number[] } }[];
}

function readRecords(file: Uint8Array): Decoded[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: Decoded[] = [];
  let o = 0;
  while (o < file.length) {
    const len = Number(view.getBigUint64(o, true));
    expect(view.getUint32(o + 8, true)).toBe(mask(crcBitwise(file.subarray(o, o + 8))));
    const data = file.subarray(o + 12, o + 12 + len);
    expect(view.getUint32(o + 12 + len, true)).toBe(mask(crcBitwise(data)));
    o += 16 + len;
    const ev = parseMessage(data);
    const values = (parseMessage((one(ev, 5)?.value as Uint8Array | undefined) ?? new Uint8Array()).get(1) ?? []).map((v) => {
      const m = parseMessage(v.value as Uint8Array);
      const simple = one(m, 2) ? (one(m, 2)!.value as DataView).getFloat32(0, true) : undefined;
      const h = one(m, 5) ? parseMessage(one(m, 5)!.value as Uint8Array) : undefined;
      return {
        tag: str(one(m, 1)),
        ...(simple !== undefined ? { simple } : {}),
        ...(h ? { histo: { min: dbl(one(h, 1)), max: dbl(one(h, 2)), num: dbl(one(h, 3)), sum: dbl(one(h, 4)), limits: packed(one(h, 6)), buckets: packed(one(h, 7)) } } : {}),
      };
    });
    out.push({ wallTime: dbl(one(ev, 1)), step: Number((one(ev, 2)?.value as bigint | undefined) ?? 0n), ...(one(ev, 3) ? { fileVersion: str(one(ev, 3)) } : {}), values });
  }
  expect(o).toBe(file.length);
  return out;
}

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-tb-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('CRC-32C', () => {
  it('matches the known vectors (masked as TFRecord does)', () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array())).toBe(0);
    const bytes = ascii('fitstream tensorboard');
    expect(crc32c(bytes)).toBe(crcBitwise(bytes));
    expect(maskedCrc32c(bytes)).toBe(mask(crcBitwise(bytes)));
  });
});

// Histograms are computed from the tensors' values on every backend; native TensorFlow 2.21 refuses to concatenate
// scalars (which breaks tfjs-node's own summary writer), so the files are checked there too.
describeOnBackends(
  'tensorBoard event files',
  (backend) => {
    beforeAll(async () => {
      await selectBackend({ prefer: backend, log: null });
    });
    afterAll(async () => {
      await selectBackend({ prefer: 'cpu', log: null });
    });

    it('writes event files that an independent decoder reads back: version, epoch and batch scalars, weight and gradient histograms', async () => {
      const logDir = join(tmp, `run-${backend}`);
      const trainer = smallTrainer({ optimizer: 'adam' });
      const tb = tensorBoard({ logDir, updateFreq: 2, histogramFreq: 1, gradientFreq: 4 });
      trainer.use(tb);
      const { history } = await trainer.fit(blobs(64), { epochs: 2, batchSize: 16, validation: blobs(16, 3, 2, 8), handleSignals: false });

      const trainFiles = await readdir(join(logDir, 'train'));
      expect(trainFiles).toHaveLength(1);
      // The process's first writer names its file by time and host; later ones add `.<pid>-<n>` (two writers, one second).
      expect(trainFiles[0]).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/\./g, '\\.')}(\\.\\d+-\\d+)?$`));
      const train = readRecords(await readFile(join(logDir, 'train', trainFiles[0]!)));
      const validation = readRecords(await readFile(join(logDir, 'validation', (await readdir(join(logDir, 'validation')))[0]!)));

      expect(train[0]).toMatchObject({ fileVersion: 'brain.Event:2', values: [] });
      expect(Math.abs(train[0]!.wallTime - Date.now() / 1000)).toBeLessThan(60);
      const scalars = (records: Decoded[], tag: string) => records.flatMap((r) => r.values.filter((v) => v.tag === tag).map((v) => [r.step, v.simple!] as const));
      expect(scalars(train, 'epoch_loss')).toEqual(history.logs.loss!.map((v, i) => [i, Math.fround(v)]));
      expect(scalars(validation, 'epoch_accuracy')).toEqual(history.logs.val_accuracy!.map((v, i) => [i, Math.fround(v)]));
      expect(scalars(train, 'batch_loss').map(([s]) => s)).toEqual([2, 4, 6, 8]);
      expect(scalars(train, 'epoch_learning_rate')).toEqual([[0, Math.fround(0.001)], [1, Math.fround(0.001)]]);

      const histos = train.flatMap((r) => r.values.filter((v) => v.histo).map((v) => ({ step: r.step, tag: v.tag, h: v.histo! })));
      const weightTags = histos.filter((h) => !h.tag.startsWith('gradients/'));
      expect(new Set(weightTags.map((h) => h.step))).toEqual(new Set([0, 1]));
      expect(weightTags.filter((h) => h.step === 0).map((h) => h.tag)).toHaveLength(4); // 2 kernels + 2 biases
      const kernel = weightTags.find((h) => /kernel/.test(h.tag) && h.h.num === 24)!;
      expect(kernel.h.buckets.reduce((a, b) => a + b, 0)).toBe(24); // 3×8 kernel
      expect(kernel.h.limits.at(-1)).toBe(kernel.h.max);
      expect(kernel.h.min).toBeLessThan(kernel.h.max);
      const grads = histos.filter((h) => h.tag.startsWith('gradients/'));
      expect(new Set(grads.map((g) => g.step))).toEqual(new Set([4, 8]));
      expect(grads.filter((g) => g.step === 4)).toHaveLength(4);
      expect(tb.files).toHaveLength(2);
    });
  },
  ['cpu', 'tensorflow'],
);

describe('tensorBoard', () => {
  it('observing gradients does not change training', async () => {
    const plain = smallTrainer({ optimizer: 'adam' });
    const observed = smallTrainer({ optimizer: 'adam' }).use(tensorBoard({ logDir: join(tmp, 'same'), gradientFreq: 1, histogramFreq: 1 }));
    const a = await plain.fit(blobs(64), { epochs: 2, batchSize: 16, handleSignals: false });
    const b = await observed.fit(blobs(64), { epochs: 2, batchSize: 16, handleSignals: false });
    expect(b.history.logs.loss).toEqual(a.history.logs.loss);
  });
});
