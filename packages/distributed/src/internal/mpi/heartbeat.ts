import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe } from '../comm/communicator.js';
import { heartbeatIntervalMs } from '../comm/timeouts.js';
import { DistributedConfigError } from '../errors.js';

// State words shared with the heartbeat thread (Int32).
const STATE = 0; // 0 starting, 1 ready (rank 0 listens, a peer is connected), -1 failed (message)
const PORT = 1;
const LOST = 2; // 0, or 1 'exited' / 2 'heartbeat' once a peer is lost (first loss wins)
const LOST_RANK = 3;
const CMD = 4; // 1: say goodbye and close; 2: close without a goodbye (this rank is failing)
const CMD_DONE = 5;
const MSGLEN = 6;
const MSG = 16;
const WORDS = MSG + 1024;
/** How long a rank may take to reach rank 0's heartbeat after the addresses were exchanged. */
const CONNECT_MS = 10_000;
/** Floats of the address broadcast: one byte of JSON per float. */
const PAYLOAD = 4096;

/**
 * The heartbeat thread: a worker with its own event loop, so it keeps beating while the replica's thread blocks in a
 * collective or a long synchronous computation. Rank 0 is the hub: every other rank holds one TCP connection to it.
 * Each side sends `beat` every interval; a connection that closes without `bye` is a process that ended ('exited',
 * seen at once), a side silent for the timeout is a machine or process that went down or froze, or a cut network
 * ('heartbeat'). Rank 0 relays a loss to every other rank (`lost`). A loss is written to the shared state words and
 * the replica's thread is woken (`Atomics.notify` on the word it waits on in a collective).
 */
