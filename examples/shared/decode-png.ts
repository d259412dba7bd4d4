import { Resvg } from '@resvg/resvg-js';

/**
 * Decodes a PNG with an independent decoder (resvg, through an SVG `<image>`): its width, height and the red channel
 * of each pixel. Used by the tests to check that the sample grids are real PNGs.
 */
export function decodePng(png: Uint8Array): { width: number; height: number; gray: Uint8Array } {
  const bytes = Buffer.from(png);
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><image href="data:image/png;base64,${bytes.toString('base64')}" width="${width}" height="${height}"/></svg>`;
  const rendered = new Resvg(svg).render();
  const gray = new Uint8Array(rendered.width * rendered.height);
  for (let i = 0; i < gray.length; i++) gray[i] = rendered.pixels[i * 4]!;
  return { width: rendered.width, height: rendered.height, gray };
}
