import { describe, expect, it } from 'vitest';
import { nativeSuite } from './native.js';

describe('native suite', () => {
  it('without tfjs-node: one line saying it is skipped and how to build it, and no rows', async () => {
    const lines: string[] = [];
    const result = await nativeSuite({
      quick: true,
      log: (l) => lines.push(l),
      selectNative: () => Promise.reject(new Error('No tfjs backend could be initialised: tensorflow: not installed.')),
    });
    expect(result.rows).toEqual([]);
    expect(lines).toEqual([
      "native suite: skipped, tfjs-node's native backend is not available here (tensorflow: not installed); build it with `npx fitstream native install` (needs a Python with tensorflow-cpu: python3 -m pip install tensorflow-cpu).",
    ]);
    expect(result.notes).toEqual(lines);
  });
});