const HEARTBEAT_THREAD_SOURCE = String.raw`
'use strict';
const { workerData } = require('node:worker_threads');
const net = require('node:net');
const { role, rank, size, timeoutMs, intervalMs, connectMs, token, candidates, port, state, notify, notifyIndex } = workerData;
const H = new Int32Array(state);
const N = new Int32Array(notify);
const STATE = 0, PORT = 1, LOST = 2, LOST_RANK = 3, CMD = 4, CMD_DONE = 5, MSGLEN = 6, MSG = 16;
const now = () => performance.now();
function text(value) {
  const bytes = new TextEncoder().encode(String(value)).subarray(0, 4 * (H.length - MSG));
  new Uint8Array(state, 4 * MSG).set(bytes);
  Atomics.store(H, MSGLEN, bytes.length);
}
function setState(value, message) {
  if (message !== undefined) text(message);
  Atomics.store(H, STATE, value);
  Atomics.notify(H, STATE);
}
let leaving = false;
let lostOnce = false;
function lose(r, code, message) {
  if (leaving || lostOnce) return false;
  lostOnce = true;
  text(message);
  Atomics.store(H, LOST_RANK, r);
  Atomics.store(H, LOST, code);
  Atomics.notify(N, notifyIndex);
  return true;
}
function lines(socket, onLine) {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buffer += chunk;
    if (buffer.length > 65536) return socket.destroy();
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      onLine(line);
    }
  });
}
const silent = (who, ms) => 'no heartbeat from ' + who + ' for ' + Math.round(ms) + ' ms (heartbeatTimeoutMs ' + timeoutMs + '): its machine or process went down or froze, or the network is cut';
const closed = (who) => who + "'s process ended: its heartbeat connection closed without a goodbye";
const sockets = new Set();
let timer;
let server;
// A tick far later than planned means this thread itself was frozen or starved (SIGSTOP, swapping, a suspended VM):
// beats that arrived meanwhile are still unread, so the peers' silence cannot be judged; give them a fresh window.
let lastTick = now();
function stalled(t) {
  const late = t - lastTick > Math.max(5 * intervalMs, timeoutMs / 2);
  lastTick = t;
  return late;
}
function onCommand(done) {
  leaving = true;
  clearInterval(timer);
  const goodbye = Atomics.load(H, CMD) === 1;
  const finish = () => { Atomics.store(H, CMD_DONE, 1); Atomics.notify(H, CMD_DONE); };
  if (server) server.close();
  let pending = 0;
  for (const s of sockets) {
    if (goodbye && !s.destroyed) {
      pending += 1;
      s.end('bye\n', () => { if (--pending === 0) finish(); });
    } else s.destroy();
  }
  if (pending === 0) finish();
  else setTimeout(finish, 500).unref();
}
const wait = Atomics.waitAsync(H, CMD, 0);
if (wait.async) wait.value.then(onCommand); else onCommand();

if (role === 'hub') {
  const peers = new Map(); // rank → { socket, lastSeen, left }
  const startedAt = now();
  const relay = (r, code, message) => {
    for (const [q, p] of peers) if (q !== r && !p.left && !p.socket.destroyed) p.socket.write('lost ' + r + ' ' + code + ' ' + message.replace(/\n/g, ' ') + '\n');
  };
  const fail = (r, code, message) => { if (lose(r, code, message)) relay(r, code, message); };
  server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // 'close' follows
    sockets.add(socket);
    let who = -1;
    lines(socket, (line) => {
      const [kind, a, b] = line.split(' ');
      if (who < 0) {
        const r = Number(a);
        if (kind !== 'hello' || b !== token || !Number.isInteger(r) || r < 1 || r >= size || peers.has(r)) return socket.destroy();
        who = r;
        peers.set(r, { socket, lastSeen: now(), left: false });
        socket.write('welcome\n');
        return;
      }
      const p = peers.get(who);
      p.lastSeen = now();
      if (kind === 'bye') p.left = true;
    });
    socket.on('close', () => {
      sockets.delete(socket);
      const p = peers.get(who);
      if (p && !p.left) fail(who, 1, closed('rank ' + who));
    });
  });
  server.on('error', (error) => { if (Atomics.load(H, STATE) === 0) setState(-1, error.message); });
  server.listen(port, () => {
    Atomics.store(H, PORT, server.address().port);
    setState(1);
  });
  timer = setInterval(() => {
    const t = now();
    if (stalled(t)) for (const p of peers.values()) p.lastSeen = t;
    for (const p of peers.values()) if (!p.left && !p.socket.destroyed) p.socket.write('beat\n');
    for (let r = 1; r < size; r++) {
      const p = peers.get(r);
      if (!p) {
        if (t - startedAt > connectMs + timeoutMs) fail(r, 2, 'rank ' + r + ' never reached rank 0\'s heartbeat (waited ' + Math.round(t - startedAt) + ' ms)');
      } else if (!p.left && t - p.lastSeen > timeoutMs) fail(r, 2, silent('rank ' + r, t - p.lastSeen));
    }
  }, intervalMs);
} else {
  let hub;
  let lastSeen = now();
  let hubLeft = false;
  const errors = [];
  let failed = 0;
  // Every candidate address at once; the first that welcomes this rank (it knows the token) is rank 0.
  const attempts = candidates.map((host) => {
    const s = net.connect({ host, port });
    s.setNoDelay(true);
    let error;
    s.on('error', (e) => { error = e.message; });
    s.once('connect', () => s.write('hello ' + rank + ' ' + token + '\n'));
    lines(s, (line) => {
      const [kind, r, code] = line.split(' ');
      if (hub !== s) {
        if (kind !== 'welcome' || hub) return s.destroy();
        hub = s;
        sockets.add(s);
        for (const other of attempts) if (other !== s) other.destroy();
        lastSeen = now();
        setState(1);
        return;
      }
      lastSeen = now();
      if (kind === 'bye') hubLeft = true;
      if (kind === 'lost') lose(Number(r), Number(code), line.split(' ').slice(3).join(' '));
    });
    s.on('close', () => {
      if (hub === s) {
        sockets.delete(s);
        if (!hubLeft) lose(0, 1, closed('rank 0'));
        return;
      }
      if (hub) return;
      errors.push(host + ':' + port + ' (' + (error ?? 'closed without welcoming this rank') + ')');
      if (++failed === attempts.length && Atomics.load(H, STATE) === 0) setState(-1, errors.join(', '));
    });
    return s;
  });
  const connectTimer = setTimeout(() => {
    if (Atomics.load(H, STATE) !== 0) return;
    setState(-1, 'no welcome within ' + connectMs + ' ms' + (errors.length ? ' (' + errors.join(', ') + ')' : ''));
    for (const s of attempts) s.destroy();
  }, connectMs);
  connectTimer.unref();
  timer = setInterval(() => {
    if (!hub || Atomics.load(H, STATE) !== 1) return;
    if (!hub.destroyed) hub.write('beat\n');
    const t = now();
    if (stalled(t)) lastSeen = t;
    if (!hubLeft && t - lastSeen > timeoutMs) lose(0, 2, silent('rank 0', t - lastSeen));
  }, intervalMs);
}
`;

