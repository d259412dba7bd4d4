import { isMetricsRead, readMetricsAsync, type LazyValues, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { formatDuration, formatMetric, formatRate } from '../io/format.js';
import { inputError } from '../input-error.js';
import { confusionMatrixTensor, renderConfusionMatrixSvg, type ConfusionCounts, type ConfusionMatrixData } from './confusion-matrix.js';
import { ReportCollector, type ReportData } from './report-data.js';
import { reportPanels, smoothEma, type ReportRenderOptions } from './report-render.js';
import { DecimatedSeries } from './series-buffer.js';
import { esc, FONT, renderPanelsSvg } from './svg-chart.js';

// The dashboard draws with the report's code (reportPanels → renderPanelsSvg → renderPanel), as strings set as the
// element's content: no DOM API beyond `innerHTML`, so the package needs no DOM types, and Node tests can draw into a
// minimal DOM. Redraws are throttled (at most one per `everyMs`, on an animation frame), and each is O(points drawn):
// the curves are downsampled per pixel column as in the report.

/** What the dashboard draws in: any DOM element (only its `innerHTML` is used). */
export interface DashboardElement {
  innerHTML: string;
}

/** The confusion matrix option of {@link liveDashboard}. */
export interface DashboardConfusionMatrix {
  /**
   * Labelled examples, or a function returning them, called at every epoch end inside `tf.tidy`: tensors it creates
   * there are freed after the matrix is computed; tensors created outside (yours) are left alone.
   */
  readonly data: ConfusionMatrixData | (() => ConfusionMatrixData);
  /** The class names, in the order of the model's output units (at least 2). */
  readonly classes: readonly string[];
  /** Examples per forward pass (default 256). */
  readonly batchSize?: number;
}

/** Options of {@link liveDashboard}. */
export interface LiveDashboardOptions extends ReportRenderOptions {
  /** The element to draw in, e.g. `document.querySelector('#dashboard')`; its content is replaced. */
  readonly element: DashboardElement | null | undefined;
  /** A heading (default `'Training'`). */
  readonly title?: string;
  /**
   * The least time between two redraws, in milliseconds (default 500; 0: as often as the page lets it). Frames are also
   * spaced at least 9 times what the last one took, so drawing never takes more than a tenth of the time.
   */
  readonly everyMs?: number;
  /**
   * Batch metrics stay on the device until read. `true` (default): the dashboard reads the latest step's metrics at
   * most once per `everyMs`, without blocking (`readMetricsAsync`), so the per-step curves have points even when nothing
   * else reads them; `false`: only values some other subscriber already read are drawn (no read of its own).
   */
  readonly readBatchMetrics?: boolean;
  /** Draw a confusion matrix on labelled data at every epoch end (classification models only). */
  readonly confusionMatrix?: DashboardConfusionMatrix;
}

/** The plugin {@link liveDashboard} returns. */
export interface LiveDashboard<M extends string = string> extends Plugin<M> {
  /** Frames drawn so far. */
  readonly frames: number;
  /** The data of the last fit so far. */
  readonly data: ReportData | undefined;
  /** The last confusion matrix read back, when the option is on. */
  readonly confusion: ConfusionCounts | undefined;
  /** Stops redrawing (the last frame stays); idempotent. The trainer calls it from `trainer.dispose()`. */
  dispose(): void;
}

interface Progress {
  epochs: number;
  epoch: number;
  batchesPerEpoch: number | undefined;
  batch: number;
  step: number;
  fitStart: number;
  fitBatches: number;
  epochStart: number;
  epochSteps: number;
  totalBatches: number | undefined;
  /** The latest batch values read (by the dashboard or another subscriber). */
  latest: Readonly<Record<string, number>>;
  /** The last epoch's logs (train and validation). */
  lastEpoch: { readonly epoch: number; readonly logs: Readonly<Record<string, number | undefined>> } | undefined;
  ended: string | undefined;
}

type Frames = { request(cb: () => void): number; cancel(id: number): void };

/** `requestAnimationFrame` when the global has one (a page), else none (Node: a timer alone). */
function animationFrames(): Frames | undefined {
  const g = globalThis as { requestAnimationFrame?: (cb: () => void) => number; cancelAnimationFrame?: (id: number) => void };
  const request = g.requestAnimationFrame;
  const cancel = g.cancelAnimationFrame;
  return typeof request === 'function' && typeof cancel === 'function' ? { request: (cb) => request.call(g, cb), cancel: (id) => cancel.call(g, id) } : undefined;
}

/** Whether batch values are on the host already (lazy values once read, or plain numbers). */
function isRead(values: LazyValues): boolean {
  try {
    return isMetricsRead(values);
  } catch {
    return true;
  }
}

function progressHtml(p: Progress, names: readonly string[]): string {
  const now = performance.now();
  const parts: string[] = [];
  let fraction = 0;
  if (p.ended !== undefined) {
    parts.push(esc(p.ended));
    fraction = 1;
  } else {
    parts.push(`epoch ${p.epoch + 1}/${p.epochs}`);
    parts.push(p.batchesPerEpoch ? `batch ${p.batch}/${p.batchesPerEpoch}` : `batch ${p.batch}`);
    const seconds = (now - p.epochStart) / 1000;
    if (p.epochSteps > 0 && seconds > 0) parts.push(formatRate(p.epochSteps / seconds, 'steps'));
    if (p.totalBatches !== undefined && p.fitBatches > 0) {
      const left = Math.max(0, p.totalBatches - p.fitBatches);
      parts.push(`ETA ${formatDuration(((now - p.fitStart) / p.fitBatches) * left)}`);
      fraction = p.fitBatches / p.totalBatches;
    }
  }
  const values = (logs: Readonly<Record<string, number | undefined>>, keys: readonly string[]) =>
    keys.filter((n) => logs[n] !== undefined).map((n) => `${esc(n)} ${formatMetric(logs[n]!)}`);
  const lines: string[] = [];
  const batch = values(p.latest, names);
  if (batch.length > 0 && p.ended === undefined) lines.push(`latest batch: ${batch.join(' · ')}`);
  if (p.lastEpoch) lines.push(`epoch ${p.lastEpoch.epoch + 1}: ${values(p.lastEpoch.logs, [...names, ...names.map((n) => `val_${n}`)]).join(' · ')}`);
  const width = Number((100 * Math.min(1, Math.max(0, fraction))).toFixed(1));
  return (
    `<div class="progress" style="margin:0 0 8px">` +
    `<div class="status" style="font-variant-numeric:tabular-nums;margin:0 0 4px">${parts.join(' · ')}</div>` +
    `<div class="bar" style="height:6px;background:#e3e3e3;border-radius:3px;overflow:hidden"><div class="done" style="height:100%;width:${width}%;background:#1f77b4"></div></div>` +
    `<div class="metrics" style="font-variant-numeric:tabular-nums;margin:4px 0 0;color:#555">${lines.map((l) => `<div>${l}</div>`).join('')}</div>` +
    `</div>`
  );
}

/**
 * A live training dashboard in a web page: loss and metric curves per step (raw points and a TensorBoard-style smoothed
 * line) and per epoch (train and validation), the learning rate, progress (epoch, batch, steps/s, ETA) and, with the
 * `confusionMatrix` option, a confusion matrix on labelled data after every epoch. The charts are the training report's
 * (same code, as inline SVG).
 *
 * It costs training next to nothing: events are folded into typed columns in O(1) each; the element is redrawn at
 * most every `everyMs` (on an animation frame when the page has them), each redraw downsampled to the charts' pixels;
 * batch metrics are read at most once per redraw and without blocking (see `readBatchMetrics`). The confusion matrix is
 * computed on the device inside `tf.tidy` (argMax there) and read back once per epoch. When the fit ends, the plugin
 * is disposed or its subscription closed, the last frame stays drawn and no timer is left.
 *
 * @example
 * ```ts
 * trainer.use(liveDashboard({
 *   element: document.querySelector('#dashboard'),
 *   confusionMatrix: { data: () => ({ x: valX, y: valY }), classes: ['circle', 'square', 'triangle'] },
 * }));
 * ```
 */
export function liveDashboard<M extends string = string>(options: LiveDashboardOptions): LiveDashboard<M> {
  if (!options || typeof options !== 'object') throw inputError("liveDashboard: options are required: liveDashboard({ element: document.querySelector('#dashboard') }).");
  const element = options.element;
  if (element === null || element === undefined || typeof element !== 'object' || !('innerHTML' in element)) {
    throw inputError(`liveDashboard: options.element must be a DOM element to draw in, e.g. document.querySelector('#dashboard'), got ${element === null ? 'null (no element matched: is it in the page yet?)' : typeof element}.`);
  }
  const everyMs = options.everyMs ?? 500;
  if (typeof everyMs !== 'number' || !(everyMs >= 0) || everyMs === Infinity) throw inputError(`liveDashboard: options.everyMs must be a number of milliseconds ≥ 0 (default 500), got ${String(everyMs)}.`);
  if (options.smoothing !== undefined && options.smoothing !== 'auto') smoothEma([], options.smoothing); // validates the weight now
  const readBatchMetrics = options.readBatchMetrics ?? true;
  const title = options.title ?? 'Training';
  const matrixOption = options.confusionMatrix;
  let matrixBatch = 256;
  if (matrixOption !== undefined) {
    const { data, classes } = matrixOption;
    if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
      throw inputError(`liveDashboard: options.confusionMatrix.classes must be the class names (at least 2 strings, in the order of the model's outputs), got ${Array.isArray(classes) ? `${classes.length} entries` : typeof classes}.`);
    }
    if (typeof data !== 'function' && (data === null || typeof data !== 'object')) throw inputError('liveDashboard: options.confusionMatrix.data must be { x, y } (labelled examples) or a function returning them.');
    matrixBatch = matrixOption.batchSize ?? 256;
    if (!Number.isInteger(matrixBatch) || matrixBatch < 1) throw inputError(`liveDashboard: options.confusionMatrix.batchSize must be an integer ≥ 1, got ${String(matrixBatch)}.`);
  }

  let frames = 0;
  let collector: ReportCollector | undefined;
  let confusion: ConfusionCounts | undefined;
  // The running fit's scheduler; `stop` cancels whatever is pending.
  let stop: (() => void) | undefined;

  return {
    name: 'live-dashboard',
    get frames() {
      return frames;
    },
    get data() {
      return collector?.data();
    },
    get confusion() {
      return confusion;
    },
    dispose: () => {
      stop?.();
      stop = undefined;
    },
    attach: (events$, control: TrainerControl<M>) => {
      stop?.();
      const names = [...control.metricNames] as string[];
      // Curves of bounded size (M4 per step range): a frame costs the same after a million steps as after a thousand.
      const fitCollector = new ReportCollector(title, names, 0, 'all', () => new DecimatedSeries());
      collector = fitCollector;
      confusion = undefined;
      const raf = animationFrames();
      const progress: Progress = {
        epochs: 0, epoch: 0, batchesPerEpoch: undefined, batch: 0, step: 0, fitStart: performance.now(), fitBatches: 0,
        epochStart: performance.now(), epochSteps: 0, totalBatches: undefined, latest: {}, lastEpoch: undefined, ended: undefined,
      };
      let timer: ReturnType<typeof setTimeout> | undefined;
      let frame: number | undefined;
      let lastDraw = -Infinity;
      // What the last frame cost the page's thread: frames are spaced at least 9 times that, so drawing never takes
      // more than a tenth of the time whatever `everyMs` and the size of the page.
      let drawCost = 0;
      let lastSample = -Infinity;
      let sampling = false;
      let sampledSinceDraw = false;
      let matrixSvg: { of: ConfusionCounts; svg: string } | undefined;
      let stopped = false;
      // A drawing error in a timer would escape every subscriber: kept, and thrown at the next event (fails the fit).
      let failure: Error | undefined;

      const draw = () => {
        lastDraw = performance.now();
        sampledSinceDraw = false;
        try {
          const data = fitCollector.data();
          const charts = renderPanelsSvg(reportPanels(data, options), { className: 'live-dashboard-charts', style: 'display:block;max-width:100%;height:auto' });
          if (confusion && matrixSvg?.of !== confusion) matrixSvg = { of: confusion, svg: renderConfusionMatrixSvg(confusion) };
          const matrix = matrixSvg ? `<div class="confusion" style="margin:12px 0 0;max-width:100%;overflow-x:auto">${matrixSvg.svg}</div>` : '';
          element.innerHTML =
            `<div class="fitstream-dashboard" style="font-family:${esc(FONT)};font-size:13px;color:#222">` +
            `<div class="heading" style="font-size:16px;font-weight:600;margin:0 0 4px">${esc(title)}</div>` +
            progressHtml(progress, names) +
            `<div class="charts">${charts}</div>` +
            `${matrix}</div>`;
          frames += 1;
        } catch (error) {
          failure ??= error instanceof Error ? error : new Error(`liveDashboard: drawing failed: ${String(error)}`);
        }
        drawCost = performance.now() - lastDraw;
      };
      const rethrow = () => {
        if (failure !== undefined) throw failure;
      };
      const cancel = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (frame !== undefined) raf?.cancel(frame);
        timer = frame = undefined;
      };
      const halt = () => {
        stopped = true;
        cancel();
      };
      stop = halt;
      /** Schedules one redraw, `everyMs` after the last one at the earliest; a redraw already pending covers this change. */
      const request = () => {
        if (stopped || timer !== undefined || frame !== undefined) return;
        const onTime = () => {
          timer = undefined;
          if (stopped) return;
          if (raf) {
            frame = raf.request(() => {
              frame = undefined;
              if (!stopped) draw();
            });
          } else draw();
        };
        timer = setTimeout(onTime, Math.max(0, lastDraw + Math.max(everyMs, 9 * drawCost) - performance.now()));
        (timer as { unref?: () => void }).unref?.();
      };

      const subscription = events$.subscribe((event: TrainerEvent<M>) => {
        rethrow();
        const e = event as TrainerEvent;
        fitCollector.add(e);
        switch (e.type) {
          case 'fit:start':
            progress.epochs = e.epochs;
            progress.epoch = e.initialEpoch;
            progress.batchesPerEpoch = e.batchesPerEpoch;
            progress.step = e.step;
            progress.fitStart = performance.now();
            progress.totalBatches = e.batchesPerEpoch === undefined ? undefined : Math.max(0, e.epochs - e.initialEpoch) * e.batchesPerEpoch;
            break;
          case 'epoch:start':
            progress.epoch = e.epoch;
            progress.batch = 0;
            progress.epochSteps = 0;
            progress.epochStart = performance.now();
            if (e.batchesPerEpoch !== undefined) progress.batchesPerEpoch = e.batchesPerEpoch;
            break;
          case 'batch:end':
            progress.batch = e.batch + 1;
            progress.fitBatches += 1;
            break;
          case 'step:end': {
            progress.step = e.step;
            progress.epochSteps += 1;
            if (isRead(e.metrics)) {
              progress.latest = { ...e.metrics }; // read by someone else: free (the collector took them too)
              break;
            }
            const now = performance.now();
            // At most one read in flight, one per `everyMs` and one per frame: never a device read per step.
            if (!readBatchMetrics || sampling || sampledSinceDraw || now - lastSample < everyMs) break;
            lastSample = now;
            sampling = true;
            sampledSinceDraw = true;
            const step = e.step;
            // Read without blocking: on a GPU backend the values come back while the loop goes on.
            readMetricsAsync(e.metrics).then(
              (values) => {
                sampling = false;
                const plain = { ...values } as Record<string, number>;
                progress.latest = plain;
                fitCollector.addStepValues(step, plain);
                request();
              },
              () => {
                sampling = false; // released before it was read: nothing to draw
              },
            );
            break;
          }
          case 'epoch:end':
            progress.lastEpoch = { epoch: e.epoch, logs: e.metrics as unknown as Readonly<Record<string, number | undefined>> };
            if (matrixOption) {
              const given = matrixOption.data;
              const counts = confusionMatrixTensor(control.model, typeof given === 'function' ? given : () => given, matrixOption.classes.length, matrixBatch, 'liveDashboard: options.confusionMatrix');
              // One read per epoch, without blocking; the loop waits for it at its next boundary.
              control.await(
                counts.data().then(
                  (values) => {
                    confusion = { epoch: e.epoch, classes: matrixOption.classes, counts: values };
                    counts.dispose();
                  },
                  (error: unknown) => {
                    counts.dispose();
                    throw error;
                  },
                ),
              );
            }
            break;
          case 'fit:end':
            progress.ended =
              e.reason === 'error'
                ? `failed: ${e.error?.message ?? 'error'}`
                : `${e.reason === 'stopped' ? `stopped: ${e.stopReason ?? 'stop requested'}` : 'finished'} · ${e.history.epochs.length} epochs · ${e.step} steps · ${formatDuration(performance.now() - progress.fitStart)}`;
            // The last frame, now: no timer outlives the fit.
            halt();
            draw();
            rethrow();
            return;
          default:
            break;
        }
        request();
      });
      subscription.add(halt);
      return subscription;
    },
  };
}
