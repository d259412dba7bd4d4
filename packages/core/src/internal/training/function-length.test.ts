import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** The training loop stays readable: every function in this folder (and the learning-rate one) fits on a screen. */
const MAX_LINES = 80;
const here = dirname(fileURLToPath(import.meta.url));
const folders = [here, join(here, '..', 'learning-rate'), join(here, '..', 'plugin')];

function longFunctions(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = (node as ts.FunctionLikeDeclarationBase).name?.getText(source) ?? '(anonymous)';
      if (end - start + 1 > MAX_LINES) found.push(`${file.slice(here.length - 8)}:${start + 1} ${name} (${end - start + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('core training code', () => {
  it(`has no function longer than ${MAX_LINES} lines`, () => {
    const files = folders.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(dir, f)));
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap(longFunctions)).toEqual([]);
  });
});