/** A peer the heartbeat found lost. */
export interface HeartbeatLoss {
  readonly reason: 'exited' | 'heartbeat';
  readonly rank: number;
  readonly text: string;
}

/** What {@link Heartbeat.start} needs of the communicator: its place and a broadcast for the addresses. */
export interface HeartbeatGroup {
  readonly rank: number;
  readonly size: number;
  broadcast(buf: Float32Array, root?: number): Float32Array;
}

interface Payload {
  readonly timeoutMs: number;
  readonly port?: number;
  readonly hosts?: readonly string[];
  readonly hostname?: string;
  readonly token?: string;
  readonly error?: string;
}

const FIX =
  'Set FITSTREAM_HEARTBEAT_ADDR (on rank 0) to an address of rank 0\'s machine that every rank can reach, and FITSTREAM_HEARTBEAT_PORT to a port your firewall lets through; or turn the heartbeat off with heartbeatTimeoutMs: 0 (FITSTREAM_HEARTBEAT_TIMEOUT_MS=0), which leaves dead peers to the MPI launcher and the collective timeout.';

/** Rank 0's addresses for the others, the configured one alone if any. */
function hubHosts(env: Readonly<Record<string, string | undefined>>): string[] {
  const configured = env.FITSTREAM_HEARTBEAT_ADDR?.trim();
  if (configured) return [configured];
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && !a.address.toLowerCase().startsWith('fe80'))
    .sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1))
    .map((a) => a.address);
  return [...addresses, hostname()];
}

function encode(payload: Payload): Float32Array {
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  if (bytes.length >= PAYLOAD) throw new DistributedConfigError(`The heartbeat's address list is too long (${bytes.length} bytes): ${FIX}`);
  const buf = new Float32Array(PAYLOAD);
  buf[0] = bytes.length;
  buf.set(bytes, 1);
  return buf;
}

function decode(buf: Float32Array): Payload {
  const bytes = Uint8Array.from(buf.subarray(1, 1 + buf[0]!));
  return JSON.parse(new TextDecoder().decode(bytes)) as Payload;
}

/**
 * Liveness of the MPI peers, apart from the collectives: rank 0 listens, every other rank connects, and both sides
 * beat ten times per timeout (at most once a second) from a thread of their own. A peer whose connection closes without
 * a goodbye has ended (seen within milliseconds); a peer silent for the timeout is lost. The replica learns of a loss at
 * its next collective, or at once while it waits in one.
 */
export class Heartbeat {
  private left = false;

  private constructor(
    private readonly worker: Worker,
    private readonly words: Int32Array,
    /** Rank 0's heartbeat timeout, which the whole group uses. */
    readonly timeoutMs: number,
  ) {}

