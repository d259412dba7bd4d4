import type * as tf from '@tensorflow/tfjs';
import { ofType, type Plugin } from '@fitstream/core';
import { join } from 'node:path';
import { writePngGrid } from './png.js';

/**
 * A plugin that writes `<dir>/samples/epoch-NNN.png` at every epoch's end: a grid of the images `generate()` returns
 * (disposed after the write), the path appended to `written`, then `onEpochEnd` — the GAN examples' sample sheet.
 */
export function sampleGrid(options: {
  readonly dir: string;
  readonly columns: number;
  readonly written: string[];
  generate(): tf.Tensor4D;
  onEpochEnd?(epoch: number): unknown;
}): Plugin {
  return {
    name: 'sample-grid',
    attach: (events$, control) =>
      events$.pipe(ofType('epoch:end')).subscribe((e) => {
        const path = join(options.dir, 'samples', `epoch-${String(e.epoch + 1).padStart(3, '0')}.png`);
        const images = options.generate();
        const done = writePngGrid(path, images, options.columns)
          .then(() => void options.written.push(path))
          .finally(() => images.dispose())
          .then(() => options.onEpochEnd?.(e.epoch));
        control.await(done);
      }),
  };
}
