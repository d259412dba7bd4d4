import { type EventOf, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { formatDuration, formatMetric, formatRate } from '../io/format.js';
import { inputError } from '../input-error.js';
import { environment, terminalStream } from '#platform/terminal';
import type { ProgressStream } from './progress-stream.js';

export type { ProgressStream };

// Written by hand rather than with cli-progress: the bar must decide *when* lazy batch metrics are read (only when it
// renders, at most `refreshMs` apart, and only while the batch is still the latest), must switch to one plain line per
// epoch when stdout is no terminal or CI is set, and needs no multi-bar or theming; cli-progress would want a payload
// update per step (a device read per step) and adds nothing we use. The bar itself is ~40 lines.


/** Options of {@link progressBar}. */
export interface ProgressBarOptions {
  /** Default `process.stdout` (required in a browser, which has no terminal). */
  readonly stream?: ProgressStream;
  /** `'auto'` (default): a live bar on a terminal, one plain line per epoch when not a TTY or when `CI` is set. */
  readonly mode?: 'auto' | 'bar' | 'lines';
  /** Minimum time between two renders of the live bar (default 100 ms: 10 Hz). */
  readonly refreshMs?: number;
  /** Metric names to show (default: the loss and every metric; `val_` names appear on the epoch line). */
  readonly metrics?: readonly string[];
  /** Environment used for the `CI` check (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The plugin {@link progressBar} returns. */
export interface ProgressBar<M extends string = string> extends Plugin<M> {
  /** `'bar'` or `'lines'`, as resolved for the stream. */
  readonly mode: 'bar' | 'lines';
}

const CLEAR_LINE = '\x1b[K';

function isCi(env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width);
  if (full >= width) return `[${'='.repeat(width)}]`;
  return `[${'='.repeat(full)}>${' '.repeat(width - full - 1)}]`;
}

function metricText(values: Readonly<Record<string, number | undefined>>, names: readonly string[]): string {
  return names
    .filter((n) => values[n] !== undefined)
    .map((n) => `${n} ${formatMetric(values[n]!)}`)
    .join('  ');
}

/**
 * A terminal progress bar: one bar per epoch with the batch count, steps/s, ETA, loss and metrics (numbers with four
 * significant digits, exponent notation for tiny values — a loss of 3e-5 never prints as 0.00), and a final line per
 * epoch with the validation logs. Renders at most every `refreshMs` (10 Hz), reading the lazy batch metrics only then,
 * so it costs no device sync per step. Plain lines (one per epoch, no escape codes) when the stream is not a TTY or `CI`
 * is set.
 *
 * @example
 * ```ts
 * trainer.use(progressBar());
 * // Epoch 3/10 [=========>          ] 45/100  21.4 steps/s  ETA 2.6s  loss 0.3127  accuracy 0.8906
 * ```
 */
export function progressBar<M extends string = string>(options: ProgressBarOptions = {}): ProgressBar<M> {
  const stream: ProgressStream = options.stream ?? terminalStream();
  const env = options.env ?? environment();
  const mode: 'bar' | 'lines' = options.mode === 'bar' || options.mode === 'lines' ? options.mode : stream.isTTY === true && !isCi(env) ? 'bar' : 'lines';
  if (options.mode !== undefined && !['auto', 'bar', 'lines'].includes(options.mode)) throw inputError(`progressBar: mode must be 'auto', 'bar' or 'lines', got ${String(options.mode)}.`);
  const refreshMs = options.refreshMs ?? 100;
  if (!(refreshMs >= 0)) throw inputError(`progressBar: refreshMs must be ≥ 0, got ${String(refreshMs)}.`);

  return {
    name: 'progress-bar',
    mode,
    attach: (events$, control: TrainerControl<M>) => {
      const names = options.metrics ?? ([...control.metricNames] as string[]);
      const epochNames = [...names, ...names.map((n) => `val_${n}`)];
      let epochs = 0;
      let epochStart = 0;
      let batchesPerEpoch: number | undefined;
      let batches = 0;
      let steps = 0;
      let latest: EventOf<'batch:end'> | undefined;
      let shown: Readonly<Record<string, number>> = {};
      let lastRender = 0;
      let live = false;
      let epoch = 0;
      let epochStartStep = 0;

      const readLatest = () => {
        const e = latest;
        if (!e) return;
        // Reading is safe while this is the latest batch: core releases a batch's values only when the next one ends,
        // and then `latest` has moved on (or was cleared at the epoch end).
        try {
          shown = { ...e.metrics };
        } catch {
          latest = undefined;
        }
      };

      const render = () => {
        if (mode !== 'bar') return;
        lastRender = performance.now();
        readLatest();
        const elapsed = lastRender - epochStart;
        const rate = elapsed > 0 ? (1000 * steps) / elapsed : 0;
        const head = `Epoch ${epoch + 1}/${epochs}`;
        const columns = Math.max(40, (stream.columns ?? 80) - 1);
        let progress: string;
        if (batchesPerEpoch) {
          const eta = batches > 0 ? ((batchesPerEpoch - batches) * elapsed) / batches : Number.NaN;
          const count = `${String(batches).padStart(String(batchesPerEpoch).length)}/${batchesPerEpoch}`;
          const width = Math.max(10, Math.min(30, columns - 100));
          progress = `${bar(batches / batchesPerEpoch, width)} ${count}  ${formatRate(rate, 'steps')}  ETA ${formatDuration(eta)}`;
        } else {
          progress = `${batches} batches  ${formatRate(rate, 'steps')}  ${formatDuration(elapsed)}`;
        }
        const line = `${head} ${progress}  ${metricText(shown, names)}`.trimEnd();
        stream.write(`\r${line.length > columns ? line.slice(0, columns) : line}${CLEAR_LINE}`);
        live = true;
      };

      let timer: ReturnType<typeof setInterval> | undefined;
      const stopTimer = () => {
        if (timer) clearInterval(timer);
        timer = undefined;
      };

      const subscription = events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        switch (e.type) {
          case 'fit:start':
            epochs = e.epochs;
            batchesPerEpoch = e.batchesPerEpoch;
            if (mode === 'bar' && refreshMs > 0) {
              timer = setInterval(render, refreshMs);
              timer.unref?.();
            }
            break;
          case 'epoch:start':
            epoch = e.epoch;
            batchesPerEpoch = e.batchesPerEpoch;
            epochStart = performance.now();
            epochStartStep = e.step;
            batches = 0;
            steps = 0;
            shown = {};
            latest = undefined;
            if (mode === 'bar') render();
            break;
          case 'batch:end':
            batches += 1;
            latest = e;
            break;
          case 'step:end':
            steps += 1;
            if (mode === 'bar') {
              if (performance.now() - lastRender >= refreshMs) render();
            }
            break;
          case 'epoch:end': {
            latest = undefined;
            const seconds = e.durationMs / 1000;
            const logs = e.metrics as unknown as Readonly<Record<string, number | undefined>>;
            const line = `Epoch ${e.epoch + 1}/${epochs}  ${e.batches} batches  ${formatDuration(e.durationMs)}  ${formatRate(seconds > 0 ? (e.step - epochStartStep) / seconds : 0, 'steps')}  ${metricText(logs, epochNames)}`;
            stream.write(mode === 'bar' ? `\r${line}${CLEAR_LINE}\n` : `${line}\n`);
            live = false;
            break;
          }
          case 'fit:end':
            stopTimer();
            if (live) stream.write('\n');
            live = false;
            if (e.reason === 'stopped') stream.write(`Stopped after ${e.history.epochs.length} epochs: ${e.stopReason ?? 'stop requested'}\n`);
            break;
          default:
            break;
        }
      });
      subscription.add(stopTimer);
      return subscription;
    },
  };
}
