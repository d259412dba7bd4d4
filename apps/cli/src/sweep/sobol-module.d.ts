// Types of the `sobol` npm package (CommonJS, untyped): Sobol points from the Joe–Kuo direction numbers
// (new-joe-kuo-6.21201), unscrambled, the origin first.
declare module 'sobol' {
  export class SobolSequenceGenerator {
    /** A generator of `dimension`-dimensional points (1 … 21201). */
    constructor(dimension: number);
    /** The next point of [0, 1)^dimension; the first call returns the origin. */
    nextVector(): number[];
  }
}
