/**
 * Resolves after the event loop has run once more (timers, I/O, rendering), without the 4 ms clamp of nested
 * `setTimeout(0)` in browsers: `setImmediate` under Node, a `MessageChannel` message in a page or worker. A training
 * loop awaits it between batches so that a page stays responsive and events (abort, signals) are seen.
 *
 * @example
 * ```ts
 * for (const batch of batches) {
 *   step(batch);
 *   await nextMacrotask();
 * }
 * ```
 */
export function nextMacrotask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    // The web's MessagePort (Node's typings describe Node's own); setting onmessage also starts the port.
    const port = channel.port1 as unknown as { onmessage: (() => void) | null; close(): void };
    port.onmessage = () => {
      port.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
