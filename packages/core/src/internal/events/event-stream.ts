import { Observable, Subject, type Observer, type OperatorFunction, type Subscriber, type Subscription, type TeardownLogic } from 'rxjs';
import type { TrainerEvent } from './event-map.js';

/**
 * The trainer's public event stream. RxJS reports an error thrown inside a subscriber asynchronously (or not at all),
 * which would let training continue past a broken callback. This Observable subclass wraps every subscriber — also
 * those of piped streams, through `pipe` — so that a throwing `next` or an unhandled `error` fails the fit loudly.
 */
export class GuardedObservable<T> extends Observable<T> {
  constructor(
    private readonly onSubscriberError: (error: unknown) => void,
    subscribe?: (this: Observable<T>, subscriber: Subscriber<T>) => TeardownLogic,
  ) {
    super(subscribe);
  }

  // Piped streams stay guarded: the result of the operators is wrapped again. (`pipe`, not the deprecated `lift`.)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one signature for all of Observable's pipe overloads
  override pipe(...operations: OperatorFunction<any, any>[]): Observable<any> {
    const piped = operations.reduce<Observable<unknown>>((source, operation) => operation(source), this);
    return piped === this ? this : new GuardedObservable(this.onSubscriberError, (subscriber) => piped.subscribe(subscriber));
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null): Subscription {
    const report = this.onSubscriberError;
    const observer: Partial<Observer<T>> =
      typeof observerOrNext === 'function' ? { next: observerOrNext } : (observerOrNext ?? {});
    const guarded: Partial<Observer<T>> = {
      next: (value) => {
        try {
          observer.next?.(value);
        } catch (error) {
          report(error);
        }
      },
      error: (error: unknown) => {
        if (observer.error) {
          try {
            observer.error(error);
          } catch (inner) {
            report(inner);
          }
        } else report(error);
      },
      complete: () => {
        try {
          observer.complete?.();
        } catch (error) {
          report(error);
        }
      },
    };
    return super.subscribe(guarded);
  }
}

/** The private emitter and the public, guarded stream of one trainer. */
export interface EventChannel<M extends string> {
  readonly events$: Observable<TrainerEvent<M>>;
  emit(event: TrainerEvent<M>): void;
  /** Errors thrown by subscribers since the last call, cleared on read. */
  takeErrors(): unknown[];
  /** Completes the stream (the trainer was disposed). */
  complete(): void;
  /** Whether anyone subscribes right now (lets the loop skip building events nobody reads). */
  readonly observed: boolean;
}

/** Creates the event channel of a trainer. */
export function createEventChannel<M extends string>(): EventChannel<M> {
  const subject = new Subject<TrainerEvent<M>>();
  let errors: unknown[] = [];
  const events$ = new GuardedObservable<TrainerEvent<M>>((e) => errors.push(e), (subscriber) => subject.subscribe(subscriber));
  return {
    events$,
    emit: (event) => subject.next(event),
    complete: () => subject.complete(),
    takeErrors: () => {
      const taken = errors;
      if (taken.length) errors = [];
      return taken;
    },
    get observed() {
      return subject.observed;
    },
  };
}
