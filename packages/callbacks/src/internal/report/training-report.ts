import { mkdir } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { writeFileAtomic, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { ReportCollector, type ReportData } from './report-data.js';
import { renderReportHtml, renderReportSvg, smoothEma, type ReportRenderOptions } from './report-render.js';
import { inputError } from '../input-error.js';

/**
 * Renders an SVG to PNG with `@resvg/resvg-js` (an optional peer dependency: prebuilt binaries from the npm registry, no
 * install script). Rejects with an install hint when it is missing.
 */
export async function renderPng(svg: string, options: { scale?: number } = {}): Promise<Uint8Array> {
  let mod: { Resvg: new (svg: string, opts?: object) => { render(): { asPng(): Uint8Array } } };
  try {
    mod = (await import('@resvg/resvg-js')) as unknown as typeof mod;
  } catch {
    throw new Error('trainingReport: PNG output needs the optional peer dependency @resvg/resvg-js (npm install @resvg/resvg-js); the HTML and SVG reports need nothing.');
  }
  const resvg = new mod.Resvg(svg, { fitTo: { mode: 'zoom', value: options.scale ?? 1.5 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#f7f7f8' });
  return resvg.render().asPng();
}

/** Options of {@link trainingReport}. */
export interface TrainingReportOptions extends ReportRenderOptions {
  /** Directory for `report.html`, `report.svg` (and `report.png`). */
  readonly dir: string;
  readonly title?: string;
  /**
   * Read the batch metrics of every n-th step for the per-step charts (default 1: one device read per step — cheap on
   * cpu/wasm; raise it on GPUs). Steps whose metrics another subscriber read are included for free.
   */
  readonly stepEvery?: number;
  /** Also write a PNG: `true` (fails without @resvg/resvg-js), `'auto'` (default: when installed), `false`. */
  readonly png?: boolean | 'auto';
  /**
   * Rewrite the report during the fit (default `true`; watch it in a browser), at an epoch end at most every
   * `everySeconds`; `false`: only when the fit ends.
   */
  readonly everyEpoch?: boolean;
  /**
   * The least time between two rewrites during the fit, in seconds (default 30; 0: at every epoch end). The report is
   * always written when the fit ends.
   */
  readonly everySeconds?: number;
}

/** The plugin {@link trainingReport} returns. */
export interface TrainingReport<M extends string = string> extends Plugin<M> {
  readonly dir: string;
  /** The data collected so far by the last fit. */
  readonly data: ReportData | undefined;
  /** Files written by the last write. */
  readonly files: readonly string[];
}

/**
 * When the report is rewritten during a fit: at an epoch end at least `everyMs` after the last write (or the fit's
 * start). Exported for tests, with a clock of their own.
 */
export function rewriteSchedule(everyMs: number, now: () => number = Date.now): { due(): boolean } {
  let last = now();
  return {
    due: () => {
      const t = now();
      if (t - last < everyMs) return false;
      last = t;
      return true;
    },
  };
}

/**
 * A training-curve report: a self-contained HTML file (opens offline), an SVG and, with `@resvg/resvg-js` installed, a
 * PNG, with loss and metrics per step (raw points as a light scatter, a band of each pixel column's range on long runs,
 * a TensorBoard-style debiased EMA line) and per epoch (train vs validation), and the learning rate.
 *
 * It costs the training loop next to nothing: points are kept in typed columns, drawing is downsampled to the chart's
 * pixels (a million steps render in about a second into a file of a few hundred kB), and the report is rewritten
 * during the fit at most every `everySeconds` (30) without holding the loop; the fit waits only for the last write,
 * when it ends. A failed rewrite during the fit is retried by the next; a failed last write fails the fit.
 *
 * @example
 * ```ts
 * trainer.use(trainingReport({ dir: 'runs/mnist', title: 'MNIST MLP', stepEvery: 5 }));
 * ```
 */
export function trainingReport<M extends string = string>(options: TrainingReportOptions): TrainingReport<M> {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) throw inputError('trainingReport: options.dir is required.');
  const dir = resolvePath(options.dir);
  const stepEvery = options.stepEvery ?? 1;
  if (!Number.isInteger(stepEvery) || stepEvery < 0) throw inputError(`trainingReport: stepEvery must be an integer ≥ 0, got ${String(stepEvery)}.`);
  const everySeconds = options.everySeconds ?? 30;
  if (typeof everySeconds !== 'number' || !(everySeconds >= 0)) throw inputError(`trainingReport: everySeconds must be a number ≥ 0 (0: at every epoch end), got ${String(everySeconds)}.`);
  if (options.smoothing !== undefined && options.smoothing !== 'auto') smoothEma([], options.smoothing); // validates the weight now
  const png = options.png ?? 'auto';
  let collector: ReportCollector | undefined;
  let files: string[] = [];

  const write = async (d: ReportData) => {
    await mkdir(dir, { recursive: true });
    const svg = renderReportSvg(d, options);
    const written = [join(dir, 'report.html'), join(dir, 'report.svg')];
    await writeFileAtomic(written[0]!, renderReportHtml(d, options));
    await writeFileAtomic(written[1]!, svg);
    if (png !== false) {
      try {
        const bytes = await renderPng(svg);
        await writeFileAtomic(join(dir, 'report.png'), bytes);
        written.push(join(dir, 'report.png'));
      } catch (error) {
        if (png === true) throw error;
      }
    }
    files = written;
  };

  return {
    name: 'training-report',
    dir,
    get data() {
      return collector?.data();
    },
    get files() {
      return files;
    },
    attach: (events$, control: TrainerControl<M>) => {
      const fitCollector = new ReportCollector(options.title ?? 'Training report', [...control.metricNames], stepEvery);
      collector = fitCollector;
      const schedule = rewriteSchedule(everySeconds * 1000);
      // Writes run one after another; the ones during the fit are not awaited by the loop (and their errors are left
      // to the next write), the last one is.
      let chain: Promise<void> = Promise.resolve();
      return events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        fitCollector.add(e);
        if (e.type === 'fit:end') {
          const snapshot = fitCollector.data();
          chain = chain.then(() => write(snapshot));
          control.await(chain);
        } else if (e.type === 'epoch:end' && options.everyEpoch !== false && schedule.due()) {
          const snapshot = fitCollector.data();
          chain = chain.then(() => write(snapshot)).catch(() => undefined);
        }
      });
    },
  };
}
