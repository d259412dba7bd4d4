import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasMpirun } from '../../index.js';
import type { ConformanceReport } from '../../test-support/conformance.js';
import { launchMpi } from '../../test-support/launch-helpers.js';

const mpi = hasMpirun();
// CI installs Open MPI (.ci/run): there a missing mpirun is a failure, not a skip.
if (!mpi && process.env.CI === 'true') throw new Error('CI=true but mpirun is missing: .ci/run installs openmpi-bin and libopenmpi-dev before the tests.');
if (!mpi) console.warn('MPI tests skipped: mpirun is not on the PATH (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; CI installs it).');
const out = mkdtempSync(join(tmpdir(), 'fitstream-mpi-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.skipIf(!mpi)('mpi engine (koffi → libmpi, mpirun on loopback): the communicator conformance suite', () => {
  for (const n of [1, 2, 3, 4]) {
    it(`world of ${n}: the same checks as the threads engine, identical results on every rank`, async () => {
      const dir = join(out, `conformance-${n}`);
      const result = await launchMpi('./conformance-worker.ts', n, { env: { FITSTREAM_TEST_OUT: dir, CONFORMANCE_LARGE: '100003' }, timeoutMs: 60_000 });
      expect(result.exitCode).toBe(0);
      const reports = Array.from({ length: n }, (_, r) => JSON.parse(readFileSync(join(dir, `rank-${r}.json`), 'utf8')) as ConformanceReport);
      for (const r of reports) {
        expect(r.failures).toEqual([]);
        expect(r.backend).toBe('mpi');
        expect(r.size).toBe(n);
        expect(r.digests).toEqual(reports[0]!.digests);
      }
    });
  }
});
