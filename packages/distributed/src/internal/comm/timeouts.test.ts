import { describe, expect, it } from 'vitest';
import { DistributedConfigError, init, launch } from '../../index.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, checkHeartbeatTimeoutMs, checkTimeoutMs, heartbeatIntervalMs, timeoutsFromEnv } from './timeouts.js';

describe('timeouts: a short heartbeat beside a long collective timeout, checked where they are set', () => {
  it('defaults: 30 min collective timeout, 30 s heartbeat beating every second', () => {
    expect(DEFAULT_TIMEOUT_MS).toBe(1_800_000);
    expect(DEFAULT_HEARTBEAT_TIMEOUT_MS).toBe(30_000);
    expect(heartbeatIntervalMs(DEFAULT_HEARTBEAT_TIMEOUT_MS)).toBe(1000);
    expect(heartbeatIntervalMs(1500)).toBe(150);
    expect(heartbeatIntervalMs(100)).toBe(20);
  });

  it('accepts whole milliseconds; 0 turns the heartbeat off', () => {
    expect(checkTimeoutMs(1)).toBe(1);
    expect(checkHeartbeatTimeoutMs(0)).toBe(0);
    expect(checkHeartbeatTimeoutMs(100)).toBe(100);
    expect(timeoutsFromEnv({ FITSTREAM_TIMEOUT_MS: '600000', FITSTREAM_HEARTBEAT_TIMEOUT_MS: ' 0 ' })).toEqual({ timeoutMs: 600_000, heartbeatTimeoutMs: 0 });
    expect(timeoutsFromEnv({ FITSTREAM_TIMEOUT_MS: '' })).toEqual({});
  });

  it.each([0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '60000'])('timeoutMs %s is refused, naming the option and the fix', (value) => {
    expect(() => checkTimeoutMs(value)).toThrow(DistributedConfigError);
    expect(() => checkTimeoutMs(value)).toThrow(/^timeoutMs must be a whole number of milliseconds ≥ 1, got .*collective timeout.*Pass e\.g\. timeoutMs: 600000/);
  });

  it.each([1, 99, -1, 2.5, '30000'])('heartbeatTimeoutMs %s is refused, naming the option and the fix', (value) => {
    expect(() => checkHeartbeatTimeoutMs(value)).toThrow(/^heartbeatTimeoutMs must be 0 \(no heartbeat\) or a whole number of milliseconds ≥ 100, got .*mistake a busy machine for a dead one\. Pass e\.g\. heartbeatTimeoutMs: 10000, or 0 to turn the heartbeat off\./);
  });

  it('bad environment values name the variable and how to fix it', () => {
    expect(() => timeoutsFromEnv({ FITSTREAM_TIMEOUT_MS: '5m' })).toThrow(/^FITSTREAM_TIMEOUT_MS must be a whole number of milliseconds ≥ 1, got "5m"\..*Set e\.g\. FITSTREAM_TIMEOUT_MS=600000, or unset it for the default\.$/);
    expect(() => timeoutsFromEnv({ FITSTREAM_HEARTBEAT_TIMEOUT_MS: '50' })).toThrow(/^FITSTREAM_HEARTBEAT_TIMEOUT_MS must be 0 \(no heartbeat\) or .*, got "50"\..*Set e\.g\. FITSTREAM_HEARTBEAT_TIMEOUT_MS=10000/);
  });

  it('init and launch check them before anything starts', async () => {
    await expect(init({ heartbeatTimeoutMs: 50, env: {} })).rejects.toThrow(/^heartbeatTimeoutMs must be 0/);
    await expect(init({ env: { FITSTREAM_TIMEOUT_MS: 'soon' } })).rejects.toThrow(/^FITSTREAM_TIMEOUT_MS must be/);
    await expect(launch({ script: './nowhere.js', timeoutMs: 0, log: null })).rejects.toThrow(/^launch: timeoutMs must be a whole number/);
    await expect(launch({ script: './nowhere.js', heartbeatTimeoutMs: 10, log: null })).rejects.toThrow(/^launch: heartbeatTimeoutMs must be 0/);
  });
});
