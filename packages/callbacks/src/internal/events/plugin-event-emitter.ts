import { Subject, type Observable } from 'rxjs';
import type { EventOf, PluginEventType, TrainerControl, TrainerEventMap } from '@fitstream/core';

/**
 * Publishes a plugin's events twice: on the plugin's own `events$`, and on the trainer's stream through core's
 * `control.emit`, in order with the core events (so `trainer.events$.pipe(ofType('learningRate:changed'))` sees them).
 * Every plugin of this package with its own `events$` (policies, schedules, weight averaging) publishes through one.
 */
export class PluginEventEmitter<K extends PluginEventType> {
  private readonly subject = new Subject<EventOf<K>>();
  /** This plugin's events only. */
  readonly events$: Observable<EventOf<K>> = this.subject.asObservable();

  /** Publishes one event; without a `control` (a policy run outside a fit) only on {@link events$}. */
  emit<T extends K>(control: TrainerControl | undefined, type: T, payload: TrainerEventMap[T]): void {
    this.subject.next({ type, time: Date.now(), ...payload } as unknown as EventOf<K>);
    control?.emit(type, payload);
  }
}
