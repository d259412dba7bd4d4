import type { Json, StateProvider } from '@fitstream/core';

/**
 * A plugin's mutable state that resumes from checkpoints. Core calls `setState` (on resume) before `attach`; every other
 * fit starts fresh. So `begin()` at attach keeps state restored for this fit and resets it otherwise.
 */
export class ResumableState<S> {
  current: S;
  private restored = false;

  constructor(
    private readonly fresh: () => S,
    private readonly codec: { toJson(s: S): Json; fromJson(j: Json): S },
  ) {
    this.current = fresh();
  }

  /** Called at the start of every fit. Returns `true` when this fit resumes restored state. */
  begin(): boolean {
    const resumed = this.restored;
    if (!resumed) this.current = this.fresh();
    this.restored = false;
    return resumed;
  }

  provider(key: string): StateProvider {
    return {
      key,
      getState: () => this.codec.toJson(this.current),
      setState: (json) => {
        this.current = this.codec.fromJson(json);
        this.restored = true;
      },
    };
  }
}

/** JSON has no Infinity/NaN: encode non-finite numbers as null. */
export const num = (v: number | undefined): Json => (v === undefined || !Number.isFinite(v) ? null : v);
export const readNum = (j: Json | undefined): number | undefined => (typeof j === 'number' ? j : undefined);
export const asRecord = (j: Json): Readonly<Record<string, Json>> => (j !== null && typeof j === 'object' && !Array.isArray(j) ? (j as Readonly<Record<string, Json>>) : {});
