import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLines } from './read-lines.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-read-lines-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

function lines(path: string, stopAfter = Infinity): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const out: string[] = [];
    const stop = readLines(path, {
      line: (l) => {
        out.push(l);
        if (out.length === stopAfter) {
          stop();
          resolve(out);
        }
      },
      end: () => resolve(out),
      error: reject,
    });
  });
}

describe('readLines', () => {
  it('splits on \\n and \\r\\n, keeps empty lines and a last line without a newline', async () => {
    const path = join(tmp, 'a.txt');
    await writeFile(path, 'one\r\ntwo\n\nthree');
    expect(await lines(path)).toEqual(['one', 'two', '', 'three']);
    await writeFile(path, '');
    expect(await lines(path)).toEqual([]);
    await writeFile(path, 'x\n');
    expect(await lines(path)).toEqual(['x']);
  });

  it('keeps multi-byte characters and lines whole across 1 MiB chunks', async () => {
    const path = join(tmp, 'b.txt');
    const long = `${'é'.repeat(700_000)}λ`; // 1.4 MB of two-byte characters: chunks end inside characters and lines
    await writeFile(path, `${long}\n${'∑'.repeat(5)}\n${long}`);
    expect(await lines(path)).toEqual([long, '∑∑∑∑∑', long]);
  });

  it('stops reading when told to', async () => {
    const path = join(tmp, 'c.txt');
    await writeFile(path, Array.from({ length: 1000 }, (_, i) => String(i)).join('\n'));
    expect(await lines(path, 3)).toEqual(['0', '1', '2']);
  });

  it('reports a file it cannot read', async () => {
    await expect(lines(join(tmp, 'missing.txt'))).rejects.toThrow(/ENOENT/);
  });
});
