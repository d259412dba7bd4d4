// The browser example in a real Chromium: Vite builds the app (into a temporary folder), Vite's preview server serves
// the build on 127.0.0.1, and playwright-core drives Debian's chromium (no browser download). Each page trains the
// demo (`?demo=1`: pictures generated from the seed) by itself; the test reads `window.__fitstream`. Under CI
// (.ci/run installs chromium) a missing browser fails the test; elsewhere it is skipped with the reason printed.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppStatus } from './src/app-status.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REQUIRED = ['1', 'true'].includes(process.env['CI'] ?? '');
/** The demo runs on wasm: 480 training pictures (15 steps of 32 an epoch), 120 for validation. */
const DEMO = { seed: 7, epochs: 12, perClass: 200 } as const;
/** The accuracy the demo must reach on its 120 validation pictures (it reaches 0.983 with seed 7; see README.md). */
const MIN_ACCURACY = 0.9;
/** The interrupted run is reloaded once the backup written after this many epochs is in IndexedDB. */
const RELOAD_AFTER_EPOCH = 3;

async function findChromium(): Promise<string | undefined> {
  for (const name of [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (name && (await stat(name).catch(() => undefined))?.isFile()) return name;
  }
  return undefined;
}

const executablePath = await findChromium();
if (!executablePath && !REQUIRED) console.warn('browser-app.test.ts: no Chromium found (set CHROMIUM_PATH); skipping the browser example test (under CI it fails instead).');

/** A page of the app with every console message, uncaught error and failed request it produced. */
interface AppPage {
  readonly page: Page;
  readonly problems: string[];
  readonly infos: string[];
}

describe.skipIf(!executablePath && !REQUIRED)('the browser example in headless Chromium', () => {
  let server: PreviewServer;
  let browser: Browser;
  let origin: string;
  let outDir: string | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!executablePath) throw new Error("CI is set but no Chromium was found: .ci/run installs Debian's chromium (or set CHROMIUM_PATH).");
    const configFile = join(HERE, 'vite.config.ts');
    outDir = await mkdtemp(join(tmpdir(), 'fitstream-browser-example-'));
    await build({ configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
    server = await preview({ configFile, logLevel: 'error', build: { outDir }, preview: { port: 0, strictPort: false, open: false } });
    origin = server.resolvedUrls?.local[0]?.replace(/\/$/, '') ?? '';
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // SwiftShader gives WebGL without a GPU; wasm and cpu do not care.
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'], timeout: 60_000 });
  });

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await server?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  /** Opens the demo in a new browser context (its own, empty IndexedDB), recording whatever goes wrong. */
  async function openDemo(query: Record<string, string | number>): Promise<AppPage> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1250 } });
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    const infos: string[] = [];
    page.on('console', (m) => (['error', 'warning', 'assert'].includes(m.type()) ? problems : infos).push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    const search = new URLSearchParams(Object.entries({ demo: 1, ...query }).map(([k, v]) => [k, String(v)]));
    await page.goto(`${origin}/?${search}`, { waitUntil: 'load' });
    return { page, problems, infos };
  }

  const status = (page: Page) => page.evaluate(() => window.__fitstream);

  /** Waits until the page's run is done (or failed) and returns its status. */
  async function finished(app: AppPage, timeout = 60_000): Promise<AppStatus> {
    await app.page.waitForFunction(() => ['done', 'error'].includes(window.__fitstream?.phase), undefined, { timeout, polling: 100 });
    const s = await status(app.page);
    if (s.phase === 'error') throw new Error(`the page failed: ${s.error}\n${[...app.problems, ...app.infos].join('\n')}`);
    return s;
  }

  let uninterrupted: AppStatus | undefined;

  it(`trains the demo on wasm to a validation accuracy ≥ ${MIN_ACCURACY}, with no console error, page error or failed request`, async () => {
    const app = await openDemo({ ...DEMO, backend: 'wasm' });
    const s = await finished(app);
    expect(s.backend).toBe('wasm');
    expect(s.validationAccuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
    expect(s.epoch).toBeGreaterThanOrEqual(3);
    expect(s.rows).toHaveLength(s.epoch);
    expect(s.checksum?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(app.problems).toEqual([]);
    console.info(`browser example on wasm: ${s.epoch} epochs, validation accuracy ${s.validationAccuracy}, ${s.stepsPerSecond} steps/s, fit ${s.fitMs} ms (${s.backendMessage})`);
    uninterrupted = s;
    if (process.env['UPDATE_SCREENSHOT']) await app.page.screenshot({ path: join(HERE, 'screenshot.png'), fullPage: true });
  });

  it(`reloaded after epoch ${RELOAD_AFTER_EPOCH}'s backup, resumes from IndexedDB and ends with the same weights and history`, async () => {
    expect(uninterrupted, 'the uninterrupted run (previous test) must have finished').toBeDefined();
    expect(uninterrupted!.epoch, 'the uninterrupted run must outlast the reload').toBeGreaterThan(RELOAD_AFTER_EPOCH + 1);
    const app = await openDemo({ ...DEMO, backend: 'wasm' });
    await app.page.waitForFunction((k) => window.__fitstream?.backups.includes(k) || window.__fitstream?.phase === 'error', RELOAD_AFTER_EPOCH, { timeout: 60_000, polling: 'raf' });
    const before = await status(app.page);
    expect(before.phase, before.error).toBe('training');
    await app.page.reload({ waitUntil: 'load' });
    const s = await finished(app);
    expect(s.resumedFrom, 'the reloaded page must resume from the backup').toBeDefined();
    // initialEpoch is the 0-based epoch the run continued at: the number of epochs its backup completes.
    expect(s.initialEpoch).toBeGreaterThanOrEqual(RELOAD_AFTER_EPOCH);
    expect(s.initialEpoch).toBeLessThan(uninterrupted!.epoch);
    expect(s.checksum).toEqual(uninterrupted!.checksum);
    expect(s.history).toEqual(uninterrupted!.history);
    expect(s.rows).toEqual(uninterrupted!.rows);
    expect(s.validationAccuracy).toBe(uninterrupted!.validationAccuracy);
    expect(app.problems).toEqual([]);
  });

  // WebGL on SwiftShader (a CPU rasteriser) runs about 3 steps/s here: a short run checks that the backend starts in the
  // page, compiles its shaders and trains without a console error; the full demo on WebGL is in README.md.
  it('trains a few steps on webgl (SwiftShader) without a console error', async () => {
    const app = await openDemo({ seed: DEMO.seed, epochs: 2, perClass: 30, backend: 'webgl' });
    const s = await finished(app);
    expect(s.backend).toBe('webgl');
    expect(s.rows).toHaveLength(2);
    expect(s.rows.every((r) => Number.isFinite(r.loss) && Number.isFinite(r.valLoss))).toBe(true);
    expect(s.rows[1]!.loss).toBeLessThan(s.rows[0]!.loss);
    expect(app.problems).toEqual([]);
    console.info(`browser example on webgl (SwiftShader): ${s.stepsPerSecond} steps/s`);
  });
});
