import { describe, expect, it } from 'vitest';
import { createSha256 as nodeCreateSha256, sha256 as nodeSha256 } from '../node/hash.js';
import { pathExists, removeStaleTemporaries, writeDirectoryAtomic, writeFileAtomic, writeFileDurable } from './files.js';
import { createSha256, sha256 } from './hash.js';

describe('the browser build of @fitstream/util', () => {
  it('hashes exactly as node:crypto does (strings as UTF-8, bytes of every length around the block size)', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (const text of ['Grüße, 世界 🌍', 'a'.repeat(1000)]) expect(sha256(text)).toBe(nodeSha256(text));
    for (const length of [1, 55, 56, 63, 64, 65, 127, 128, 4099]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 255);
      expect(sha256(bytes)).toBe(nodeSha256(bytes));
    }
  });

  it('hashes incrementally exactly as node:crypto does: pieces of strings and bytes digest as their concatenation', () => {
    const bytes = Uint8Array.from({ length: 4099 }, (_, i) => (i * 7) & 255);
    const pieces: (string | Uint8Array)[] = ['Grüße 🌍;', bytes.subarray(0, 63), '', bytes.subarray(63, 64), new Uint8Array(0), bytes.subarray(64), 'x'.repeat(130)];
    const browser = createSha256();
    const node = nodeCreateSha256();
    for (const piece of pieces) {
      expect(browser.update(piece)).toBe(browser);
      expect(node.update(piece)).toBe(node);
    }
    const whole = new Uint8Array([...new TextEncoder().encode('Grüße 🌍;'), ...bytes, ...new TextEncoder().encode('x'.repeat(130))]);
    expect(browser.digest()).toBe(sha256(whole));
    expect(node.digest()).toBe(nodeSha256(whole));
    expect(sha256(whole)).toBe(nodeSha256(whole));
    expect(createSha256().digest()).toBe(nodeCreateSha256().digest());
    expect(createSha256().update('abc').digest()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('refuses file-system writes with an error that names the browser alternative', async () => {
    for (const call of [() => writeFileAtomic('a', 'b'), () => writeFileDurable('a', 'b'), () => writeDirectoryAtomic('a', async () => {}), () => removeStaleTemporaries('a')]) {
      await expect(call()).rejects.toThrow(/web page does not have.*indexeddb:\/\//);
    }
    expect(await pathExists('/')).toBe(false);
  });
});
