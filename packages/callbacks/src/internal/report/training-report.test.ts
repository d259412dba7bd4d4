import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@fitstream/core';
import type { TrainerEvent } from '@fitstream/core';
import { cosineDecay, jsonlLogger, renderReportHtml, renderReportSvg, replay, reportDataFromEvents, smoothEma, toReportData, trainingReport } from '../../index.js';
import { blobs, smallTrainer } from '../../test-support/fixtures.js';
import { autoSmoothing } from './report-render.js';

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
  const paths = [...svg.matchAll(/\sd="([^"]*)"/g)].flatMap((m) => m[1]!.split(/[MLZ,]/).filter(Boolean));
  return [...attrs, ...paths].map(Number);
}

describe('smoothing', () => {
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
    expect(report.data?.stepValues['loss']?.values).toHaveLength(40);

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
    expect(data.stepValues['loss']?.steps).toEqual(Float64Array.from({ length: 12 }, (_, i) => i + 1));
    expect(data.names).toEqual(['loss', 'accuracy']);
    // The operator over the streamed log collects the same.
    expect(await lastValueFrom(replay(path).pipe(toReportData({ title: 'replayed' })))).toEqual(data);
    const loss = data.stepValues['loss']!;
    const broken = { ...data, stepValues: { ...data.stepValues, loss: { steps: loss.steps, values: loss.values.map((v, i) => (i === 5 ? Number.NaN : v)) } } };
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

describe('long runs and hostile values', () => {
  /** A run's events as a live trainer or a replayed log gives them: plain metrics, one step:end per step. */
  function* run(steps: number, perEpoch: number, spikeAt: number): Generator<TrainerEvent> {
    let seed = 7;
    const noise = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    yield { type: 'fit:start', time: 0, epochs: steps / perEpoch, initialEpoch: 0, batchSize: 16, step: 0, learningRate: 0.01 } as unknown as TrainerEvent;
    for (let step = 1; step <= steps; step++) {
      const epoch = Math.floor((step - 1) / perEpoch);
      const loss = step === spikeAt ? 100 : (0.05 + 2 * Math.exp(-step / 1e5)) * (0.7 + 0.6 * noise());
      yield { type: 'step:end', time: step, epoch, step, learningRate: 0.01 * (1 - step / steps), metrics: { loss, accuracy: 1 - loss / 3 } } as unknown as TrainerEvent;
      if (step % perEpoch === 0) {
        yield { type: 'epoch:end', time: step, epoch, step, learningRate: 0.01, durationMs: 1000, metrics: { loss, accuracy: 0.9, val_loss: loss * 1.1, val_accuracy: 0.88 } } as unknown as TrainerEvent;
      }
    }
    yield { type: 'fit:end', time: steps, epoch: steps / perEpoch - 1, step: steps, learningRate: 0, reason: 'completed' } as unknown as TrainerEvent;
  }

  it('reports a million steps in seconds, in a file of bounded size that keeps a one-step spike visible', () => {
    const started = performance.now();
    const data = reportDataFromEvents(run(1_000_000, 1000, 777_777), 'a million steps');
    const html = renderReportHtml(data);
    const seconds = (performance.now() - started) / 1000;
    expect(seconds, 'seconds to collect and render').toBeLessThan(20); // ~2 s here; generous for a loaded CI machine
    expect(html.length).toBeLessThan(1_000_000); // every curve is at most 4 points per half pixel column
    expect(html).toMatch(/<b>1000<\/b> epochs · <b>1000000<\/b> steps/);
    // The batch losses are a band per pixel column; its top reaches the spike (loss ≈ 100 at step 777 777).
    const panel = html.split('<g class="panel"').find((p) => p.includes('loss per step'))!;
    expect(panel).toContain('class="series scatter band" data-label="loss (batch)"');
    const yLabels = [...panel.split('class="axis y-axis"')[1]!.split('</g>')[0]!.matchAll(/>([^<]+)</g)].map((m) => Number(m[1]));
    expect(Math.max(...yLabels)).toBeGreaterThanOrEqual(100);
    expect(coordinates(html).every(Number.isFinite)).toBe(true);
  });

  it('draws any series — NaN, ±Infinity, constants, one ulp wide, subnormal, huge, one point, none — with finite coordinates', () => {
    const value = fc.oneof(fc.double(), fc.constantFrom(0, 5e-324, 1e-310, 0.875, 0.8750000000000001, 1e308, -Number.MAX_VALUE, Number.NaN, Infinity));
    fc.assert(
      fc.property(fc.array(value, { maxLength: 30 }), fc.array(value, { maxLength: 30 }), fc.boolean(), (losses, lrs, logScale) => {
        const events: TrainerEvent[] = losses.map((loss, i) => ({ type: 'step:end', time: i, epoch: 0, step: i + 1, learningRate: lrs[i] ?? 0.1, metrics: { loss } }) as unknown as TrainerEvent);
        if (losses.length > 0) events.push({ type: 'epoch:end', time: 0, epoch: 0, step: losses.length, learningRate: 0.1, durationMs: 1, metrics: { loss: losses[0], val_loss: lrs[0] } } as unknown as TrainerEvent);
        const svg = renderReportSvg(reportDataFromEvents(events), { logScale });
        expect(svg).not.toMatch(/NaN|Infinity/);
        expect(coordinates(svg).every(Number.isFinite)).toBe(true);
        expect(svg.length).toBeLessThan(200_000);
      }),
      { numRuns: 300 },
    );
  });
});
