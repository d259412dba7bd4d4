/**
 * The example's pictures: 28×28 grey images of three hand-drawn-looking shapes, rasterised on a canvas. The demo
 * dataset draws them from core's seeded `Random` (never `Math.random`), so a seed gives the same pictures — and, with
 * the trainer's seed, the same weights — on every run of the same browser.
 */
import { Random } from '@fitstream/core';

/** The classes, in label order. */
export const CLASSES = ['circle', 'square', 'triangle'] as const;
export type ShapeClass = (typeof CLASSES)[number];

/** Side of the model's input images, in pixels. */
export const SIZE = 28;

/** Labelled images: `pixels` holds `labels.length` images of SIZE×SIZE values in [0, 1], row-major. */
export interface Samples {
  readonly pixels: Float32Array;
  readonly labels: Int32Array;
}

/** A 2D context that reads back cheaply (`willReadFrequently`: no GPU readback per sample). */
export function readableContext(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser gives no 2D canvas context; the example needs one to draw its pictures.');
  return ctx;
}

/**
 * Draws one shape in white strokes on black, as a person would: a random size, place, rotation, stroke width and a
 * little wobble of each corner.
 */
export function drawShape(ctx: CanvasRenderingContext2D, shape: ShapeClass, random: Random): void {
  const s = ctx.canvas.width;
  const between = (lo: number, hi: number) => lo + (hi - lo) * random.next();
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, s, s);
  const r = between(0.26, 0.4) * s;
  const cx = between(r + 0.04 * s, s - r - 0.04 * s);
  const cy = between(r + 0.04 * s, s - r - 0.04 * s);
  const turn = between(0, 2 * Math.PI);
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = between(0.05, 0.08) * s;
  ctx.lineJoin = 'round';
  ctx.lineCap = 'round';
  ctx.beginPath();
  if (shape === 'circle') {
    ctx.ellipse(cx, cy, r, r * between(0.8, 1), turn, 0, 2 * Math.PI);
  } else {
    const corners = shape === 'square' ? 4 : 3;
    for (let i = 0; i < corners; i++) {
      const angle = turn + (2 * Math.PI * i) / corners;
      const wobble = between(0.9, 1.1);
      const x = cx + Math.cos(angle) * r * wobble;
      const y = cy + Math.sin(angle) * r * wobble;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.closePath();
  }
  ctx.stroke();
}

/**
 * Reads a canvas of any size as one SIZE×SIZE grey image (the mean of red, green and blue, in [0, 1]) into `out` at
 * `offset`. Pictures with a light background (a photo of ink on paper) are inverted, so that strokes are bright.
 */
export function readImage(source: CanvasImageSource, scratch: CanvasRenderingContext2D, out: Float32Array, offset: number): void {
  scratch.fillStyle = '#000';
  scratch.fillRect(0, 0, SIZE, SIZE);
  scratch.drawImage(source, 0, 0, SIZE, SIZE);
  const mean = readPixels(scratch, out, offset);
  if (mean > 0.5) {
    for (let i = 0; i < SIZE * SIZE; i++) out[offset + i] = 1 - out[offset + i]!;
  }
}

/** Copies a SIZE×SIZE context's grey values into `out` at `offset`; returns their mean. */
export function readPixels(ctx: CanvasRenderingContext2D, out: Float32Array, offset: number): number {
  const rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
  let sum = 0;
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = (rgba[4 * i]! + rgba[4 * i + 1]! + rgba[4 * i + 2]!) / (3 * 255);
    out[offset + i] = v;
    sum += v;
  }
  return sum / (SIZE * SIZE);
}

/** A SIZE×SIZE canvas to rasterise and read back samples with. */
export function scratchCanvas(): CanvasRenderingContext2D {
  const canvas = document.createElement('canvas');
  canvas.width = SIZE;
  canvas.height = SIZE;
  return readableContext(canvas);
}

/**
 * The demo dataset: `perClass` pictures of each shape, in class order, drawn from `Random.fromSeed(seed)`'s stream
 * `'demo-shapes'`.
 *
 * @example
 * ```ts
 * const { pixels, labels } = demoShapes(7, 100); // 300 pictures, the same for seed 7 on every run
 * ```
 */
export function demoShapes(seed: number, perClass: number): Samples {
  const random = Random.fromSeed(seed).derive('demo-shapes');
  const ctx = scratchCanvas();
  const n = perClass * CLASSES.length;
  const pixels = new Float32Array(n * SIZE * SIZE);
  const labels = new Int32Array(n);
  CLASSES.forEach((shape, label) => {
    for (let j = 0; j < perClass; j++) {
      const i = label * perClass + j;
      drawShape(ctx, shape, random);
      readPixels(ctx, pixels, i * SIZE * SIZE);
      labels[i] = label;
    }
  });
  return { pixels, labels };
}
