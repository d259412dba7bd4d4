import { describe, expect, it, vi } from 'vitest';
import { nextMacrotask } from './next-macrotask.js';

describe('nextMacrotask', () => {
  it('resolves after pending timers and microtasks, under Node and where setImmediate is missing (a page)', async () => {
    for (const page of [false, true]) {
      if (page) vi.stubGlobal('setImmediate', undefined);
      const seen: string[] = [];
      void Promise.resolve().then(() => seen.push('microtask'));
      await nextMacrotask();
      seen.push('after');
      expect(seen).toEqual(['microtask', 'after']);
      vi.unstubAllGlobals();
    }
  });
});
