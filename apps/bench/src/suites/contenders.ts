/**
 * Contenders of the `backend` and `native` suites and the interleaved rounds that time them.
 *
 * A contender trains one model for one epoch per round and answers steps/s. Each builds its model and data on its own
 * backend and re-activates that backend (and the wasm kernel registry it wants) before every round, so that
 * contenders on different backends can share one tfjs engine and interleave.
 */
import * as tf from '@tensorflow/tfjs';
import { installCpuKernels, installWasmKernels, uninstallCpuKernels, uninstallWasmKernels, wasmMatMulThreads } from '@fitstream/backend-wasm';
import { createTrainer, withSeed } from '@fitstream/core';
import { BATCH, LEARNING_RATE, SEED, makeData, type ModelSpec } from './models.js';

/** tfjs backends the suites train on: `tensorflow` is tfjs-node's native backend. */
export type BenchBackend = 'wasm' | 'cpu' | 'tensorflow';

export interface Contender<Id extends string = string> {
  readonly id: Id;
  /** Trains one epoch; returns steps/s. */
  round(epoch: number): Promise<number>;
  dispose(): void;
}

/**
 * Activates `backend`; on wasm, makes the kernel registry fitstream's (true) or stock (false), with the large matMuls
 * on fitstream's own GEMM (`ownGemm`, the default) or on XNNPACK, and waits until the GEMM's second thread has started;
 * on cpu, fitstream's cpu kernels (row-copying gather, fused updates: what `selectBackend({ prefer: 'cpu' })` installs)
 * or the stock ones.
 */
export async function useBackend(backend: BenchBackend, fitstreamKernels: boolean, ownGemm = true): Promise<void> {
  await tf.setBackend(backend);
  if (backend === 'wasm') {
    if (fitstreamKernels) {
      installWasmKernels(tf, { ownGemm });
      await wasmMatMulThreads();
    } else uninstallWasmKernels(tf);
  } else if (backend === 'cpu') {
    if (fitstreamKernels) installCpuKernels(tf);
    else uninstallCpuKernels(tf);
  }
}

/** Steps per round for a `--quick` smoke run: a quarter, at least one. */
export function quickSteps(steps: number, quick: boolean): number {
  return quick ? Math.max(1, Math.ceil(steps / 4)) : steps;
}

/**
 * fitstream's trainer (`createTrainer` … `fit`) on `backend`, with fitstream's kernels where the backend is wasm (and
 * their large matMuls on the own GEMM unless `ownGemm` is false).
 */
export async function trainerContender<Id extends string>(id: Id, spec: ModelSpec, steps: number, backend: BenchBackend, ownGemm = true): Promise<Contender<Id>> {
  await useBackend(backend, true, ownGemm);
  const model = withSeed(SEED, () => spec.build());
  const data = makeData(spec, steps * BATCH);
  const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: LEARNING_RATE }, loss: spec.loss, seed: SEED, backend: 'current', log: null });
  return {
    id,
    async round(epoch) {
      await useBackend(backend, true, ownGemm);
      const start = performance.now();
      await trainer.fit(data, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: true, handleSignals: false });
      return steps / ((performance.now() - start) / 1000);
    },
    dispose() {
      trainer.dispose();
      model.dispose();
      tf.dispose([data.x, data.y]);
    },
  };
}

/** Stock tfjs `model.fit` on `backend`, with stock kernels where the backend is wasm. */
export async function modelFitContender<Id extends string>(id: Id, spec: ModelSpec, steps: number, backend: BenchBackend): Promise<Contender<Id>> {
  await useBackend(backend, false);
  const model = withSeed(SEED, () => spec.build());
  const data = makeData(spec, steps * BATCH);
  const optimizer = tf.train.adam(LEARNING_RATE);
  model.compile({ optimizer, loss: spec.loss });
  return {
    id,
    async round(epoch) {
      await useBackend(backend, false);
      const start = performance.now();
      await model.fit(data.x, data.y, { epochs: epoch + 1, initialEpoch: epoch, batchSize: BATCH, shuffle: true, verbose: 0 });
      return steps / ((performance.now() - start) / 1000);
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
      tf.dispose([data.x, data.y]);
    },
  };
}

/** Most untimed warm-up rounds {@link measureRounds} runs, whatever `warmUpSeconds` asks. */
export const MAX_WARM_UP_ROUNDS = 10;

/**
 * Builds the contenders, then runs untimed warm-up rounds — at least one, more until every contender has trained
 * `warmUpSeconds` in them (at most {@link MAX_WARM_UP_ROUNDS}) — and `rounds` timed ones, each round every contender
 * once, rotating who goes first (A B C, B C A, …) so that drift and order effects hit all alike. Disposes the
 * contenders. Returns the timed steps/s per round, by contender.
 */
export async function measureRounds<Id extends string>(
  label: string,
  factories: ReadonlyArray<() => Promise<Contender<Id>>>,
  rounds: number,
  log: (line: string) => void,
  warmUpSeconds = 0,
): Promise<Partial<Record<Id, number[]>>> {
  const contenders: Contender<Id>[] = [];
  const results: Partial<Record<Id, number[]>> = {};
  try {
    for (const make of factories) contenders.push(await make());
    const warmedUp = new Map<Contender<Id>, number>(contenders.map((c) => [c, 0]));
    const round = async (r: number, timed: boolean): Promise<void> => {
      for (const c of contenders.map((_, i) => contenders[(i + r) % contenders.length]!)) {
        const start = performance.now();
        const stepsPerSecond = await c.round(r);
        if (timed) (results[c.id] ??= []).push(stepsPerSecond);
        else warmedUp.set(c, warmedUp.get(c)! + (performance.now() - start) / 1000);
      }
    };
    let r = 0;
    do await round(r++, false);
    while (r < MAX_WARM_UP_ROUNDS && Math.min(...warmedUp.values()) < warmUpSeconds);
    for (let timed = 1; timed <= rounds; timed++) {
      await round(r++, true);
      log(`${label} round ${timed}: ${contenders.map((c) => `${c.id} ${results[c.id]!.at(-1)!.toFixed(2)}`).join(', ')} steps/s`);
    }
  } finally {
    for (const c of contenders) c.dispose();
  }
  return results;
}
