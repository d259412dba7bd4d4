import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pathExists, removeStaleTemporaries, writeDirectoryAtomic, writeFileAtomic, writeFileDurable } from './files.js';
import { sha256 } from './hash.js';

describe('atomic file writes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fitstream-util-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writeFileAtomic creates parents, replaces the file whole and leaves no temporary behind', async () => {
    const path = join(dir, 'a', 'b', 'state.json');
    await writeFileAtomic(path, 'first');
    await writeFileAtomic(path, new TextEncoder().encode('second'));
    expect(await readFile(path, 'utf8')).toBe('second');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['state.json']);
  });

  it('writeDirectoryAtomic publishes a complete directory, replacing an old one', async () => {
    const target = join(dir, 'checkpoint');
    await writeDirectoryAtomic(target, (tmp) => writeFileDurable(join(tmp, 'v'), '1'));
    await writeDirectoryAtomic(target, async (tmp) => {
      await writeFileDurable(join(tmp, 'v'), '2');
      await writeFileDurable(join(tmp, 'w'), '2');
    });
    expect((await readdir(target)).sort()).toEqual(['v', 'w']);
    expect(await readFile(join(target, 'v'), 'utf8')).toBe('2');
    expect(await readdir(dir)).toEqual(['checkpoint']);
  });

  it('a failed fill leaves the previous directory intact and no temporary', async () => {
    const target = join(dir, 'checkpoint');
    await writeDirectoryAtomic(target, (tmp) => writeFileDurable(join(tmp, 'v'), 'good'));
    await expect(
      writeDirectoryAtomic(target, async (tmp) => {
        await writeFileDurable(join(tmp, 'v'), 'torn');
        throw new Error('killed');
      }),
    ).rejects.toThrow('killed');
    expect(await readFile(join(target, 'v'), 'utf8')).toBe('good');
    expect(await readdir(dir)).toEqual(['checkpoint']);
  });

  it('removeStaleTemporaries removes only the leftovers of interrupted writes', async () => {
    await mkdir(join(dir, '.checkpoint.tmp-1-abcd'));
    await mkdir(join(dir, '.checkpoint.old-1-abcd'));
    await writeFile(join(dir, '.state.json.tmp-1-ef01'), 'x');
    await writeFile(join(dir, '.keep'), 'x');
    await writeFile(join(dir, 'state.json'), 'x');
    expect((await removeStaleTemporaries(dir)).sort()).toEqual(['.checkpoint.old-1-abcd', '.checkpoint.tmp-1-abcd', '.state.json.tmp-1-ef01']);
    expect((await readdir(dir)).sort()).toEqual(['.keep', 'state.json']);
    expect(await removeStaleTemporaries(join(dir, 'missing'))).toEqual([]);
  });

  it('pathExists and sha256', async () => {
    expect(await pathExists(dir)).toBe(true);
    expect(await pathExists(join(dir, 'nope'))).toBe(false);
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(new TextEncoder().encode('abc'))).toBe(sha256('abc'));
  });
});
