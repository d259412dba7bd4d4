// The training report's file writing and PNG output (Node). The browser build (../browser/report-files.ts) has the same
// exports, which throw; rendering the report to a string (renderReportHtml, renderReportSvg) works everywhere.
export { trainingReport, renderPng } from '../../report/training-report.js';
