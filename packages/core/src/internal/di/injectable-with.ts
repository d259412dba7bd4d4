import './reflect.js';
import { inject, injectable } from 'tsyringe';
import type { Token } from './token.js';

type Ctor<Args extends unknown[], T> = new (...args: Args) => T;
type TokensFor<Args extends unknown[]> = { [K in keyof Args]: Token<Args[K]> };

/**
 * Marks a class injectable with explicit constructor tokens, without relying on `emitDecoratorMetadata` (which esbuild
 * and vitest do not emit). Throws at definition time when the number of tokens differs from the constructor's arity,
 * so a forgotten dependency can never silently arrive as `undefined`.
 *
 * Works as a plain function after the class, which keeps files free of decorator syntax.
 *
 * @example
 * ```ts
 * class Reporter { constructor(readonly log: Logger) {} }
 * injectableWith(LoggerToken)(Reporter);
 * child.register(ReporterToken, { useClass: Reporter });
 * ```
 */
export function injectableWith<Args extends unknown[]>(...tokens: TokensFor<Args>) {
  return <T>(target: Ctor<Args, T>): Ctor<Args, T> => {
    if (target.length !== tokens.length) {
      throw new Error(
        `injectableWith(${target.name}): the constructor takes ${target.length} argument(s) but ${tokens.length} token(s) were given; pass one token per constructor parameter.`,
      );
    }
    tokens.forEach((t, i) => {
      inject(t as symbol)(target, undefined, i);
    });
    injectable()(target);
    return target;
  };
}
