import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** How images become model inputs. */
export interface ImageOptions {
  /** `[height, width]` every image is resized to. */
  readonly size: readonly [number, number];
  /** 1 (grey, ITU-R 601 luma) or 3 (RGB); alpha is dropped. */
  readonly channels: 1 | 3;
}

/** An image folder as read: pixels in [0, 1], `[n, height, width, channels]` in row-major order, and labels. */
export interface ImageFolder {
  readonly root: string;
  readonly pixels: Float32Array;
  /** One sample's shape: `[height, width, channels]`. */
  readonly sampleShape: readonly [number, number, number];
  /** Class index per image (position in `classNames`). */
  readonly labels: Int32Array;
  /** The class folders' names, sorted by code point. */
  readonly classNames: readonly string[];
  /** Each image's path, in the order of `labels`. */
  readonly files: readonly string[];
  /** Files in the class folders that are not .png/.jpg/.jpeg, skipped. */
  readonly skipped: readonly string[];
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Bounds on one decoded JPEG, so that a corrupt or hostile header cannot take the process's memory. */
const JPEG_LIMITS = { maxResolutionInMP: 100, maxMemoryUsageInMB: 1024 };

/** RGBA bytes of a PNG or JPEG, told apart by their signatures (not by the extension). */
function decode(bytes: Buffer, file: string): { width: number; height: number; rgba: Uint8Array } {
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, ...JPEG_LIMITS });
      return { width: image.width, height: image.height, rgba: image.data };
    }
  } catch (error) {
    throw new FitstreamInputError('data.path', `cannot decode the image ${file}: ${(error as Error).message}. Re-save it as PNG or JPEG, or remove it.`);
  }
  throw new FitstreamInputError('data.path', `${file} is neither a PNG nor a JPEG (its first bytes are not a PNG or JPEG signature); re-save it, or remove it from the folder.`);
}

/**
 * Decodes one image file and resizes it on the device (`tf.image.resizeBilinear`, inside `tf.tidy`) to `size` with
 * `channels`, values in [0, 1]. Returns the pixels, row-major `[height, width, channels]`.
 *
 * @example
 * ```ts
 * const pixels = await readImage('cats/1.jpg', { size: [32, 32], channels: 3 }); // Float32Array(3072)
 * ```
 */
export async function readImage(file: string, options: ImageOptions): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new FitstreamInputError('data.path', `cannot read the image ${file}: ${(error as Error).message}`);
  }
  const { width, height, rgba } = decode(bytes, file);
  const [h, w] = options.size;
  return tf.tidy(() => {
    const rgb = tf.slice(tf.tensor3d(rgba, [height, width, 4], 'int32'), [0, 0, 0], [height, width, 3]).toFloat();
    const resized = tf.image.resizeBilinear(rgb, [h, w]);
    const shaped = options.channels === 1 ? tf.image.rgbToGrayscale(resized) : resized;
    return tf.div(shaped, 255).dataSync() as Float32Array;
  });
}

/**
 * Reads an image folder, `root/<class name>/*.png|jpg|jpeg`: every image resized to `size` with `channels`, values
 * in [0, 1]; labels are class indices in sorted class-name order. Files with other extensions are skipped (and listed);
 * an unreadable image, a class folder without images, or fewer than two classes is an error naming the path.
 *
 * @example
 * ```ts
 * const folder = await readImageFolder('shapes/', { size: [28, 28], channels: 1 });
 * folder.classNames; // ['circle', 'square']
 * ```
 */
export async function readImageFolder(root: string, options: ImageOptions): Promise<ImageFolder> {
  const entries = await readdir(root, { withFileTypes: true }).catch((error: Error) => {
    throw new FitstreamInputError('data.path', `cannot read the image folder ${root}: ${error.message}`);
  });
  const classNames = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodePoint);
  if (classNames.length < 2) {
    throw new FitstreamInputError('data.path', `${root} has ${classNames.length === 0 ? 'no class folders' : `one class folder (${classNames[0]})`}; an image folder holds one folder per class with its images: ${join(root, '<class>', 'image.png')}. Classification needs at least 2.`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  const skipped: string[] = [];
  for (const [label, name] of classNames.entries()) {
    const dir = join(root, name);
    const names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodePoint);
    const images = names.filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase()));
    for (const n of names) if (!IMAGE_EXTENSIONS.has(extname(n).toLowerCase())) skipped.push(join(dir, n));
    if (images.length === 0) throw new FitstreamInputError('data.path', `the class folder ${dir} has no .png, .jpg or .jpeg images; add some or remove the folder.`);
    for (const n of images) {
      files.push(join(dir, n));
      labels.push(label);
    }
  }
  const [h, w] = options.size;
  const size = h * w * options.channels;
  const pixels = new Float32Array(files.length * size);
  for (const [i, file] of files.entries()) pixels.set(await readImage(file, options), i * size);
  return { root, pixels, sampleShape: [h, w, options.channels], labels: Int32Array.from(labels), classNames, files, skipped };
}
