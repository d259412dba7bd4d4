// Opens a report in a headless Chromium through the DevTools protocol (playwright-core, which downloads no browser: it
// drives the system's, Debian's `chromium` in CI) and says what a reader would see: console messages, page errors,
// failed requests, and per chart whether it drew its marks and labelled its axes.
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

/** Whether the browser tests must run: under CI (`.ci/run` installs Chromium) a missing browser fails them. */
export const BROWSER_REQUIRED = ['1', 'true'].includes(process.env['CI'] ?? '');

/** A Chromium on this machine: `CHROMIUM_PATH`, else Debian's and the usual names; `undefined` when there is none. */
export async function findChromium(): Promise<string | undefined> {
  for (const name of [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (name && (await stat(name).catch(() => undefined))?.isFile()) return name;
  }
  return undefined;
}

/** One chart panel of a report as the browser laid it out. */
export interface ChartCheck {
  readonly title: string;
  /** Mark paths (lines, bands) with a non-empty box on the page. */
  readonly drawnPaths: number;
  /** Non-empty, laid-out tick labels of each axis. */
  readonly xLabels: readonly string[];
  readonly yLabels: readonly string[];
  /** The x axis's name (`step`, `epoch`). */
  readonly xName: string;
}

export interface ReportInBrowser {
  /** Console messages (any level), uncaught errors and failed requests: a report has no scripts and loads nothing. */
  readonly problems: readonly string[];
  readonly charts: readonly ChartCheck[];
  /** The page's text (summary, tables, sections). */
  readonly text: string;
}

// Runs in the page (a string: this package's TypeScript has no DOM types).
const INSPECT_CHARTS = `[...document.querySelectorAll('svg.training-report g.panel')].map((panel) => {
  const laidOut = (el) => { const box = el.getBBox(); return box.width > 0 || box.height > 0; };
  const labels = (selector) => [...panel.querySelectorAll(selector + ' text:not(.x-label)')].filter(laidOut).map((t) => t.textContent.trim()).filter(Boolean);
  return {
    title: panel.querySelector('text.title')?.textContent ?? '',
    drawnPaths: [...panel.querySelectorAll('g.marks path')].filter((p) => p.getAttribute('d') && laidOut(p)).length,
    xLabels: labels('g.x-axis'),
    yLabels: labels('g.y-axis'),
    xName: panel.querySelector('text.x-label')?.textContent ?? '',
  };
})`;

/** Opens `htmlPath` in headless Chromium at `executablePath` and inspects it. */
export async function openReport(executablePath: string, htmlPath: string): Promise<ReportInBrowser> {
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => problems.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load', timeout: 60_000 });
    const charts = await page.evaluate<ChartCheck[]>(INSPECT_CHARTS);
    const text = await page.evaluate<string>('document.body.innerText');
    return { problems, charts, text };
  } finally {
    await browser.close();
  }
}
