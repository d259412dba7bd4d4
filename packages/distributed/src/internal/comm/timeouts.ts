import { DistributedConfigError } from '../errors.js';

/**
 * The collective timeout by default: 30 minutes, PyTorch's default process-group timeout. It only has to catch a peer
 * that is alive but stuck (a deadlock, collectives called in different orders, a rank blocked on I/O); dead peers are
 * caught far sooner (the launcher, the heartbeat). It must outlast the longest legitimate wait at a collective: rank 0
 * writing a large checkpoint or validating alone while the others wait at the next all-reduce, a first step that
 * compiles kernels, a slow data loader.
 */
export const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * The MPI heartbeat timeout by default: 30 s of silence (Kubernetes' default liveness probe: every 10 s, 3 failures). A
 * process that dies closes its heartbeat connection, which its peers see at once; silence only means a machine that
 * went down, a frozen process or a cut network, and 30 s keeps a swapping or oversubscribed node, a long garbage
 * collection or a network blip from failing a healthy run.
 */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 30_000;

/** Shorter heartbeat timeouts confuse a busy machine with a dead one. */
export const MIN_HEARTBEAT_TIMEOUT_MS = 100;

/** How often peers beat for a given timeout: ten beats per timeout, at most one a second, at least every 20 ms. */
export function heartbeatIntervalMs(heartbeatTimeoutMs: number): number {
  return Math.min(1000, Math.max(20, Math.round(heartbeatTimeoutMs / 10)));
}

const fmt = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

interface Spec {
  readonly valid: (n: number) => boolean;
  readonly rule: string;
  readonly meaning: string;
  readonly example: number;
}

const TIMEOUT: Spec = {
  valid: (n) => n >= 1,
  rule: 'a whole number of milliseconds ≥ 1',
  meaning: `It is the collective timeout, which catches a peer that is alive but stuck (default ${DEFAULT_TIMEOUT_MS} = 30 min); dead peers are detected sooner, by the launcher and the heartbeat.`,
  example: 600_000,
};

const HEARTBEAT: Spec = {
  valid: (n) => n === 0 || n >= MIN_HEARTBEAT_TIMEOUT_MS,
  rule: `0 (no heartbeat) or a whole number of milliseconds ≥ ${MIN_HEARTBEAT_TIMEOUT_MS}`,
  meaning: `It is how long an MPI peer may stay silent before it counts as lost (default ${DEFAULT_HEARTBEAT_TIMEOUT_MS} = 30 s); shorter values mistake a busy machine for a dead one.`,
  example: 10_000,
};

function check(spec: Spec, value: unknown, name: string, got: string, fix: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && spec.valid(value)) return value;
  throw new DistributedConfigError(`${name} must be ${spec.rule}, got ${got}. ${spec.meaning} ${fix}`);
}

/** Checks a collective timeout (`timeoutMs`): a whole number of milliseconds ≥ 1. `name` is how the caller spelled it. */
export function checkTimeoutMs(value: unknown, name = 'timeoutMs'): number {
  return check(TIMEOUT, value, name, fmt(value), `Pass e.g. ${name}: ${TIMEOUT.example} (10 minutes).`);
}

/** Checks a heartbeat timeout (`heartbeatTimeoutMs`): 0 (no heartbeat) or a whole number of milliseconds ≥ 100. */
export function checkHeartbeatTimeoutMs(value: unknown, name = 'heartbeatTimeoutMs'): number {
  return check(HEARTBEAT, value, name, fmt(value), `Pass e.g. ${name}: ${HEARTBEAT.example}, or 0 to turn the heartbeat off.`);
}

function fromEnv(env: Readonly<Record<string, string | undefined>>, variable: string, spec: Spec): number | undefined {
  const text = env[variable];
  if (text === undefined || text.trim() === '') return undefined;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  return check(spec, value, variable, JSON.stringify(text), `Set e.g. ${variable}=${spec.example}, or unset it for the default.`);
}

/** The timeouts the environment sets (`FITSTREAM_TIMEOUT_MS`, `FITSTREAM_HEARTBEAT_TIMEOUT_MS`), checked. */
export function timeoutsFromEnv(env: Readonly<Record<string, string | undefined>>): { timeoutMs?: number; heartbeatTimeoutMs?: number } {
  const timeoutMs = fromEnv(env, 'FITSTREAM_TIMEOUT_MS', TIMEOUT);
  const heartbeatTimeoutMs = fromEnv(env, 'FITSTREAM_HEARTBEAT_TIMEOUT_MS', HEARTBEAT);
  return { ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs }) };
}
