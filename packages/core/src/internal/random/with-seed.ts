// The PRNG moved to @fitstream/util. This re-export stays only for backends/wasm/train-layers.test.ts (owned by the
// change that moves the WASM backend out of core); delete it once that test imports `withSeed` from a package.
export { withSeed } from '@fitstream/util';
