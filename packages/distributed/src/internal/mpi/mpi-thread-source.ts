/**
 * The MPI thread: a worker (evaluated from this source, so it needs no file of its own next to the package's build)
 * that owns MPI and makes every MPI call synchronously through koffi, on buffers in shared memory. The replica's thread
 * posts a request in the control words and waits with a timeout; so a hung peer can only block this thread, never the
 * replica's (which throws PeerLostError and aborts the job).
 *
 * Control words (Int32): see `mpi-communicator.ts`.
 */
export const MPI_THREAD_SOURCE = String.raw`
'use strict';
(() => {
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { control, port, library, flavor, koffiPath } = workerData;
const C = new Int32Array(control);
const REQ = 0, DONE = 1, OP = 2, BUF = 3, OFFSET = 4, COUNT = 5, ROOT = 6, RESULT = 7, REDOP = 8, OUTBUF = 9, OUTOFFSET = 10, STATE = 11, RANK = 12, SIZE = 13, PROVIDED = 14, MSGLEN = 15;
const MSG = 64;
function fail(text) {
  const bytes = new TextEncoder().encode(String(text)).subarray(0, 4 * (C.length - MSG));
  new Uint8Array(control, 4 * MSG).set(bytes);
  Atomics.store(C, MSGLEN, bytes.length);
  Atomics.store(C, STATE, -1);
  Atomics.notify(C, STATE);
}
let koffi, lib;
try {
  koffi = require(koffiPath);
} catch (e) {
  fail('koffi: ' + (e && e.message));
  return;
}
try {
  lib = koffi.load(library);
} catch (e) {
  fail('load: ' + (e && e.message));
  return;
}
const H = flavor === 'openmpi' ? 'void *' : 'int';
const f = (sig) => lib.func(sig);
const Init_thread = f('int MPI_Init_thread(void *argc, void *argv, int required, _Out_ int *provided)');
const Comm_rank = f('int MPI_Comm_rank(' + H + ' comm, _Out_ int *rank)');
const Comm_size = f('int MPI_Comm_size(' + H + ' comm, _Out_ int *size)');
const Allreduce = f('int MPI_Allreduce(void *sendbuf, void *recvbuf, int count, ' + H + ' type, ' + H + ' op, ' + H + ' comm)');
const Bcast = f('int MPI_Bcast(void *buf, int count, ' + H + ' type, int root, ' + H + ' comm)');
const Allgather = f('int MPI_Allgather(void *sendbuf, int scount, ' + H + ' stype, void *recvbuf, int rcount, ' + H + ' rtype, ' + H + ' comm)');
const Barrier = f('int MPI_Barrier(' + H + ' comm)');
const Finalize = f('int MPI_Finalize()');
let WORLD, FLOAT, SUM, MAX, IN_PLACE;
if (flavor === 'openmpi') {
  WORLD = lib.symbol('ompi_mpi_comm_world');
  FLOAT = lib.symbol('ompi_mpi_float');
  SUM = lib.symbol('ompi_mpi_op_sum');
  MAX = lib.symbol('ompi_mpi_op_max');
  IN_PLACE = 1n;
} else {
  WORLD = 0x44000000; FLOAT = 0x4c00040a; SUM = 0x58000003; MAX = 0x58000001; IN_PLACE = 0xffffffffffffffffn;
}
const provided = [0];
let rc = Init_thread(null, null, 3, provided);
if (rc !== 0) { fail('MPI_Init_thread returned ' + rc); return; }
const r = [0], s = [0];
Comm_rank(WORLD, r);
Comm_size(WORLD, s);
Atomics.store(C, RANK, r[0]);
Atomics.store(C, SIZE, s[0]);
Atomics.store(C, PROVIDED, provided[0]);
Atomics.store(C, STATE, 1);
Atomics.notify(C, STATE);
const buffers = new Map();
const view = (id, offset, count) => new Float32Array(buffers.get(id), 4 * offset, count);
let seen = 0;
for (;;) {
  Atomics.wait(C, REQ, seen);
  const seq = Atomics.load(C, REQ);
  if (seq === seen) continue;
  seen = seq;
  const op = C[OP];
  let result = 0;
  if (op === 1) {
    result = Allreduce(IN_PLACE, view(C[BUF], C[OFFSET], C[COUNT]), C[COUNT], FLOAT, C[REDOP] === 2 ? MAX : SUM, WORLD);
  } else if (op === 2) {
    result = Bcast(view(C[BUF], C[OFFSET], C[COUNT]), C[COUNT], FLOAT, C[ROOT], WORLD);
  } else if (op === 3) {
    result = Allgather(view(C[BUF], C[OFFSET], C[COUNT]), C[COUNT], FLOAT, view(C[OUTBUF], C[OUTOFFSET], C[COUNT] * s[0]), C[COUNT], FLOAT, WORLD);
  } else if (op === 4) {
    result = Barrier(WORLD);
  } else if (op === 5) {
    for (;;) {
      const m = receiveMessageOnPort(port);
      if (!m) break;
      if (m.message.sab) buffers.set(m.message.id, m.message.sab);
      else buffers.delete(m.message.id);
    }
  } else if (op === 6) {
    result = Finalize();
    C[RESULT] = result;
    Atomics.store(C, DONE, seq);
    Atomics.notify(C, DONE);
    break;
  }
  C[RESULT] = result;
  Atomics.store(C, DONE, seq);
  Atomics.notify(C, DONE);
}
})();
`;
