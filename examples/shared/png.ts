import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '@fitstream/core';
import { crc32, deflateSync } from 'node:zlib';

/** An 8-bit grayscale image, row-major. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes a grayscale image as PNG (8-bit, no filter, zlib from Node): enough for sample grids, no dependency. */
export function encodePng(image: GrayImage): Buffer {
  const { width, height, pixels } = image;
  if (pixels.length !== width * height) throw new Error(`encodePng: ${pixels.length} pixels for ${width}×${height}.`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = Buffer.alloc((width + 1) * height); // each row: filter byte 0, then the row
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Tiles images `[n, h, w, 1]` with values in [0, 1] into a grid of `columns` (white digits on black, as MNIST), with a
 * `gap`-pixel border.
 */
export async function imageGrid(images: tf.Tensor4D, columns: number, gap = 2): Promise<GrayImage> {
  const [n, h, w] = images.shape;
  const rows = Math.ceil(n / columns);
  const width = columns * (w + gap) + gap;
  const height = rows * (h + gap) + gap;
  const values = await images.data();
  const pixels = new Uint8Array(width * height).fill(64);
  for (let i = 0; i < n; i++) {
    const top = gap + Math.floor(i / columns) * (h + gap);
    const left = gap + (i % columns) * (w + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) pixels[(top + y) * width + left + x] = Math.round(255 * Math.min(1, Math.max(0, values[(i * h + y) * w + x]!)));
    }
  }
  return { width, height, pixels };
}

/** Writes images as a PNG grid (atomically: a reader never sees half a file). Returns the grid written. */
export async function writePngGrid(path: string, images: tf.Tensor4D, columns: number): Promise<GrayImage> {
  const grid = await imageGrid(images, columns);
  await writeFileAtomic(path, encodePng(grid));
  return grid;
}
