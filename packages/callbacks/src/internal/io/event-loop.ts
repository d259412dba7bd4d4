import type { TrainerControl } from '@fitstream/core';

/**
 * On synchronous backends (cpu, and wasm for small models) with in-memory data, the trainer's loop only ever awaits
 * resolved promises, so it never returns to the event loop: timers, signal handlers and stream callbacks wait until the
 * fit ends. Callbacks that need them (a render tick, SIGINT) hold the loop for one `setImmediate` every `everyMs` of
 * wall time — a few microseconds per yield, no device work.
 */
export function createEventLoopYield(everyMs: number): (control: TrainerControl) => void {
  let last = performance.now();
  return (control) => {
    const now = performance.now();
    if (now - last < everyMs) return;
    last = now;
    control.await(new Promise<void>((resolve) => setImmediate(resolve)));
  };
}
