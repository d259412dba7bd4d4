// What "core + callbacks" weigh in a browser bundle: their whole public API (bundle.test.ts builds this with the peers
// tfjs, rxjs and tsyringe external).
export * from '@fitstream/core';
export * from '@fitstream/callbacks';
