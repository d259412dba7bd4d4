import type * as tf from '@tensorflow/tfjs';
import { Subject, type Observable } from 'rxjs';
import {
  LearningRateMultiplier,
  ofType,
  provide,
  type Plugin,
  type TrainerControl,
  type TrainerEventMap,
} from '@fitstream/core';
import { freezeLayers, selectLayers, unfreezeLayers, type LayerSelector } from '@fitstream/transfer';
import { groupFactors, groupVariables, layersModelOf, type GroupFactors } from './discriminative-lr.js';
import { inputError } from '../input-error.js';

declare module '@fitstream/core' {
  // Type parameters must match core's declaration exactly for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface TrainerEventMap<M extends string = string> {
    // A record of readonly fields, alike in shape only to Histogram (io/tensorboard/tfevents.ts) and datasets' DatasetMetadata: unrelated data.
    /** The fine-tuning schedule changed which layer groups train (at the start of `epoch`). */
    'fineTuning:trainable': {
      readonly epoch: number;
      readonly step: number;
      /** Layer groups that train from now on, counted from the head. */
      readonly trainableGroups: number;
      readonly groups: number;
      /** Layers that became trainable at this epoch. */
      readonly unfrozen: readonly string[];
      /** Layers frozen at this epoch (the first epoch freezes the backbone). */
      readonly frozen: readonly string[];
      /** The learning-rate factor of each group, input to head (0 while a group is frozen). */
      readonly factors: readonly number[];
    };
  }
}

/** Options of {@link fineTuning}. */
export interface FineTuningOptions {
  /**
   * Layer groups from the input to the head (`LayerSelector`s of @fitstream/transfer). Default:
   * `[{ allButLast: 1 }, { last: 1 }]` — the backbone and a one-layer head. Layers in no group are left as they are.
   */
  readonly groups?: readonly LayerSelector[];
  /** Epochs that train the last group (the head) alone. Default 1. */
  readonly headEpochs?: number;
  /** After that, one more group (from the head towards the input) becomes trainable every this many epochs. Default 1. */
  readonly unfreezeEvery?: number;
  /**
   * Learning-rate factor of each group once it trains (discriminative learning rates). Default `{ lowest: 0.1 }`:
   * geometric from 0.1 for the first group to 1 for the head.
   */
  readonly lrFactors?: GroupFactors;
}

/** The schedule as a pure function: how many groups (from the head) train in `epoch`. */
export function trainableGroupsAt(epoch: number, groups: number, headEpochs: number, unfreezeEvery: number): number {
  if (epoch < headEpochs) return 1;
  return Math.min(groups, 2 + Math.floor((epoch - headEpochs) / unfreezeEvery));
}

/** What {@link fineTuning} returns: a plugin and its own event stream. */
export interface FineTuning extends Plugin {
  readonly events$: Observable<{ readonly type: 'fineTuning:trainable'; readonly time: number } & TrainerEventMap['fineTuning:trainable']>;
}

function checkCount(value: number, option: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw inputError(`fineTuning: ${option} is ${value}; it must be an integer ≥ ${min}.`);
  return value;
}

/**
 * Gradual unfreezing for transfer learning (ULMFiT; fastai `fine_tune`, Lightning `BackboneFinetuning`): the head
 * trains alone for `headEpochs`, then the groups below it become trainable one at a time, from the head towards the
 * input, each at a lower learning rate than the group above it. Frozen batch-normalization layers keep their moving
 * statistics and normalize with them (core's Keras semantics); optimizer state of layers that stay trainable is kept
 * across every change. The schedule is a pure function of the epoch, so a resumed fit continues it exactly.
 *
 * @example
 * ```ts
 * const base = await loadPretrained('models/digits-cnn');
 * const model = attachHead(truncateModel(base, 'flatten'), [tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' })]);
 * createTrainer({ model, optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' })
 *   .use(fineTuning({ groups: [{ to: 'conv1' }, { from: 'conv2', to: 'flatten' }, 'head'], headEpochs: 2, lrFactors: { lowest: 0.01 } }));
 * ```
 */
export function fineTuning(options: FineTuningOptions = {}): FineTuning {
  const name = 'fineTuning';
  const groups = options.groups ?? [{ allButLast: 1 }, { last: 1 }];
  const headEpochs = checkCount(options.headEpochs ?? 1, 'headEpochs', 0);
  const unfreezeEvery = checkCount(options.unfreezeEvery ?? 1, 'unfreezeEvery', 1);
  const factors = groupFactors(options.lrFactors ?? { lowest: 0.1 }, groups.length, name);
  const subject = new Subject<{ readonly type: 'fineTuning:trainable'; readonly time: number } & TrainerEventMap['fineTuning:trainable']>();
  let byVariable = new Map<string, number>();
  return {
    name,
    events$: subject.asObservable(),
    register: (container) => provide(container, LearningRateMultiplier, { name, multiplier: (v: tf.Variable) => byVariable.get(v.name) ?? 1 }),
    attach: (events$, control: TrainerControl) => {
      const model = layersModelOf(control.model, name);
      const variables = groupVariables(model, groups, name);
      byVariable = new Map(variables.flatMap((vars, g) => vars.map((v) => [v, factors[g]!] as const)));
      const layerGroups = groups.map((g) => selectLayers(model, g));
      let current: number | undefined;
      // Set at `epoch:start`: the trainer reads the trainable variables again at every step, after that event.
      return events$.pipe(ofType('epoch:start')).subscribe((e) => {
        const trainable = trainableGroupsAt(e.epoch, groups.length, headEpochs, unfreezeEvery);
        if (trainable === current) return;
        const frozenNow: string[] = [];
        const unfrozenNow: string[] = [];
        layerGroups.forEach((layers, g) => {
          const shouldTrain = g >= groups.length - trainable;
          for (const layer of layers) {
            if (layer.trainable === shouldTrain) continue;
            (shouldTrain ? unfrozenNow : frozenNow).push(layer.name);
          }
          if (shouldTrain) unfreezeLayers(model, (l) => layers.includes(l));
          else freezeLayers(model, (l) => layers.includes(l));
        });
        current = trainable;
        const payload = {
          epoch: e.epoch,
          step: e.step,
          trainableGroups: trainable,
          groups: groups.length,
          unfrozen: unfrozenNow,
          frozen: frozenNow,
          factors: factors.map((f, g) => (g >= groups.length - trainable ? f : 0)),
        };
        subject.next({ type: 'fineTuning:trainable', time: Date.now(), ...payload });
        control.emit('fineTuning:trainable', payload);
      });
    },
  };
}
