// `<out>/sweep.html` and the `--json` summary. The page is callbacks' `renderReportHtml` — the training report's
// shell, summary and charts, here of the best trial — with the sweep as its sections: the trials ranked by the
// objective (the best highlighted), the parallel-coordinates plot and the objective per epoch of every trial.
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { formatDuration, formatMetric, parseEventLog, renderReportHtml, reportDataFromEvents, type ReportSection } from '@fitstream/callbacks';
import { writeFileAtomic } from '@fitstream/core';
import { escapeHtml } from '../run/sections.js';
import { parseSpace, type ParamValue } from './space.js';
import { statePath, type SweepState, type TrialRecord, type TrialStatus } from './state.js';
import { objectiveCurvesSvg, parallelCoordinatesSvg, type ChartTrial } from './sweep-charts.js';

/** One row of the ranking. */
export interface SweepRow {
  readonly trial: string;
  readonly runDir: string;
  readonly status: TrialStatus;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The best objective value over the trial's epochs, and that epoch (from 0, as the training report numbers them). */
  readonly best?: number;
  readonly bestEpoch?: number;
  /** The objective after the trial's last epoch. */
  readonly final?: number;
  /** Epochs trained. */
  readonly epochs: number;
  readonly durationMs: number;
  readonly bracket?: number;
  /** The last pruning decision, or the failure. */
  readonly note?: string;
}

/** What `fitstream sweep --json` prints. */
export interface SweepSummary {
  readonly name: string;
  readonly out: string;
  readonly state: string;
  readonly report: string;
  readonly status: SweepState['status'];
  readonly objective: SweepState['objective'];
  readonly sampler: SweepState['sampler'];
  readonly counts: Readonly<Record<TrialStatus, number>>;
  readonly best?: { readonly trial: string; readonly runDir: string; readonly params: Readonly<Record<string, ParamValue>>; readonly value: number; readonly epoch: number };
  /** Every trial, best first (completed trials by the objective, then pruned ones, then the rest). */
  readonly trials: readonly SweepRow[];
}

const GROUP: Readonly<Record<TrialStatus, number>> = { completed: 0, pruned: 1, paused: 2, interrupted: 3, running: 4, pending: 5, failed: 6 };

function rowOf(t: TrialRecord, out: string, metric: string, mode: 'min' | 'max'): SweepRow {
  let best: { value: number; epoch: number } | undefined;
  let final: number | undefined;
  for (const e of t.epochs) {
    const v = e.metrics[metric];
    if (typeof v !== 'number' || Number.isNaN(v)) continue;
    final = v;
    if (!best || (mode === 'min' ? v < best.value : v > best.value)) best = { value: v, epoch: e.epoch };
  }
  const decision = t.decisions.filter((d) => d.action !== 'paused').pop();
  const note = t.status === 'failed' ? t.error : decision ? `${decision.action} at epoch ${decision.epoch}: ${decision.reason}` : undefined;
  return {
    trial: t.name,
    runDir: join(out, t.name),
    status: t.status,
    params: t.params,
    ...(best ? { best: best.value, bestEpoch: best.epoch } : {}),
    ...(final !== undefined ? { final } : {}),
    epochs: t.epochs.reduce((m, e) => Math.max(m, e.epoch + 1), 0),
    durationMs: Math.round(t.durationMs),
    ...(t.bracket !== undefined ? { bracket: t.bracket } : {}),
    ...(note ? { note } : {}),
  };
}

/**
 * The ranking: completed trials by their best objective value, then pruned ones (a pruned trial never outranks a
 * completed one: its curve stopped), then paused, interrupted, running, pending and failed ones; ties by trial.
 */
export function rankTrials(state: SweepState, out: string): SweepRow[] {
  const { metric, mode } = state.objective;
  const sign = mode === 'min' ? 1 : -1;
  return state.trials
    .map((t) => rowOf(t, out, metric, mode))
    .sort((a, b) => {
      const group = GROUP[a.status] - GROUP[b.status];
      if (group !== 0) return group;
      if ((a.best === undefined) !== (b.best === undefined)) return a.best === undefined ? 1 : -1;
      return (a.best === undefined ? 0 : sign * (a.best - b.best!)) || a.trial.localeCompare(b.trial);
    });
}

/** The `--json` summary of a sweep's state. */
export function sweepSummary(state: SweepState, out: string, report: string): SweepSummary {
  const trials = rankTrials(state, out);
  const counts = Object.fromEntries(Object.keys(GROUP).map((s) => [s, state.trials.filter((t) => t.status === s).length])) as Record<TrialStatus, number>;
  const top = trials[0];
  const best = top && top.status === 'completed' && top.best !== undefined ? { trial: top.trial, runDir: top.runDir, params: top.params, value: top.best, epoch: top.bestEpoch! } : undefined;
  return { name: state.name, out, state: statePath(out), report, status: state.status, objective: state.objective, sampler: state.sampler, counts, ...(best ? { best } : {}), trials };
}

const cell = (v: ParamValue): string => escapeHtml(typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v));