  /**
   * Starts the heartbeat on every rank (collective: one broadcast of rank 0's address and settings, which apply to the
   * whole group). Resolves `undefined` in a world of one or when rank 0's timeout is 0. Throws
   * `DistributedConfigError` on every rank when rank 0 cannot listen, and on a rank that cannot reach rank 0.
   */
  static async start(
    group: HeartbeatGroup,
    options: { readonly timeoutMs: number; readonly env: Readonly<Record<string, string | undefined>>; readonly notify: SharedArrayBuffer; readonly notifyIndex: number },
  ): Promise<Heartbeat | undefined> {
    if (group.size === 1) return undefined;
    const state = new SharedArrayBuffer(4 * WORDS);
    const words = new Int32Array(state);
    const spawn = (data: Record<string, unknown>): Worker => {
      const worker = new Worker(HEARTBEAT_THREAD_SOURCE, {
        eval: true,
        workerData: { rank: group.rank, size: group.size, connectMs: CONNECT_MS, state, notify: options.notify, notifyIndex: options.notifyIndex, ...data },
      });
      worker.unref();
      // Without its heartbeat this rank's peers will count it lost (its connection closes): say why, once.
      worker.on('error', (e) => {
        if (Atomics.load(words, STATE) === 1) writeSync(2, `fitstream: rank ${group.rank}'s heartbeat thread failed: ${describe(e)}\n`);
      });
      return worker;
    };
    let worker: Worker | undefined;
    let payload: Payload = { timeoutMs: 0 };
    if (group.rank === 0 && options.timeoutMs > 0) {
      const port = Number(options.env.FITSTREAM_HEARTBEAT_PORT ?? 0);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        payload = { timeoutMs: options.timeoutMs, error: `FITSTREAM_HEARTBEAT_PORT must be a port number in [0, 65535] (0: any free port), got ${JSON.stringify(options.env.FITSTREAM_HEARTBEAT_PORT)}: set it to a free port your firewall lets through, or unset it.` };
      } else {
        const token = randomBytes(12).toString('hex');
        worker = spawn({ role: 'hub', timeoutMs: options.timeoutMs, intervalMs: heartbeatIntervalMs(options.timeoutMs), token, candidates: [], port });
        const error = await ready(worker, words);
        payload =
          error === undefined
            ? { timeoutMs: options.timeoutMs, port: Atomics.load(words, PORT), hosts: hubHosts(options.env), hostname: hostname(), token }
            : { timeoutMs: options.timeoutMs, error: `rank 0 could not listen for heartbeats on port ${port === 0 ? '(any)' : port}: ${error}. ${FIX}` };
      }
    }
    const buf = group.rank === 0 ? encode(payload) : new Float32Array(PAYLOAD);
    group.broadcast(buf, 0);
    payload = decode(buf);
    if (payload.error !== undefined) {
      if (worker) void worker.terminate();
      throw new DistributedConfigError(payload.error);
    }
    if (payload.timeoutMs === 0) return undefined;
    if (group.rank !== 0) {
      const hosts = payload.hosts ?? [];
      // On rank 0's machine, loopback first; FITSTREAM_HEARTBEAT_ADDR (one host) is used as given.
      const candidates = hosts.length > 1 && payload.hostname === hostname() ? ['127.0.0.1', ...hosts] : hosts;
      worker = spawn({ role: 'peer', timeoutMs: payload.timeoutMs, intervalMs: heartbeatIntervalMs(payload.timeoutMs), token: payload.token, candidates, port: payload.port });
      const error = await ready(worker, words);
      if (error !== undefined) {
        void worker.terminate();
        throw new DistributedConfigError(`rank ${group.rank} could not reach rank 0's heartbeat at ${candidates.map((h) => `${h}:${payload.port}`).join(', ')}: ${error}. ${FIX}`);
      }
    }
    return new Heartbeat(worker!, words, payload.timeoutMs);
  }

  /** The first peer found lost, if any. */
  loss(): HeartbeatLoss | undefined {
    const code = Atomics.load(this.words, LOST);
    if (code === 0) return undefined;
    const length = Atomics.load(this.words, MSGLEN);
    const text = new TextDecoder().decode(new Uint8Array(this.words.buffer, 4 * MSG, length).slice());
    return { reason: code === 1 ? 'exited' : 'heartbeat', rank: Atomics.load(this.words, LOST_RANK), text };
  }

  /**
   * Stops beating (synchronously, so that it works in a process `'exit'` handler): with `goodbye` the peers are told
   * this rank is done; without, its connections just close, and the peers see it as ended at once (a failing rank).
   */
  leave(goodbye: boolean): void {
    if (this.left) return;
    this.left = true;
    Atomics.store(this.words, CMD, goodbye ? 1 : 2);
    Atomics.notify(this.words, CMD);
    Atomics.wait(this.words, CMD_DONE, 0, 1000);
    void this.worker.terminate();
  }
}

/** Waits for the heartbeat thread to listen or connect: `undefined`, or why it could not. */
async function ready(worker: Worker, words: Int32Array): Promise<string | undefined> {
  let crashed: string | undefined;
  worker.once('error', (e) => {
    crashed = describe(e);
  });
  for (;;) {
    const state = Atomics.load(words, STATE);
    if (state === 1) return undefined;
    if (state === -1) return new TextDecoder().decode(new Uint8Array(words.buffer, 4 * MSG, Atomics.load(words, MSGLEN)).slice());
    if (crashed !== undefined) return `the heartbeat thread failed: ${crashed}`;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
