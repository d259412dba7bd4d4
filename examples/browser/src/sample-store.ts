import { SIZE, type Samples } from './shapes.js';

const KEY = 'fitstream-example/samples';
const PIXELS = SIZE * SIZE;

/** One picture a person drew or uploaded: SIZE×SIZE grey bytes and its class. */
export interface Picture {
  readonly bytes: Uint8Array;
  readonly label: number;
}

/** Quantises a SIZE×SIZE grey image in [0, 1] to bytes, as pictures are kept (and reloaded) in the page. */
export function toBytes(pixels: Float32Array, offset = 0): Uint8Array {
  const bytes = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) bytes[i] = Math.round(pixels[offset + i]! * 255);
  return bytes;
}

/** The pictures as the trainer's samples. */
export function toSamples(pictures: readonly Picture[]): Samples {
  const pixels = new Float32Array(pictures.length * PIXELS);
  const labels = new Int32Array(pictures.length);
  pictures.forEach((p, i) => {
    for (let j = 0; j < PIXELS; j++) pixels[i * PIXELS + j] = p.bytes[j]! / 255;
    labels[i] = p.label;
  });
  return { pixels, labels };
}

/** The settings of the last run started, kept so that a reload can resume it on the same data. */
export interface RunSettings {
  readonly seed: number;
  readonly epochs: number;
  readonly backend: string;
  /** Where the run backs itself up (each run started by a person gets its own location, so that a new run never resumes an old one). */
  readonly backupDir: string;
}

interface Stored {
  readonly labels: number[];
  readonly bytes: string;
  readonly run?: RunSettings;
}

/**
 * Keeps the pictures (and the settings of the run being trained) in `localStorage`, so that after a reload the page
 * resumes the interrupted run on the same data: 784 bytes a picture, a few hundred kB for hundreds of pictures.
 *
 * @example
 * ```ts
 * savePictures(pictures, { seed: 7, epochs: 12, backend: 'auto' });
 * const { pictures, run } = loadPictures();
 * ```
 */
export function savePictures(pictures: readonly Picture[], run?: RunSettings): void {
  const all = new Uint8Array(pictures.length * PIXELS);
  pictures.forEach((p, i) => all.set(p.bytes, i * PIXELS));
  let binary = '';
  for (const b of all) binary += String.fromCharCode(b);
  const stored: Stored = { labels: pictures.map((p) => p.label), bytes: btoa(binary), ...(run ? { run } : {}) };
  localStorage.setItem(KEY, JSON.stringify(stored));
}

/** The pictures kept by {@link savePictures} (none when there are none or they do not read back). */
export function loadPictures(): { pictures: Picture[]; run: RunSettings | undefined } {
  try {
    const text = localStorage.getItem(KEY);
    if (!text) return { pictures: [], run: undefined };
    const stored = JSON.parse(text) as Stored;
    const binary = atob(stored.bytes);
    const pictures = stored.labels.map((label, i) => {
      const bytes = new Uint8Array(PIXELS);
      for (let j = 0; j < PIXELS; j++) bytes[j] = binary.charCodeAt(i * PIXELS + j);
      return { bytes, label };
    });
    return { pictures, run: stored.run };
  } catch {
    return { pictures: [], run: undefined };
  }
}
