import { readFile } from 'node:fs/promises';
import { lastValueFrom, tap } from 'rxjs';
import { writeFileAtomic, type TrainerEvent } from '@fitstream/core';
import { renderReportHtml, renderReportSvg, replay, toReportData, type ReportRenderOptions } from '@fitstream/callbacks';
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

/** The events the report is drawn from (callbacks' `toReportData` reads no others): the rest of the log is skipped unparsed. */
const REPORT_EVENTS = ['fit:start', 'step:end', 'epoch:end', 'fit:end'] as const;

/** The fits in a log so far, after `e`: a `fit:start` that is not a resume starts one (the births backtest retrains once per fold). */
const countFits = (fits: number, e: TrainerEvent) => (e.type === 'fit:start' && (fits === 0 || e.resumedFrom === undefined) ? fits + 1 : fits);

/**
 * Regenerates `report.html` and `report.svg` of a run from its `events.jsonl` (callbacks' `replay` and report
 * renderers: loss and metric curves per step and per epoch, the learning rate) plus, when the run finished, the final
 * evaluation and a confusion matrix for classifiers. Returns the report's path.
 *
 * The log is streamed line by line into typed columns and the charts are downsampled to their pixels, so a run of a
 * million steps (a log of half a gigabyte) reports in seconds into a file of a few hundred kB. When the log holds
 * several fits the report draws the last.
 */
export async function writeRunReport(runDir: string): Promise<string> {
  const paths = runPaths(runDir);
  const config = await readJson<{ recipe?: string; callbacks?: { trainingReport?: ReportRenderOptions & { title?: string } } }>(paths.config);
  const options = config?.callbacks?.trainingReport ?? {};
  const title = options.title ?? `fitstream ${config?.recipe ?? 'run'}`;
  let fits = 0;
  let data;
  try {
    data = await lastValueFrom(
      replay(paths.events, { include: REPORT_EVENTS }).pipe(
        tap((e) => (fits = countFits(fits, e))),
        toReportData({ title, fits: 'last' }),
      ),
    );
  } catch (error) {
    throw new Error(`cannot read the event log of ${runDir}: ${(error as Error).message}`);
  }
  if (fits > 1) data = { ...data, title: `${title} (last of ${fits} fits)` };
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
