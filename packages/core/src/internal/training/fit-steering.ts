import * as tf from '@tensorflow/tfjs';
import { markLatest, type CheckpointInfo } from '@fitstream/checkpoint';
import { CORE_EVENT_TYPES } from '../events/event-map.js';
import type { TrainerControl } from '../plugin/trainer-control.js';
import { FitstreamInputError, nextMacrotask } from '@fitstream/util';
import type { NormalisedFitOptions } from './fit-options.js';
import type { LoopState, TrainerCore } from './trainer-core.js';

/** Node's process, for SIGINT/SIGTERM; absent in a page or worker (where a bundler's `process` shim has no `on`). */
const NODE_PROCESS = typeof process !== 'undefined' && typeof process.on === 'function' ? process : undefined;

interface DeferredSave {
  readonly dir: string;
  readonly reason: string;
  resolve(info: CheckpointInfo): void;
  reject(error: unknown): void;
}

/**
 * How plugins steer one fit, and the one place where the loop yields to them: stop requests (plugins, abort signal,
 * SIGINT/SIGTERM), promises the loop must wait for, and checkpoints asked for or written by plugins. `boundary()` is
 * called between units of work; it rethrows subscriber errors, waits, yields to the event loop and writes checkpoints.
 */
export class FitSteering<M extends string> {
  stopReason: string | undefined;
  /**
   * A step's batches are in flight (batch:start … step:end): a checkpoint asked for now is written when the step ends,
   * since only then do weights, optimizer slots, position and epoch sums describe the same moment.
   */
  stepOpen = false;
  readonly control: TrainerControl<M>;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly failures: unknown[] = [];
  private checkpointRequest: string | undefined;
  private readonly deferredSaves: DeferredSave[] = [];
  private readonly deferredPromises = new WeakSet<PromiseLike<unknown>>();
  private readonly checkpointHooks: (() => void | PromiseLike<unknown>)[] = [];
  private lastYield = performance.now();
  private signals = 0;
  private readonly onAbort = () => this.stop(`aborted${this.opts.signal?.reason ? `: ${String(this.opts.signal.reason)}` : ''}`);
  private readonly onSigint = () => this.onSignal('SIGINT');
  private readonly onSigterm = () => this.onSignal('SIGTERM');

  constructor(
    private readonly core: TrainerCore<M>,
    private readonly opts: NormalisedFitOptions,
    private readonly position: Readonly<LoopState>,
    private readonly save: (dir: string, reason: string) => Promise<CheckpointInfo>,
  ) {
    this.control = this.createControl();
  }

  stop(reason: string): void {
    this.stopReason ??= reason;
  }

  /** Starts listening for the abort signal and, when asked, SIGINT/SIGTERM (a second signal exits at once). */
  listen(): void {
    this.opts.signal?.addEventListener('abort', this.onAbort);
    if (this.opts.signal?.aborted) this.onAbort();
    if (this.opts.handleSignals && NODE_PROCESS) {
      NODE_PROCESS.on('SIGINT', this.onSigint);
      NODE_PROCESS.on('SIGTERM', this.onSigterm);
    }
  }

  dispose(): void {
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    if (this.opts.handleSignals && NODE_PROCESS) {
      NODE_PROCESS.off('SIGINT', this.onSigint);
      NODE_PROCESS.off('SIGTERM', this.onSigterm);
    }
    this.core.channel.takeErrors();
  }

  private onSignal(signal: 'SIGINT' | 'SIGTERM'): void {
    if (++this.signals > 1) NODE_PROCESS?.exit(signal === 'SIGINT' ? 130 : 143);
    this.stop(signal);
  }

  /** Subscriber errors, awaited promises, deferred and requested checkpoints, and a yield to the event loop. */
  async boundary(checkpointAllowed: boolean): Promise<void> {
    const errors = this.core.channel.takeErrors();
    if (errors.length) throw errors[0];
    // Saves asked for during an event are taken here, once every subscriber has seen it: plugins' state is then that
    // of the same moment whatever the order of `trainer.use` (a checkpoint plugin added before early stopping too).
    if (checkpointAllowed || !this.stepOpen) await this.writeDeferredSaves();
    while (this.pending.size) await Promise.all([...this.pending]);
    if (performance.now() - this.lastYield >= this.opts.yieldEveryMs) {
      await nextMacrotask();
      this.lastYield = performance.now();
    }
    if (this.failures.length) throw this.failures[0];
    if (this.checkpointRequest && checkpointAllowed) await this.writeRequestedCheckpoint(this.checkpointRequest);
    const late = this.core.channel.takeErrors();
    if (late.length) throw late[0];
  }

