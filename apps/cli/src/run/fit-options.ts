import type { FitOptions } from '@fitstream/core';
import type { RunConfig } from '../config/schema.js';
import type { BaseConfig, TensorPair } from '../recipes/recipe.js';
import { defined } from './plugins.js';

/** `--fast-dev-run` as a batch limit per fit, or `undefined`. */
export function devBatches(config: Pick<BaseConfig, 'fastDevRun'>): number | undefined {
  return config.fastDevRun === false ? undefined : config.fastDevRun === true ? 1 : config.fastDevRun;
}

/** The fit options of a run: the config's `fit` section, epochs and batch size, `--fast-dev-run`. */
export function fitOptions(config: RunConfig, validation: TensorPair | undefined, checkpointDir: string | undefined): FitOptions {
  const dev = devBatches(config);
  return defined<FitOptions>({
    ...config.fit,
    epochs: dev === undefined ? config.epochs : 1,
    batchSize: config.batchSize,
    validation,
    checkpointDir,
    handleSignals: true,
    ...(dev === undefined ? {} : { limitBatches: dev, limitValidationBatches: dev }),
  });
}
