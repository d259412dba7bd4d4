import { readFile } from 'node:fs/promises';
import { lastValueFrom, toArray } from 'rxjs';
import { writeFileAtomic } from '@fitstream/core';
import type { TrainerEvent } from '@fitstream/core';
import { renderReportHtml, renderReportSvg, replay, reportDataFromEvents, type ReportRenderOptions } from '@fitstream/callbacks';
import type { Evaluation } from './evaluation.js';
import { formatNumber } from './format.js';
import { runPaths } from './plugins.js';
import { backtestHtml, detectionHtml, escapeHtml, type BacktestRecord, type DetectionRecord } from './sections.js';

/** An extra section of report.html (callbacks' `renderReportHtml` `sections`). */
export interface ReportSection {
  readonly title: string;
  readonly html: string;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The evaluation section of the report: metrics on the validation split and, for classifiers, the confusion matrix. */
export function evaluationSection(evaluation: Evaluation & { split?: string }): ReportSection {
  const metrics = Object.entries(evaluation.metrics)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${formatNumber(v)}</td></tr>`)
    .join('\n');
  let confusion = '';
  if (evaluation.confusion) {
    const { classNames, matrix } = evaluation.confusion;
    const rows = matrix.map((row, t) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      const cells = row
        .map((count, p) => {
          const share = count / total;
          const colour = t === p ? `rgba(31, 119, 180, ${(0.1 + 0.6 * share).toFixed(3)})` : count > 0 ? `rgba(214, 39, 40, ${(0.1 + 0.6 * share).toFixed(3)})` : 'transparent';
          return `<td style="background:${colour}" title="true ${escapeHtml(classNames[t] ?? String(t))}, predicted ${escapeHtml(classNames[p] ?? String(p))}: ${count}">${count}</td>`;
        })
        .join('');
      const recall = row[t]! / total;
      return `<tr><th>${escapeHtml(classNames[t] ?? String(t))}</th>${cells}<td class="muted">${(100 * recall).toFixed(1)}%</td></tr>`;
    });
    confusion = `<h2>Confusion matrix (${escapeHtml(evaluation.split ?? 'validation')} split, ${evaluation.samples} samples)</h2>
<p class="muted">Rows: true class; columns: predicted class; last column: recall.</p>
<table class="confusion">
<thead><tr><th>true \\ predicted</th>${classNames.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}<th>recall</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
  }
  return {
    title: `Final model on the ${evaluation.split ?? 'validation'} split`,
    html: `<table class="evaluation-metrics"><tbody>
${metrics}
</tbody></table>
${confusion}`,
  };
}

/**
 * Regenerates `report.html` and `report.svg` of a run from its `events.jsonl` (callbacks' `replay` and report
 * renderers: loss and metric curves per step and per epoch, the learning rate) plus, when the run finished, the final
 * evaluation and a confusion matrix for classifiers. Returns the report's path.
 */
export async function writeRunReport(runDir: string): Promise<string> {
  const paths = runPaths(runDir);
  const config = await readJson<{ recipe?: string; callbacks?: { trainingReport?: ReportRenderOptions & { title?: string } } }>(paths.config);
  let events;
  try {
    events = await lastValueFrom(replay(paths.events).pipe(toArray()));
  } catch (error) {
    throw new Error(`cannot read the event log of ${runDir}: ${(error as Error).message}`);
  }
  const options = config?.callbacks?.trainingReport ?? {};
  const title = options.title ?? `fitstream ${config?.recipe ?? 'run'}`;
  const fits = separateFits(events);
  const data = reportDataFromEvents(fits.at(-1) ?? [], fits.length > 1 ? `${title} (last of ${fits.length} fits)` : title);
  const render: ReportRenderOptions = { ...(options.smoothing !== undefined ? { smoothing: options.smoothing } : {}), ...(options.logScale !== undefined ? { logScale: options.logScale } : {}) };
  const sections: ReportSection[] = [];
  const backtest = await readJson<BacktestRecord>(paths.backtest);
  if (backtest) sections.push({ title: 'Walk-forward backtest', html: backtestHtml(backtest) });
  const detection = await readJson<DetectionRecord>(paths.detection);
  if (detection) sections.push({ title: `Anomaly detection on the ${detection.split}`, html: detectionHtml(detection) });
  const evaluation = await readJson<Evaluation & { split?: string }>(paths.evaluation);
  if (evaluation) sections.push(evaluationSection(evaluation));
  await writeFileAtomic(paths.report, renderReportHtml(data, { ...render, sections }));
  await writeFileAtomic(paths.report.replace(/\.html$/, '.svg'), renderReportSvg(data, render));
  return paths.report;
}

/**
 * Splits an event log into its fits: a `fit:start` that resumes continues the fit before it; any other starts a new
 * one (the births backtest retrains once per fold, into one log). The report draws the last fit's curves.
 */
export function separateFits(events: readonly TrainerEvent[]): TrainerEvent[][] {
  const fits: TrainerEvent[][] = [];
  for (const e of events) {
    if (fits.length === 0 || (e.type === 'fit:start' && e.resumedFrom === undefined)) fits.push([]);
    fits.at(-1)!.push(e);
  }
  return fits;
}
