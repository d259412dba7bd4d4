import type { TrainerEventType } from '@fitstream/core';
import type {} from '@fitstream/callbacks';
import type {} from '@fitstream/distributed';
import type {} from '@fitstream/regularisers';
import type {} from '@fitstream/samplers';
import type {} from '@fitstream/time-series';
import { describe, expectTypeOf, it } from 'vitest';

/** A name that breaks `<source>:<what happened>` in lower camel case (no hyphen, underscore, space or second colon). */
type Violation<T extends string> = T extends `${infer Source}:${infer Action}`
  ? Source extends ''
    ? T
    : Action extends ''
      ? T
      : T extends `${string}-${string}` | `${string}_${string}` | `${string} ${string}` | `${string}:${string}:${string}`
        ? T
        : Uncapitalize<Source> extends Source
          ? Uncapitalize<Action> extends Action
            ? never
            : T
          : T
  : T;

describe('event names of every package', () => {
  it('follow <source>:<whatHappened> in lower camel case', () => {
    // Every package's augmentation is in view (else the check below would pass on core's names alone).
    expectTypeOf<'learningRate:changed' | 'distributed:epochEnd' | 'regulariser:report' | 'backupAndRestore:saved'>().toMatchTypeOf<TrainerEventType>();
    expectTypeOf<Violation<TrainerEventType>>().toEqualTypeOf<never>();
    // The check itself catches the old names.
    expectTypeOf<Violation<'distributed:epoch-end' | 'Fit:start' | 'fit'>>().toEqualTypeOf<'distributed:epoch-end' | 'Fit:start' | 'fit'>();
  });
});