  /** After a failure: writes what plugins asked for (an error backup) and waits for their promises; never throws. */
  async settle(): Promise<void> {
    this.stepOpen = false;
    try {
      await this.writeDeferredSaves();
      while (this.pending.size) await Promise.all([...this.pending]);
    } catch {
      /* the original error is what matters */
    }
  }

  /** Runs the plugins' `beforeCheckpoint` hooks (all started at once); rejects with the first failure. */
  async beforeCheckpoint(): Promise<void> {
    await Promise.all(this.checkpointHooks.map((hook) => new Promise((resolve) => resolve(hook()))));
  }

  private async writeRequestedCheckpoint(reason: string): Promise<void> {
    this.checkpointRequest = undefined;
    const { epoch, step } = this.position;
    const dir = `${this.opts.checkpointDir}/epoch-${String(epoch).padStart(4, '0')}-step-${String(step).padStart(8, '0')}`;
    await this.save(dir, reason);
    await markLatest(dir);
  }

  private async writeDeferredSaves(): Promise<void> {
    while (this.deferredSaves.length) {
      const request = this.deferredSaves.shift()!;
      try {
        request.resolve(await this.save(request.dir, request.reason));
      } catch (error) {
        request.reject(error);
        throw error;
      }
    }
  }

  private hold(p: PromiseLike<unknown>): void {
    if (this.deferredPromises.has(p)) return; // the loop writes it at the step boundary and awaits it there
    const tracked: Promise<unknown> = Promise.resolve(p).then(
      () => this.pending.delete(tracked),
      (error: unknown) => {
        this.pending.delete(tracked);
        this.failures.push(error);
      },
    );
    this.pending.add(tracked);
  }

  /** Queues a save for the next boundary outside a step (the snapshot is taken there, synchronously). */
  private saveCheckpoint(dir: string, reason: string): Promise<CheckpointInfo> {
    const p = new Promise<CheckpointInfo>((resolve, reject) => this.deferredSaves.push({ dir, reason, resolve, reject }));
    this.deferredPromises.add(p);
    return p;
  }

  private createControl(): TrainerControl<M> {
    const { core, opts } = this;
    const model = core.model;
    const isStopping = () => this.stopReason !== undefined;
    return {
      stop: (reason) => this.stop(reason ?? 'stop requested'),
      get stopRequested() {
        return isStopping();
      },
      getLearningRate: () => core.learningRate,
      requestCheckpoint: (reason) => {
        if (!opts.checkpointDir) throw new FitstreamInputError('options.checkpointDir', 'control.requestCheckpoint() needs a checkpoint directory; pass fit option checkpointDir.');
        this.checkpointRequest ??= reason ?? 'requested';
      },
      saveCheckpoint: (dir, reason = 'requested') => this.saveCheckpoint(dir, reason),
      beforeCheckpoint: (hook) => {
        if (typeof hook !== 'function') throw new FitstreamInputError('hook', `control.beforeCheckpoint(hook) takes a function (run before each checkpoint is published), got ${typeof hook}.`);
        this.checkpointHooks.push(hook);
      },
      await: (p) => this.hold(p),
      snapshotWeights: () => new Map([...model.namedWeights()].map(([name, v]) => [name, tf.clone(v)])),
      restoreWeights: (weights) => {
        for (const [name, v] of model.namedWeights()) {
          const w = weights.get(name);
          if (!w) throw new Error(`restoreWeights: no weight "${name}" in the snapshot.`);
          v.assign(w);
        }
      },
      model: core.options.model,
      namedWeights: () => model.namedWeights(),
      random: core.random,
      metricNames: core.metricNames,
      checkpointDir: opts.checkpointDir,
      emit: (type, payload) => {
        if ((CORE_EVENT_TYPES as readonly string[]).includes(type)) throw new Error(`control.emit('${type}'): core events are published by the trainer only; declare your own event type.`);
        core.emit(type, payload);
      },
    };
  }
}
