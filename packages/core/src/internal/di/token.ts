import type { DependencyContainer } from 'tsyringe';

/**
 * A typed, namespaced DI token. The phantom `__type` carries `T`, so `resolve(c, token)` returns a `T` without casts.
 *
 * @example
 * ```ts
 * export const Clock = token<Clock>('@fitstream/core/Clock');
 * ```
 */
export type Token<T> = symbol & { readonly __type?: T };

const keys = new Set<string>();

/**
 * Declares a typed DI token. Keys are `@fitstream/<package>/<Name>`; `Symbol.for` keeps one identity when a package
 * is installed twice, and declaring the same key twice in one process is refused because it is always a mistake.
 *
 * @example
 * ```ts
 * const Greeting = token<string>('@fitstream/example/Greeting');
 * ```
 */
export function token<T>(key: `@${string}/${string}/${string}`): Token<T> {
  if (keys.has(key)) throw new Error(`DI token "${key}" is declared twice; declare each token once in its owning package.`);
  keys.add(key);
  return Symbol.for(key);
}

/** Resolves one registration of `t`, typed. */
export function resolve<T>(c: DependencyContainer, t: Token<T>): T {
  return c.resolve<T>(t);
}

/** Resolves every registration of a plugin point, in registration order; `[]` when none is registered. */
export function resolveAll<T>(c: DependencyContainer, t: Token<T>): T[] {
  return c.isRegistered(t, true) ? c.resolveAll<T>(t) : [];
}

/**
 * Registers a value or a factory under a typed token. tsyringe's own `register` cannot infer `T` from a symbol
 * token, so this is the typed way for plugins to contribute to a plugin point.
 *
 * @example
 * ```ts
 * const addNoise: Plugin = {
 *   name: 'input-noise',
 *   register: (c) => provide(c, BatchTransform, { name: 'input-noise', transform: (b, ctx) => ({ ...b, x: addGaussian(b.x, ctx.random) }) }),
 * };
 * ```
 */
export function provide<T>(c: DependencyContainer, t: Token<T>, value: T | { readonly useFactory: (c: DependencyContainer) => T }): void {
  if (typeof value === 'object' && value !== null && 'useFactory' in value && typeof value.useFactory === 'function') {
    c.register<T>(t, { useFactory: value.useFactory });
  } else {
    c.register<T>(t, { useValue: value as T });
  }
}