function tableHtml(summary: SweepSummary, keys: readonly string[], out: string): string {
  const metric = summary.objective.metric;
  const rows = summary.trials.map((r, i) => {
    const isBest = r.trial === summary.best?.trial;
    const style = isBest ? ' style="background:#fff1e0;font-weight:600"' : r.status === 'pruned' ? ' style="color:#777"' : r.status === 'failed' ? ' style="color:#b22"' : '';
    const link = `<a href="${escapeHtml(relative(out, join(r.runDir, 'report.html')).split('\\').join('/'))}">${escapeHtml(r.trial)}</a>`;
    return (
      `<tr class="trial ${r.status}${isBest ? ' best' : ''}"${style}><td>${i + 1}</td><td>${link}${isBest ? ' ★' : ''}</td><td>${r.status}</td>` +
      keys.map((k) => `<td>${cell(r.params[k]!)}</td>`).join('') +
      `<td>${r.best === undefined ? '—' : `${formatMetric(r.best)} <span class="muted">(epoch ${r.bestEpoch})</span>`}</td><td>${r.final === undefined ? '—' : formatMetric(r.final)}</td>` +
      `<td>${r.epochs}</td><td>${r.durationMs > 0 ? formatDuration(r.durationMs) : '—'}</td><td class="muted" style="text-align:left">${escapeHtml(r.note ?? '')}</td></tr>`
    );
  });
  return `<table class="sweep-trials">
<thead><tr><th>rank</th><th>trial</th><th>status</th>${keys.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}<th>best ${escapeHtml(metric)}</th><th>final ${escapeHtml(metric)}</th><th>epochs</th><th>time</th><th style="text-align:left">decision</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

async function bestRunData(summary: SweepSummary, title: string) {
  if (!summary.best) return reportDataFromEvents([], title);
  try {
    return reportDataFromEvents(parseEventLog(await readFile(join(summary.best.runDir, 'events.jsonl'), 'utf8')), title);
  } catch {
    return reportDataFromEvents([], title);
  }
}

/**
 * Writes `<out>/sweep.html` (atomically) from the sweep's state and returns its path: the best trial's curves and
 * summary (callbacks' report), then the ranking, the parallel-coordinates plot and the objective per epoch.
 *
 * @example
 * ```ts
 * const path = await writeSweepReport(state, 'runs/sweep-iris');
 * ```
 */
export async function writeSweepReport(state: SweepState, out: string): Promise<string> {
  const path = join(out, 'sweep.html');
  const summary = sweepSummary(state, out, path);
  const { metric, mode } = state.objective;
  const params = parseSpace(state.definition.space).params;
  const keys = params.map((p) => p.key);
  const charts: ChartTrial[] = summary.trials.map((r) => {
    const t = state.trials.find((x) => x.name === r.trial)!;
    return {
      name: r.trial,
      status: r.status,
      params: r.params,
      best: r.best,
      curve: t.epochs.flatMap((e) => (typeof e.metrics[metric] === 'number' ? [{ epoch: e.epoch, value: e.metrics[metric] }] : [])),
    };
  });
  const objective = { metric, direction: mode, best: summary.best?.trial };
  const counts = Object.entries(summary.counts)
    .filter(([, c]) => c > 0)
    .map(([s, c]) => `${c} ${s}`)
    .join(', ');
  const definition = state.definition;
  const pruner = definition.pruner as { type: string } & Record<string, unknown>;
  const prunerText = pruner.type === 'none' ? 'none' : `${pruner.type} (${Object.entries(pruner).filter(([k]) => k !== 'type').map(([k, v]) => `${k} ${String(v)}`).join(', ')})`;
  const sections: ReportSection[] = [
    {
      title: `Trials: ${summary.trials.length} (${counts}), ranked by ${metric} (${mode})`,
      html:
        `<p class="meta">Base <b>${escapeHtml(definition.base)}</b> · sampler <b>${escapeHtml(definition.sampler)}</b>${definition.sampler === 'random' ? ` (seed ${definition.seed})` : ''} · pruner <b>${escapeHtml(prunerText)}</b> · ${escapeHtml(summary.status)} · state <code>${escapeHtml(relative(out, summary.state))}</code></p>\n` +
        `<p class="muted">Completed trials first, by their best ${escapeHtml(metric)}; then pruned ones (stopped early: their best is over fewer epochs). ★ the best trial, whose training report is above. Each trial links to its own report.</p>\n` +
        tableHtml(summary, keys, out),
    },
    { title: `Hyper-parameters → ${metric}`, html: `<figure>\n${parallelCoordinatesSvg(params, charts, objective)}\n</figure>` },
    { title: `${metric} per epoch (pruned trials dashed)`, html: `<figure>\n${objectiveCurvesSvg(charts, objective)}\n</figure>` },
  ];
  const title = summary.best ? `Sweep ${state.name}: best ${summary.best.trial}, ${metric} ${formatMetric(summary.best.value)}` : `Sweep ${state.name}: no completed trial yet`;
  const html = renderReportHtml(await bestRunData(summary, title), { sections }).replace('content="@fitstream/callbacks trainingReport"', 'content="fitstream sweep (@fitstream/callbacks renderReportHtml)"');
  await writeFileAtomic(path, html);
  return path;
}
