import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@fitstream/core';
import { cosineDecay, jsonlLogger, renderReportHtml, renderReportSvg, replay, reportDataFromEvents, smoothEma, trainingReport } from '../../index.js';
import { blobs, smallTrainer } from '../../test-support/fixtures.js';
import { logTicks, niceTicks } from './svg-chart.js';
import { autoSmoothing } from './training-report.js';

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-report-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const hasResvg = (() => {
  try {
    createRequire(import.meta.url).resolve('@resvg/resvg-js');
    return true;
  } catch {
    return false;
  }
})();

/** Every number in coordinate attributes and path data of an SVG. */
function coordinates(svg: string): number[] {
  const attrs = [...svg.matchAll(/\s(?:x|y|x1|x2|y1|y2|cx|cy|r|width|height)="([^"]*)"/g)].map((m) => m[1]!);
  const paths = [...svg.matchAll(/\sd="([^"]*)"/g)].flatMap((m) => m[1]!.split(/[ML,]/).filter(Boolean));
  return [...attrs, ...paths].map(Number);
}

describe('smoothing and ticks', () => {
  it('debiases the EMA like TensorBoard: the first point is the value itself, a constant stays constant', () => {
    for (const v of smoothEma([4, 4, 4], 0.9)) expect(v).toBeCloseTo(4, 12);
    expect(smoothEma([10, 0], 0.5)).toEqual([10, expect.closeTo(10 / 3, 12)]); // (0.25·10 + 0)/(1 − 0.25)… = 0.5·5/0.75
    const s = smoothEma([1, Number.NaN, 3], 0.6);
    expect(s[0]).toBe(1);
    expect(s[1]).toBeNaN();
    expect(s[2]).toBeCloseTo((0.6 * 0.4 * 1 + 0.4 * 3) / (1 - 0.36), 12);
    expect(() => smoothEma([1], 1)).toThrow(/smoothing/);
    expect([10, 480, 100_000].map(autoSmoothing)).toEqual([0.6, 0.9, 0.99]);
  });

  it('picks nice linear and log ticks that cover the data', () => {
    expect(niceTicks(0.13, 0.87, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 47, 6, true)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(logTicks(3e-4, 2)).toEqual([1e-4, 1e-3, 1e-2, 1e-1, 1, 10]);
  });

  it('ends on every range, degenerate ones too, with few finite ticks covering the finite data', () => {
    const ulp = (x: number) => x + Math.abs(x) * Number.EPSILON;
    const ranges: [number, number][] = [
      [0.875, 0.8750000000000001], // one ulp: the smoothed accuracy that hung a resumed CLI run
      [3, 3], [0, 0], [-2.5, -2.5], [1e-310, 2e-310], [5e-324, 5e-324], [0, 5e-324], [1e300, ulp(1e300)],
      [-1e308, 1e308], [-Number.MAX_VALUE, Number.MAX_VALUE], [Number.NaN, 1], [0, Number.POSITIVE_INFINITY],
      [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], [Number.NaN, Number.NaN], [7, 2], [1e-9, 1e-9 + 1e-25],
    ];
    for (const [lo, hi] of ranges) {
      const ticks = niceTicks(lo, hi, 5);
      expect(ticks.length, `${lo}…${hi}`).toBeGreaterThanOrEqual(2);
      expect(ticks.length, `${lo}…${hi}`).toBeLessThanOrEqual(51);
      expect(ticks.every(Number.isFinite), `${lo}…${hi}`).toBe(true);
      const finite = [lo, hi].filter(Number.isFinite);
      if (finite.length) expect(ticks[0]! <= Math.min(...finite) && ticks[ticks.length - 1]! >= Math.max(...finite), `${lo}…${hi}: ${ticks.join(',')}`).toBe(true);
    }
    // Seeded sweep of random narrow ranges at random magnitudes.
    let seed = 12345;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 2000; i++) {
      const lo = (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
      const hi = lo + Math.abs(lo) * Number.EPSILON * Math.floor(next() * 8);
      const ticks = niceTicks(lo, hi, 1 + Math.floor(next() * 8), next() < 0.2);
      expect(ticks.length).toBeLessThanOrEqual(51);
      expect(ticks[0]! <= lo && ticks[ticks.length - 1]! >= hi).toBe(true);
    }
  });
});

describe('trainingReport', () => {
  it('writes a self-contained HTML report and an SVG with axes, series and legends for every metric and the LR', async () => {
    const dir = join(tmp, 'run');
    const trainer = smallTrainer({ optimizer: 'sgd' });
    const report = trainingReport({ dir, title: 'Blobs <MLP>', png: hasResvg });
    trainer.use(report).use(cosineDecay({ totalSteps: 40, initialLr: 0.5 }));
    await trainer.fit(blobs(64), { epochs: 10, batchSize: 16, validation: blobs(32, 3, 2, 8), handleSignals: false });

    const html = await readFile(join(dir, 'report.html'), 'utf8');
    const svg = await readFile(join(dir, 'report.svg'), 'utf8');
    // Self-contained: no scripts, stylesheets or images from anywhere; the only URL is the SVG namespace.
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|@import/);
    expect([...html.matchAll(/https?:\/\/[^\s"')]+/g)].map((m) => m[0])).toEqual(['http://www.w3.org/2000/svg']);
    expect(html).toContain('<title>Blobs &lt;MLP&gt;</title>');
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="training-report"');
    expect(svg).toContain('>Blobs &lt;MLP&gt;</text>'); // the standalone SVG has its own heading
    expect(html).toMatch(/<b>10<\/b> epochs · <b>40<\/b> steps/);

    // Panels: loss and accuracy per step and per epoch, then the learning rate.
    const titles = [...svg.matchAll(/<text class="title"[^>]*>([^<]*)</g)].map((m) => m[1]);
    // Losses falling over two decades get a log axis ('auto'); accuracies and the learning rate stay linear.
    expect(titles.map((t) => t!.replace(' (log scale)', ''))).toEqual(['loss per step', 'loss per epoch', 'accuracy per step', 'accuracy per epoch', 'learning rate per step']);
    expect(titles.slice(2).some((t) => t!.includes('log'))).toBe(false);
    expect(svg.match(/class="axis x-axis"/g)).toHaveLength(5);
    expect(svg.match(/class="axis y-axis"/g)).toHaveLength(5);
    const labels = [...svg.matchAll(/class="legend-item" data-label="([^"]*)"/g)].map((m) => m[1]);
    expect(labels).toEqual(['loss (batch)', 'smoothed (0.6)', 'train', 'validation', 'accuracy (batch)', 'smoothed (0.6)', 'train', 'validation', 'learning rate']);
    // 40 raw points per step chart, 10 markers per epoch curve.
    const lossScatter = svg.split('data-label="loss (batch)"')[1]!.split('</g>')[0]!;
    expect(lossScatter.match(/<circle/g)).toHaveLength(40);
    expect(svg.split('class="series line" data-label="validation"')[1]!.split('</g>')[0]!.match(/<circle/g)).toHaveLength(10);
    // Epoch boundaries on the per-step charts (9 inside the range).
    expect(svg.split('class="rules"')[1]!.split('</g>')[0]!.match(/<line/g)).toHaveLength(9);
    const coords = coordinates(svg);
    expect(coords.length).toBeGreaterThan(500);
    expect(coords.every((v) => Number.isFinite(v))).toBe(true);
    expect(report.data?.steps).toHaveLength(40);

    if (hasResvg) {
      const png = await readFile(join(dir, 'report.png'));
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.readUInt32BE(16)).toBe(Math.round(1128 * 1.5)); // width in the IHDR chunk
    }
  });

  it('renders from a replayed event log; non-finite points are left out and counted', async () => {
    const path = join(tmp, 'events.jsonl');
    const trainer = smallTrainer();
    trainer.use(jsonlLogger({ path, readBatchMetricsEvery: 1 }));
    await trainer.fit(blobs(64), { epochs: 3, batchSize: 16, handleSignals: false });
    const events = await lastValueFrom(replay(path).pipe(toArray()));
    const data = reportDataFromEvents(events, 'replayed');
    expect(data.steps).toHaveLength(12);
    expect(data.names).toEqual(['loss', 'accuracy']);
    const broken = { ...data, steps: data.steps.map((s, i) => (i === 5 ? { ...s, values: { ...s.values, loss: Number.NaN } } : s)) };
    const svg = renderReportSvg(broken);
    expect(svg).toContain('loss per step (1 non-finite point not drawn)');
    expect(coordinates(svg).every((v) => Number.isFinite(v))).toBe(true);
    expect(existsSync(join(tmp, 'nothing.png'))).toBe(false);
  });

  it('appends extra sections inside <main>, in order, after the epoch table; titles are escaped, bodies kept as given', () => {
    const data = reportDataFromEvents([], 'with sections');
    const plain = renderReportHtml(data);
    expect(plain).not.toContain('<section');
    const html = renderReportHtml(data, {
      sections: [
        { title: 'Backtest <MASE & sMAPE>', html: '<table class="backtest"><tr><td>0.42</td></tr></table>' },
        { title: 'Notes', html: '<p>second</p>' },
      ],
    });
    const main = html.split('<main>')[1]!.split('</main>')[0]!;
    expect(main.indexOf('Epoch logs')).toBeLessThan(main.indexOf('<section'));
    expect(main).toContain('<section class="extra">\n<h2>Backtest &lt;MASE &amp; sMAPE&gt;</h2>\n<table class="backtest"><tr><td>0.42</td></tr></table>\n</section>');
    expect(main.indexOf('Backtest &lt;')).toBeLessThan(main.indexOf('<h2>Notes</h2>'));
    expect(html.match(/<\/main>/g)).toHaveLength(1);
    expect(html.replace(/<section class="extra">[\s\S]*?<\/section>\n/g, '')).toBe(plain);
    expect(() => renderReportHtml(data, { sections: [{ title: 'x' } as never] })).toThrow(/sections needs a title and html/);
  });
});
