import { crc32, inflateSync } from 'node:zlib';

/**
 * Decodes an 8-bit grayscale, non-interlaced PNG (what `encodePng` writes, and what any encoder writes for such an
 * image: all five row filters are undone): checks the signature and every chunk's CRC. Used by the tests to check that
 * the sample grids are whole, valid PNGs holding the generator's pixels.
 */
export function decodePng(png: Uint8Array): { width: number; height: number; gray: Uint8Array } {
  const bytes = Buffer.from(png);
  if (!bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('decodePng: no PNG signature.');
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  for (;;) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('ascii', offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== bytes.readUInt32BE(offset + 8 + length)) throw new Error(`decodePng: bad CRC in ${type}.`);
    offset += 12 + length;
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[9] !== 0 || data[12] !== 0) throw new Error('decodePng: only 8-bit grayscale, non-interlaced.');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (width + 1) * height) throw new Error(`decodePng: ${raw.length} bytes of image data for ${width}×${height}.`);
  const gray = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (width + 1)]!;
    for (let x = 0; x < width; x++) {
      const a = x > 0 ? gray[y * width + x - 1]! : 0;
      const b = y > 0 ? gray[(y - 1) * width + x]! : 0;
      const c = x > 0 && y > 0 ? gray[(y - 1) * width + x - 1]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      if (predictor === undefined) throw new Error(`decodePng: unknown filter ${filter}.`);
      gray[y * width + x] = (raw[y * (width + 1) + 1 + x]! + predictor) & 0xff;
    }
  }
  return { width, height, gray };
}
