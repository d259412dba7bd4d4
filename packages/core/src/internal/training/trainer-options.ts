import type { BackendPreference } from '@fitstream/backends';
import type { TrainableModel } from '../model/model.js';
import type { LossOption, LossWeights } from './heads.js';
import type { MetricSpec } from '@fitstream/losses';
import type { TrainStep } from './train-step.js';
import type { OptimizersOption } from './trainer-parts.js';

/** Options of {@link createTrainer}. */
export interface TrainerOptions<S extends MetricSpec = MetricSpec> {
  readonly model: TrainableModel;
  /**
   * Other models a custom `trainStep` trains (a GAN's discriminator, a VAE's decoder), by name: checkpoints hold every
   * model's weights, and `ctx.models` hands them to the step beside the main one (`ctx.models.model`).
   */
  readonly models?: { readonly [name: string]: TrainableModel };
  /**
   * A tfjs optimizer instance (you own it) or a name (the trainer owns and disposes it); for a custom `trainStep`, several
   * by name (`{ generator: 'adam', discriminator: { name: 'adam', learningRate: 2e-4 } }`), each with its own slots in
   * checkpoints and its own learning-rate pipeline. The first is the main one. Optional for a model compiled with
   * `model.compile({ optimizer })`, whose optimizer is then used (this option wins when both are given).
   */
  readonly optimizer?: OptimizersOption;
  /**
   * The loss: a name, a function `(yTrue, yPred) => per-sample losses`, or `{ name, fn }`; for a multi-output model one
   * for every output, a list in output order, or a map by output name (Keras 3). The total is `Σ lossWeights · lossₒ`.
   * Optional with a `trainStep`, which computes its own losses, and for a model compiled with `model.compile({ loss,
   * metrics })`, whose loss (and metrics, when `metrics` is not given) are then used; this option wins when both are.
   */
  readonly loss?: LossOption;
  /** Replaces the default step with yours (a GAN, a VAE, several optimizers): see {@link TrainStep}. */
  readonly trainStep?: TrainStep;
  /** Metrics for every output, a list per output in order, or a map by output name. */
  readonly metrics?: readonly S[] | readonly (readonly S[])[] | { readonly [output: string]: readonly S[] };
  /** A multi-output model's loss weights (default 1 each), as a list in output order or a map by output name. */
  readonly lossWeights?: LossWeights;
  /** Seeds every random stream (shuffling, dropout masks, plugins). Default: a random seed, reported in `fit:start`. */
  readonly seed?: number | string;
  /** Backend preference for {@link selectBackend}; `'current'` keeps whatever tfjs runs on now. Default `'auto'`. */
  readonly backend?: BackendPreference | 'current';
  /** Where the trainer's few log lines go (backend fallback). Default stderr; `null` silences. */
  readonly log?: ((line: string) => void) | null;
}
