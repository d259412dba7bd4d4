import * as tf from '@tensorflow/tfjs';
import { BatchTransform, FitstreamInputError, provide, type Plugin, type Random } from '@fitstream/core';

/** What a split of the data is used for. `oob` = out-of-bag rows of a bootstrap. */
export type Role = 'train' | 'val' | 'test' | 'oob';

/** A transform that declares the roles it may run on: augmentation is `['train']` and never touches evaluation data. */
export interface RoleTransform {
  readonly name: string;
  readonly roles: readonly Role[];
  /** Runs inside `tf.tidy`; `random` is a seeded stream for this application. */
  apply(x: tf.Tensor, random: Random): tf.Tensor;
}

const ROLES: readonly Role[] = ['train', 'val', 'test', 'oob'];

/**
 * Declares a transform that may run only on training data (augmentation, input noise).
 *
 * @example
 * ```ts
 * const jitter = trainOnly('jitter', (x, random) => tf.add(x, tf.randomNormal(x.shape, 0, 0.05, 'float32', random.nextUint32())));
 * ```
 */
export function trainOnly(name: string, apply: RoleTransform['apply']): RoleTransform {
  return roleTransform(name, ['train'], apply);
}

/**
 * Declares a transform with explicit roles (e.g. a deterministic resize for every role).
 *
 * @example
 * ```ts
 * const clip = roleTransform('clip', ['train', 'val', 'test'], (x) => tf.clipByValue(x, -5, 5));
 * ```
 */
export function roleTransform(name: string, roles: readonly Role[], apply: RoleTransform['apply']): RoleTransform {
  if (typeof name !== 'string' || name === '') throw new FitstreamInputError('name', 'must be a non-empty string.');
  if (!roles || typeof roles !== 'object' || roles.length === 0 || roles.some((r) => !ROLES.includes(r))) {
    throw new FitstreamInputError('roles', `must be a non-empty list of ${ROLES.map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(roles)}.`);
  }
  if (typeof apply !== 'function') throw new FitstreamInputError('apply', 'must be a function (x, random) => tensor.');
  return { name, roles: [...roles], apply };
}

/**
 * Applies, in order, the transforms that declare `role`, skipping the others: a train-only transform never runs on
 * validation, test or out-of-bag data. Returns a new tensor (the caller disposes it).
 *
 * @example
 * ```ts
 * const xTest = applyForRole([jitter, clip], 'test', x, random); // only clip runs
 * ```
 */
export function applyForRole(transforms: readonly RoleTransform[], role: Role, x: tf.Tensor, random: Random): tf.Tensor {
  if (!ROLES.includes(role)) throw new FitstreamInputError('role', `must be one of ${ROLES.join(', ')}, got ${String(role)}.`);
  return tf.tidy(() => transforms.reduce((acc, t, i) => (t.roles.includes(role) ? t.apply(acc, random.derive(t.name, i)) : acc), tf.clone(x)));
}

/**
 * A trainer plugin running a role transform on each training batch's inputs (core's `BatchTransform`, which runs only
 * while training unless the transform also declares `'val'`). A transform without the `'train'` role is refused.
 *
 * @example
 * ```ts
 * trainer.use(augmentation(trainOnly('noise', (x, r) => tf.add(x, tf.randomNormal(x.shape, 0, 0.1, 'float32', r.nextUint32())))));
 * ```
 */
export function augmentation(transform: RoleTransform): Plugin {
  if (!transform?.roles?.includes('train')) {
    throw new FitstreamInputError('transform', `"${transform?.name}" does not declare the 'train' role; a batch transform always runs on training batches.`);
  }
  const applyTo = transform.roles.includes('val') ? 'train-and-validation' : 'train';
  return {
    name: `augmentation:${transform.name}`,
    register(container) {
      provide(container, BatchTransform, {
        name: transform.name,
        applyTo,
        transform: (batch, ctx) => {
          if (!(batch.x instanceof tf.Tensor)) throw new FitstreamInputError('data.x', `augmentation "${transform.name}" supports single-input models; pass x as one tensor.`);
          return { ...batch, x: transform.apply(batch.x, ctx.random) };
        },
      });
    },
  };
}
