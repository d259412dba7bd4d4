/**
 * @fitstream/util — the plain-JavaScript pieces every fitstream package shares, with no dependency on tfjs, rxjs or
 * tsyringe: the seeded splittable PRNG (`Random`, `withSeed`), the input error (`FitstreamInputError`), its
 * argument checks and its "did you mean" (`didYouMean`, `assertKnownOptions`), and SHA-256 (`sha256`, incremental `createSha256`) and crash-safe file writes (`writeFileAtomic`, `writeDirectoryAtomic`; Node only: the browser build (`browser` export condition) has no file system and says so).
 *
 * @packageDocumentation
 */
export { Random } from './internal/random/random.js';
export type { RandomState } from './internal/random/random.js';
export { withSeed } from './internal/random/with-seed.js';

export { FitstreamInputError, assertPositiveInteger, assertNonNegativeInteger } from './internal/errors/input-error.js';
export { assertKnownOptions, didYouMean, editDistance } from './internal/errors/did-you-mean.js';

export { writeFileAtomic, writeDirectoryAtomic, writeFileDurable, removeStaleTemporaries, pathExists } from '#platform/files';
export { sha256, createSha256 } from '#platform/hash';
export type { Sha256Hash } from './internal/platform/sha256-hash.js';

export { nextMacrotask } from './internal/timing/next-macrotask.js';
