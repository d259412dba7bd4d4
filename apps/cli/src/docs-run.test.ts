// The CLI guide's examples must run: every ```sh block tagged `run` in docs/guides/cli.md is extracted and run, in
// order, in one fresh temporary directory (so a block sees the files and run directories the ones before it made),
// with `fitstream` and `npx fitstream` on PATH pointing at this workspace's bin (bin/fitstream.js, which runs dist/:
// the global setup rebuilds it when stale). A block that exits non-zero (or not with its `exit=N`) fails the test
// with the Markdown file and line. See docs/docs-code-blocks.md.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from './test-support/cli.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const GUIDE = join(root, 'docs', 'guides', 'cli.md');

/** A runnable block: where it is, its commands, and the exit code its last command must end with. */
export interface RunBlock {
  readonly file: string;
  /** The line of its first command (1-based). */
  readonly line: number;
  readonly code: string;
  readonly exit: number;
}

/**
 * ```sh (or ```bash, ```shell) blocks whose info string has the word `run`; `exit=N` says the block ends with exit
 * code N (an example of an error), default 0.
 */
export function extractRunBlocks(file: string, text: string): RunBlock[] {
  const blocks: RunBlock[] = [];
  const fence = /^```(sh|bash|shell)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    const info = m[2]!.trim().split(/\s+/);
    if (!info.includes('run')) continue;
    const exit = info.find((w) => /^exit=\d+$/.test(w));
    blocks.push({ file, line: text.slice(0, m.index).split('\n').length + 1, code: m[3]!, exit: exit === undefined ? 0 : Number(exit.slice(5)) });
  }
  return blocks;
}

/** Per block; the whole guide has its own budget (the test's timeout). */
const BLOCK_TIMEOUT_MS = 60_000;

interface Ran {
  readonly code: number | null;
  readonly output: string;
  readonly ms: number;
}

/** Runs one block with bash (`set -e -o pipefail`: the first failing command ends it), killed after the timeout. */
function runBlock(block: RunBlock, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', block.code], { cwd, env, detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[docs-run: killed after ${BLOCK_TIMEOUT_MS} ms]`;
      // The block's whole process group: fitstream under bash, and anything it started.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, BLOCK_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output, ms: performance.now() - started });
    });
  });
}

describe('the CLI guide (docs/guides/cli.md)', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fitstream-docs-run-'));
    const bin = join(dir, '.bin');
    await mkdir(bin);
    const node = JSON.stringify(process.execPath);
    const cli = JSON.stringify(BIN);
    await writeFile(join(bin, 'fitstream'), `#!/bin/sh\nexec ${node} ${cli} "$@"\n`);
    // `npx fitstream …` as a user types it in a project that installed @fitstream/cli; nothing else is fetched.
    await writeFile(
      join(bin, 'npx'),
      `#!/bin/sh\nif [ "$1" = fitstream ]; then shift; exec ${node} ${cli} "$@"; fi\necho "docs-run: only npx fitstream runs in the guide's examples (got npx $*)" >&2\nexit 127\n`,
    );
    await Promise.all(['fitstream', 'npx'].map((f) => chmod(join(bin, f), 0o755)));
    const work = join(dir, 'work');
    await mkdir(work);
    env = {
      ...process.env,
      PATH: `${bin}${delimiter}${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}`,
      FITSTREAM_CACHE_DIR: join(dir, 'cache'),
      NODE_OPTIONS: '',
      CI: '1',
    };
    dir = work;
  });

  afterAll(async () => {
    if (dir) await rm(dirname(dir), { recursive: true, force: true });
  });

  it('extracts ```sh blocks tagged `run`, with their line and expected exit code', () => {
    const blocks = extractRunBlocks('g.md', 'a\n```sh run\nfitstream init\n```\n```sh\nnot run\n```\n\n```bash run exit=2\nfitstream fit --data nope.csv\n```\n');
    expect(blocks.map((b) => [b.line, b.exit, b.code])).toEqual([
      [3, 0, 'fitstream init\n'],
      [10, 2, 'fitstream fit --data nope.csv\n'],
    ]);
  });

  it('every shell block of the guide runs, except those that install', async () => {
    const text = await readFile(GUIDE, 'utf8');
    const shell = [...text.matchAll(/^```(?:sh|bash|shell)([^\n]*)\n([\s\S]*?)^```\s*$/gm)];
    const notRun = shell.filter((m) => !m[1]!.trim().split(/\s+/).includes('run') && !/\binstall\b/.test(m[2]!));
    expect(notRun.map((m) => `${relative(root, GUIDE)}:${text.slice(0, m.index).split('\n').length}`), 'untagged shell blocks: tag them `run`').toEqual([]);
  });

  it('runs every `run` block in order in a fresh directory', async () => {
    const file = relative(root, GUIDE);
    const blocks = extractRunBlocks(file, await readFile(GUIDE, 'utf8'));
    expect(blocks.length, 'runnable blocks in the guide').toBeGreaterThanOrEqual(8);
    const timings: string[] = [];
    for (const block of blocks) {
      const ran = await runBlock(block, dir, env);
      timings.push(`${block.file}:${block.line} ${(ran.ms / 1000).toFixed(1)} s`);
      const tail = ran.output.split('\n').slice(-40).join('\n');
      expect(ran.code, `${block.file}:${block.line}: the block exited with ${ran.code}, not ${block.exit}:\n${block.code}\n--- output (last 40 lines) ---\n${tail}`).toBe(block.exit);
    }
    console.log(`docs-run: ${timings.join(', ')}`);
  }, 240_000);
});
