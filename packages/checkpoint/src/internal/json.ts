/** JSON-serializable values: what a checkpoint's `state.json` holds, so what a plugin's state may be. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
