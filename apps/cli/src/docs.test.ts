// The documentation's code blocks must not rot: every ```ts block tagged `check` in the repository's Markdown (README
// files, docs/) is extracted and type-checked with tsc against the workspace sources (the @fitstream/source condition),
// under the repository's strict tsconfig. See docs/docs-code-blocks.md.
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// Inside the repository (so that imports resolve through its node_modules) and ignored by git.
const work = join(root, 'apps', 'cli', 'node_modules', '.cache', 'docs-check');

interface Block {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly checked: boolean;
}

async function markdownFiles(): Promise<string[]> {
  const found = [join(root, 'README.md')];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.md')) found.push(path);
    }
  };
  await walk(join(root, 'docs'));
  for (const group of ['packages', 'apps']) {
    for (const entry of await readdir(join(root, group), { withFileTypes: true })) {
      if (entry.isDirectory()) found.push(join(root, group, entry.name, 'README.md'));
    }
  }
  const exists = await Promise.all(found.map((f) => readFile(f).then(() => true, () => false)));
  return found.filter((_, i) => exists[i]);
}

/** ```ts blocks, with whether they carry the `check` tag. */
export function extractBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    const line = text.slice(0, m.index).split('\n').length + 1;
    blocks.push({ file, line, code: m[3]!, checked: /(^|\s)check(\s|$)/.test(m[2]!) });
  }
  return blocks;
}

describe('documentation code blocks', () => {
  it('extracts ```ts blocks and their `check` tag', () => {
    const blocks = extractBlocks('x.md', 'a\n```ts check\nconst a = 1;\n```\n\n```ts\nfragment(x);\n```\n```sh\nnpm ci\n```\n');
    expect(blocks.map((b) => [b.line, b.checked, b.code])).toEqual([
      [3, true, 'const a = 1;\n'],
      [7, false, 'fragment(x);\n'],
    ]);
  });

  it('every ```ts block tagged `check` type-checks against the workspace (tsc --noEmit, strict)', async () => {
    const blocks: Block[] = [];
    for (const file of await markdownFiles()) blocks.push(...extractBlocks(relative(root, file), await readFile(file, 'utf8')));
    const checked = blocks.filter((b) => b.checked);
    // The quickstart is the first thing people copy: all of its TypeScript is checked.
    expect(blocks.filter((b) => b.file === join('docs', 'quickstart.md') && !b.checked).map((b) => `${b.file}:${b.line}`)).toEqual([]);
    expect(checked.length).toBeGreaterThanOrEqual(2);

    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'package.json'), '{ "type": "module", "private": true }\n');
    const names = checked.map((b, i) => `block-${String(i).padStart(3, '0')}.ts`);
    await Promise.all(checked.map((b, i) => writeFile(join(work, names[i]!), `${b.code}\nexport {};\n`)));
    await writeFile(
      join(work, 'tsconfig.json'),
      JSON.stringify({ extends: relative(work, join(root, 'tsconfig.base.json')), compilerOptions: { noEmit: true, rootDir: '.', declaration: false, declarationMap: false, sourceMap: false }, include: names }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', work, '--pretty', 'false'], { cwd: work }).then(
      () => '',
      (error: Error & { stdout?: string }) => error.stdout ?? error.message,
    );
    // Point each error at the Markdown file and line it came from.
    const located = result.replace(/block-(\d{3})\.ts\((\d+),(\d+)\)/g, (_m, i: string, line: string, col: string) => {
      const b = checked[Number(i)]!;
      return `${b.file}:${b.line + Number(line) - 1}:${col}`;
    });
    expect(located, 'code blocks that no longer compile').toBe('');
  }, 120_000);
});
