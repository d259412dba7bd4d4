/**
 * @fitstream/util — the plain-JavaScript pieces every fitstream package shares, with no dependency on tfjs, rxjs or
 * tsyringe: the seeded splittable PRNG (`Random`, `withSeed`), the input error (`FitstreamInputError`) and its
 * argument checks, and crash-safe file writes (`writeFileAtomic`, `writeDirectoryAtomic`).
 *
 * @packageDocumentation
 */
export { Random } from './internal/random/random.js';
export type { RandomState } from './internal/random/random.js';
export { withSeed } from './internal/random/with-seed.js';

export { FitstreamInputError, assertPositiveInteger, assertNonNegativeInteger } from './internal/errors/input-error.js';

export {
  writeFileAtomic,
  writeDirectoryAtomic,
  writeFileDurable,
  removeStaleTemporaries,
  pathExists,
  sha256,
} from './internal/files/atomic.js';
