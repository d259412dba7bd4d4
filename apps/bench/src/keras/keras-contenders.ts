/**
 * Keras 3 as a contender of the `backend` and `native` suites: one peer per thread setting (1 and 2), each a
 * contender in the same interleaved rounds as ours; per model the setting with the higher median counts ("best of 1 and
 * 2 threads"). Without a Python that imports tensorflow and keras the suites skip the Keras rows and say why.
 */
import type { Contender } from '../suites/contenders.js';
import { quickSteps } from '../suites/contenders.js';
import type { ModelName, ModelSpec } from '../suites/models.js';
import { median } from '../rows.js';
import { KerasPeerUnavailable, kerasPython, startKerasPeer, type KerasPeer } from './keras-peer.js';

export const KERAS_THREADS = [1, 2] as const;
export type KerasContenderId = `keras_${(typeof KERAS_THREADS)[number]}t`;

/** Steps per Keras round: about a second per round at the Keras speeds of issue 18. */
export const KERAS_STEPS: Readonly<Record<ModelName, number>> = { mlp: 96, cnn: 64, lstm: 48, cnn_large: 8, gru: 48 };

export interface KerasPeers {
  /** Empty when Keras is skipped. */
  readonly peers: readonly KerasPeer[];
  /** For the table: the versions in use or why the Keras rows are skipped, then each model whose Keras rows failed. */
  readonly notes: readonly string[];
  /**
   * {@link bestKeras} of one model's rounds; `undefined` when Keras is skipped, or when every thread setting failed
   * (then noted in {@link notes} and logged).
   */
  best(model: ModelName, perRound: Partial<Record<KerasContenderId, number[]>>): KerasBest | undefined;
  close(): Promise<void>;
}

function contenderId(threads: number): KerasContenderId {
  return `keras_${threads}t` as KerasContenderId;
}

/**
 * Starts the 1- and 2-thread peers (in parallel, before anything is timed). Never throws for a missing Python,
 * tensorflow or keras: it logs that the Keras rows are skipped and why, and returns no peers.
 */
export async function startKerasPeers(suite: string, log: (line: string) => void): Promise<KerasPeers> {
  log(`${suite} suite: starting the Keras peers (${kerasPython()}, ${KERAS_THREADS.join(' and ')} threads)`);
  const started = await Promise.allSettled(KERAS_THREADS.map((threads) => startKerasPeer({ threads })));
  const peers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async (): Promise<void> => void (await Promise.all(peers.map((p) => p.close())));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await close();
    const error: unknown = failed.reason;
    if (!(error instanceof KerasPeerUnavailable)) throw error;
    const note =
      `skipped the Keras rows: ${error.message}. To include them: python3 -m pip install tensorflow-cpu keras, or set ` +
      'FITSTREAM_BENCH_PYTHON to a Python that has tensorflow and keras.';
    log(`${suite} suite: ${note}`);
    return { peers: [], notes: [note], best: () => undefined, close: async () => {} };
  }
  const { tensorflow, keras, python } = peers[0]!.versions;
  const notes = [
    `keras = Keras ${keras} model.fit on TensorFlow ${tensorflow} (Python ${python}), defaults, verbose 0; best of ${KERAS_THREADS.join(' and ')} threads (tf.config.threading intra = inter op)`,
  ];
  return {
    peers,
    notes,
    best(model, perRound) {
      const best = bestKeras(peers, perRound);
      if (!('skipped' in best)) return best;
      notes.push(`skipped the Keras rows of ${model}: ${best.skipped}`);
      log(`${suite} suite: ${notes.at(-1)!}`);
      return undefined;
    },
    close,
  };
}

/** One contender per peer for `spec`. A failed round (error, timeout, dead peer) answers NaN: see {@link bestKeras}. */
export function kerasContenders(peers: readonly KerasPeer[], spec: ModelSpec, quick: boolean): Array<() => Promise<Contender<KerasContenderId>>> {
  const steps = quickSteps(KERAS_STEPS[spec.name], quick);
  return peers.map((peer) => () =>
    Promise.resolve({
      id: contenderId(peer.threads),
      round: (): Promise<number> => peer.train(spec.name, steps).catch(() => Number.NaN),
      dispose() {},
    }),
  );
}

export interface KerasBest {
  readonly threads: number;
  /** Steps/s per timed round of the winning thread setting. */
  readonly perRound: readonly number[];
  /** For the table: which setting won and what the other reached. */
  readonly remark: string;
}

/**
 * The thread setting with the higher median steps/s over the timed rounds, among those whose every round succeeded;
 * `{ skipped }` with the peers' errors when none did.
 */
export function bestKeras(peers: readonly KerasPeer[], perRound: Partial<Record<KerasContenderId, number[]>>): KerasBest | { skipped: string } {
  const threadsLabel = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`;
  const all = peers.map((peer) => ({ peer, rounds: perRound[contenderId(peer.threads)] ?? [] }));
  const ok = all.filter(({ rounds }) => rounds.length > 0 && rounds.every(Number.isFinite));
  const failed = all.filter((s) => !ok.includes(s)).map(({ peer }) => `${threadsLabel(peer.threads)} failed: ${peer.lastError ?? 'no timed round'}`);
  const ranked = ok.map(({ peer, rounds }) => ({ threads: peer.threads, rounds, median: median(rounds) })).sort((a, b) => b.median - a.median);
  const best = ranked[0];
  if (!best) return { skipped: failed.join('; ') };
  const others = [...ranked.slice(1).map((s) => `${threadsLabel(s.threads)}: ${s.median.toFixed(1)} steps/s`), ...failed];
  return { threads: best.threads, perRound: best.rounds, remark: `best of ${all.length}: ${threadsLabel(best.threads)}${others.length > 0 ? ` (${others.join('; ')})` : ''}` };
}
