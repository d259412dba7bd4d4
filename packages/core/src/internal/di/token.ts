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

/**
 * Declares a typed DI token. Keys are `@fitstream/<package>/<Name>`. `Symbol.for` gives every declaration of one key
 * the same identity, so when npm installs a package twice (it failed to dedupe two version ranges), both copies' tokens
 * are one token: plugins built against either copy register into and resolve from the same plugin points. Declaring
 * a key twice is therefore not an error; what can still differ between two copies is the shape of the registered
 * values, so keep one copy of each `@fitstream/*` package (`npm ls @fitstream/core`, `npm dedupe`).
 *
 * @example
 * ```ts
 * const Greeting = token<string>('@fitstream/example/Greeting');
 * ```
 */
export function token<T>(key: `@${string}/${string}/${string}`): Token<T> {
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

/** What a plugin's `register` is given: it can add registrations to plugin points, and nothing else. */
export interface PluginRegistry {
  /** Adds `value` to the plugin point (or any token) `t`; earlier registrations stay. */
  provide<T>(t: Token<T>, value: T): void;
}

/** The registry a trainer hands to plugins: adds to its container, never resolves or replaces. */
export function pluginRegistry(c: DependencyContainer): PluginRegistry {
  return { provide: (t, value) => void c.register(t, { useValue: value }) };
}

const isRegistry = (target: PluginRegistry | DependencyContainer): target is PluginRegistry =>
  typeof (target as Partial<PluginRegistry>).provide === 'function' && typeof (target as Partial<DependencyContainer>).resolve !== 'function';

/**
 * Registers a value under a typed token — in a plugin's `register`, on the registry it is given; in an application,
 * on a container (which also takes a factory). tsyringe's own `register` cannot infer `T` from a symbol token.
 *
 * @example
 * ```ts
 * const addNoise: Plugin = {
 *   name: 'input-noise',
 *   register: (c) => provide(c, BatchTransform, { name: 'input-noise', transform: (b, ctx) => ({ ...b, x: addGaussian(b.x, ctx.random) }) }),
 * };
 * ```
 */
export function provide<T>(c: PluginRegistry | DependencyContainer, t: Token<T>, value: T | { readonly useFactory: (c: DependencyContainer) => T }): void {
  if (isRegistry(c)) {
    if (typeof value === 'object' && value !== null && 'useFactory' in value) throw new TypeError('provide: plugins register values; factories need a container.');
    c.provide(t, value);
  } else if (typeof value === 'object' && value !== null && 'useFactory' in value && typeof value.useFactory === 'function') {
    c.register<T>(t, { useFactory: value.useFactory });
  } else {
    c.register<T>(t, { useValue: value as T });
  }
}
