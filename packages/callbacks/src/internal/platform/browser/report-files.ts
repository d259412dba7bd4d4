// The browser build of the training report's file writing and PNG output: a page has no file system (and resvg is a
// native module), so both throw, naming what to use instead. Same exports and types as ../node/report-files.ts.
import type { TrainingReport, TrainingReportOptions } from '../../report/training-report.js';
import { nodeOnly } from '../node-only.js';

/** Node only: throws in a browser (no file system); use `liveDashboard` or `renderReportHtml` there. */
export function trainingReport<M extends string = string>(_options: TrainingReportOptions): TrainingReport<M> {
  throw nodeOnly(
    'trainingReport',
    'writes report.html, report.svg and report.png to a directory with Node.js',
    'draw the run live with liveDashboard({ element }), or render the report to a string with renderReportHtml(reportDataFromEvents(events)) and offer it as a download',
  );
}

/** Node only: throws in a browser (resvg is a native module); use `renderReportSvg` there. */
export function renderPng(_svg: string, _options?: { scale?: number }): Promise<Uint8Array> {
  return Promise.reject(nodeOnly('renderPng', 'renders with the native module @resvg/resvg-js', 'use the SVG of renderReportSvg as it is (an <img> or a canvas draws it)'));
}
