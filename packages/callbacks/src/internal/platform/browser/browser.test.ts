import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin as EsbuildPlugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { csvLogger, jsonlLogger, replay, tensorBoard } from './loggers.js';
import { renderPng, trainingReport } from './report-files.js';
import { environment, terminalStream } from './terminal.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('the browser build of @fitstream/callbacks', () => {
  it('refuses the Node-only plugins at creation, naming the feature and what to use in a browser', async () => {
    const cases: [() => unknown, RegExp][] = [
      [() => csvLogger({ path: 'm.csv' }), /^csvLogger writes its CSV file with Node\.js, which a web page does not have.*liveDashboard\(\{ element \}\).*eventToRecord/],
      [() => jsonlLogger({ path: 'e.jsonl' }), /^jsonlLogger writes its event log to a file.*liveDashboard.*eventToRecord \(parseEventLog reads such logs back\)/],
      [() => replay('e.jsonl'), /^replay\(path\) streams an event log from a file.*parseEventLog\(text\)/],
      [() => tensorBoard({ logDir: 'tb' }), /^tensorBoard writes TensorBoard event files.*liveDashboard/],
      [() => trainingReport({ dir: 'runs' }), /^trainingReport writes report\.html.*liveDashboard.*renderReportHtml\(reportDataFromEvents\(events\)\)/],
      [() => terminalStream(), /^progressBar writes to the terminal \(process\.stdout\).*progressBar\(\{ stream \}\).*liveDashboard/],
    ];
    for (const [create, message] of cases) expect(create).toThrow(message);
    await expect(renderPng('<svg/>')).rejects.toThrow(/^renderPng renders with the native module @resvg\/resvg-js.*renderReportSvg/);
    expect(environment()).toEqual({});
  });

  it('bundles for the browser with no node: module reachable from the entry point', async () => {
    // Other packages are checked by their own builds: only this package's files are followed here.
    const nodeImports: string[] = [];
    const ownFilesOnly: EsbuildPlugin = {
      name: 'own-files-only',
      setup(b) {
        b.onResolve({ filter: /^[^.#/]/ }, (args) => {
          if (args.path.startsWith('node:') || builtinModules.includes(args.path.split('/')[0]!)) nodeImports.push(`${relative(SRC, args.importer)} imports ${args.path}`);
          return { path: args.path, external: true };
        });
      },
    };
    const result = await build({
      entryPoints: [join(SRC, 'index.ts')],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      conditions: ['@fitstream/source', 'browser'],
      metafile: true,
      logLevel: 'silent',
      plugins: [ownFilesOnly],
    });
    expect(nodeImports).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => f.includes('/platform/node/'))).toEqual([]);
    expect(inputs.filter((f) => f.includes('/platform/browser/')).map((f) => f.replace(/.*\/platform\//, ''))).toEqual(expect.arrayContaining(['browser/loggers.ts', 'browser/report-files.ts', 'browser/terminal.ts']));
    // The browser-safe pieces are in, the Node-only modules behind #platform/* are not.
    expect(inputs.some((f) => f.endsWith('report/live-dashboard.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('io/event-log.ts'))).toBe(true);
    for (const nodeOnly of ['io/csv-logger.ts', 'io/jsonl-logger.ts', 'io/buffered-file.ts', 'io/read-lines.ts', 'io/tensorboard/tensor-board.ts', 'report/training-report.ts']) {
      expect(inputs.filter((f) => f.endsWith(nodeOnly))).toEqual([]);
    }
  });
});
