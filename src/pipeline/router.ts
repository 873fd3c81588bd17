import {
  catchError,
  concat,
  concatMap,
  defaultIfEmpty,
  defer,
  EMPTY,
  filter,
  forkJoin,
  from,
  ignoreElements,
  isObservable,
  lastValueFrom,
  map,
  Observable,
  of,
  shareReplay,
  startWith,
  Subject,
  type Subscription,
  take,
  throwError,
} from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Batch } from './batch.js';
import { DuplicateProcessorError, InvalidPipelineOptionError, ProcessorError, RouterClosedError } from './errors.js';
import type { PipelineTelemetry } from './telemetry.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';

/**
 * A processor: an Observer of batches (`next` per batch, `complete` when the router closes, `error`
 * when the input fails), or a function of a batch. A function that returns a Promise (thenable) or
 * an Observable is busy until it settles; the next batch waits in the processor's buffer. Any
 * other return value is ignored.
 *
 * @example
 * ```ts
 * const log: Processor = (batch) => { console.log(batch.length); };
 * const upload: Processor = (batch) => fetch(url, { method: 'POST', body: JSON.stringify(batch) });
 * ```
 */
export type Processor = ProcessorObserver | ((batch: Batch) => unknown);

/**
 * The Observer form of a processor: any `Partial<Observer<Batch>>` fits. `next` may return a
 * Promise or an Observable, awaited like a function processor's result.
 *
 * @example
 * ```ts
 * const p: ProcessorObserver = { next: (batch) => db.insert(batch), complete: () => db.close() };
 * ```
 */
export interface ProcessorObserver {
  next?: (batch: Batch) => unknown;
  error?: (err: unknown) => unknown;
  complete?: () => unknown;
}

/**
 * What happens when a batch arrives and the processor's buffer is full: drop the oldest held
 * batch, drop the arriving one, or `block` the pipeline until there is room (lossless).
 *
 * @example
 * ```ts
 * router.register('audit', audit, { overflow: 'block' });
 * ```
 */
export type Overflow = 'drop-oldest' | 'drop-newest' | 'block';

/**
 * Options of {@link Router.register}.
 *
 * @example
 * ```ts
 * router.register('metrics', metrics, { buffer: 4, overflow: 'drop-newest' });
 * ```
 */
export interface RegisterOptions {
  /** Batches held while the processor is busy (default 16; 0: only when idle). */
  readonly buffer?: number;
  /** On a full buffer (default `drop-oldest`); `block` makes the processor lossless. */
  readonly overflow?: Overflow;
}

/**
 * Options of the {@link Router}.
 *
 * @example
 * ```ts
 * const router = new Router({ logger: consoleLogger('warn'), telemetry });
 * ```
 */
export interface RouterOptions {
  /** Where drops and processor failures are logged (default: silent). */
  readonly logger?: Logger;
  /** Counts deliveries, drops, failures and lag. */
  readonly telemetry?: PipelineTelemetry;
  /** The clock for the lag measure (default `Date.now`). */
  readonly now?: () => number;
  /**
   * The most batches {@link route} holds while a `block` processor's buffer is full (default
   * {@link DEFAULT_MAX_PENDING}). When one more arrives, the oldest held batch is dropped — for
   * every processor: none of them had it — counted ({@link Router.backlog},
   * `telemetry.dropped.backlog` in entries) and logged. `Infinity` holds them all: lossless, and
   * memory grows for as long as the processor is stuck.
   */
  readonly maxPending?: number;
}

/**
 * The default of {@link RouterOptions.maxPending}, in batches.
 *
 * @example
 * ```ts
 * new Router({ maxPending: DEFAULT_MAX_PENDING * 4 });
 * ```
 */
export const DEFAULT_MAX_PENDING = 64;

/**
 * The batches {@link route} holds while a `block` processor is full, from {@link Router.backlog}.
 *
 * @example
 * ```ts
 * router.backlog(); // { queued: 0, dropped: 0 } when no `block` processor ever fell behind
 * ```
 */
export interface BacklogStats {
  /** Batches held now, waiting for the dispatch in progress. */
  readonly queued: number;
  /** Batches dropped from the backlog since the router was made. */
  readonly dropped: number;
}

/**
 * Counters of one processor, from {@link Router.stats}.
 *
 * @example
 * ```ts
 * router.stats().get('archive')?.dropped; // 0 for a lossless processor
 * ```
 */
export interface ProcessorStats {
  readonly delivered: number;
  /** Batches dropped on overflow. */
  readonly dropped: number;
  readonly errors: number;
  /** Batches waiting in the buffer now. */
  readonly queued: number;
  readonly busy: boolean;
}

/**
 * The default buffer of a processor, in batches.
 *
 * @example
 * ```ts
 * router.register('p', fn); // holds up to DEFAULT_PROCESSOR_BUFFER batches
 * ```
 */
export const DEFAULT_PROCESSOR_BUFFER = 16;

/** One processor's bounded queue and its delivery loop. */
class Lane {
  private readonly queue: Batch[] = [];
  private busy = false;
  private delivered = 0;
  private dropped = 0;
  private errors = 0;
  /** Fires each time the processor takes a batch (room appears) or the lane stops. */
  readonly room = new Subject<void>();
  /** Fires each time the lane becomes idle with an empty queue. */
  private readonly idle = new Subject<void>();

  constructor(
    readonly name: string,
    private readonly processor: Processor,
    private readonly buffer: number,
    readonly overflow: Overflow,
    private readonly options: Required<Pick<RouterOptions, 'logger' | 'now'>> & Pick<RouterOptions, 'telemetry'>,
  ) {}

  /** Takes the batch, or drops one by the overflow rule; false only for a full `block` lane. */
  offer(batch: Batch): boolean {
    if (!this.busy) {
      this.queue.push(batch);
      this.pump();
      return true;
    }
    if (this.queue.length < this.buffer) {
      this.queue.push(batch);
      return true;
    }
    if (this.overflow === 'block') return false;
    if (this.overflow === 'drop-oldest' && this.queue.length > 0) {
      const oldest = this.queue.shift();
      this.queue.push(batch);
      if (oldest !== undefined) this.drop(oldest);
    } else {
      this.drop(batch);
    }
    return true;
  }

  /** Completes when the queue is empty and nothing is in flight. */
  drained(): Observable<void> {
    return defer(() =>
      this.isIdle() ? of(undefined) : this.idle.pipe(filter(() => this.isIdle()), take(1)),
    );
  }

  /** Stops taking batches: blocked dispatches are released (the processor is gone for them). */
  detach(): void {
    this.room.complete();
  }

  /**
   * Ends the lane: the Observer's `complete` (or `error`) is called, and awaited when it returns a
   * Promise or an Observable (a file being closed); blocked dispatches are released.
   */
  end(err?: unknown): Observable<void> {
    this.room.complete();
    this.idle.complete();
    const p = this.processor;
    if (typeof p === 'function') return of(undefined);
    let result: unknown;
    try {
      result = err === undefined ? p.complete?.() : p.error?.(err);
    } catch (cause) {
      this.fail(cause);
      return of(undefined);
    }
    const settled: Observable<unknown> = isObservable(result) ? result : isPromiseLike(result) ? from(result) : of(undefined);
    return settled.pipe(
      ignoreElements(),
      catchError((cause: unknown) => {
        this.fail(cause);
        return EMPTY;
      }),
      defaultIfEmpty(undefined),
      map(() => undefined),
    );
  }

  stats(): ProcessorStats {
    return {
      delivered: this.delivered,
      dropped: this.dropped,
      errors: this.errors,
      queued: this.queue.length,
      busy: this.busy,
    };
  }

  private isIdle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  private drop(batch: Batch): void {
    this.dropped += 1;
    this.options.telemetry?.overflow(this.name, batch.length);
    this.options.logger.warn(`dropping a batch for slow processor ${this.name}`, {
      processor: this.name,
      overflow: this.overflow,
      entries: batch.length,
      droppedBatches: this.dropped,
    });
  }

  private fail(cause: unknown): void {
    this.errors += 1;
    this.options.telemetry?.processorError(this.name);
    const error = new ProcessorError(this.name, cause);
    this.options.logger.error(error.message, { processor: this.name, error });
  }

  /** Delivers held batches one at a time, each after the previous one settled. */
  private pump(): void {
    while (!this.busy) {
      const next = this.queue.shift();
      if (next === undefined) {
        this.idle.next();
        return;
      }
      this.busy = true;
      this.room.next();
      this.deliver(next);
    }
  }

  private settle = (): void => {
    this.busy = false;
    this.pump();
    // the processor is free (and its queue empty): a blocked dispatch may hand it a batch now
    if (this.isIdle()) this.room.next();
  };

  private deliver(batch: Batch): void {
    this.delivered += 1;
    let oldest = Infinity;
    for (const entry of batch) if (entry.observedAt < oldest) oldest = entry.observedAt;
    this.options.telemetry?.delivered(this.name, oldest === Infinity ? 0 : Math.max(0, this.options.now() - oldest));
    const p = this.processor;
    let result: unknown;
    try {
      result = typeof p === 'function' ? p(batch) : p.next?.(batch);
    } catch (cause) {
      this.fail(cause);
      this.settle();
      return;
    }
    if (isObservable(result)) {
      result.pipe(ignoreElements()).subscribe({
        error: (cause: unknown) => {
          this.fail(cause);
          this.settle();
        },
        complete: this.settle,
      });
    } else if (isPromiseLike(result)) {
      result.then(this.settle, (cause: unknown) => {
        this.fail(cause);
        this.settle();
      });
    } else {
      this.settle();
    }
  }
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

/**
 * Delivers every batch to every registered processor, in order, each through its own bounded
 * buffer: a slow processor with a dropping overflow never slows the others. On a full buffer a
 * batch is dropped (oldest or newest, counted per processor, logged) — or, for a processor
 * registered with `overflow: 'block'`, the pipeline waits. That is the trade of `block`: that
 * processor loses nothing the router dispatches, and every processor waits with it (they get no
 * new batch until it has room); what arrives meanwhile is held by {@link route}, at most
 * `maxPending` batches, beyond which the oldest held batch is dropped for all (counted, logged).
 *
 * @example
 * ```ts
 * const router = new Router({ logger });
 * router.register('ndjson', ndjsonProcessor(stream), { buffer: 64, overflow: 'block' });
 * router.register('metrics', (batch) => gauge.set(batch.length), { buffer: 4, overflow: 'drop-oldest' });
 * batches$.pipe(route(router)).subscribe();
 * ```
 *
 * @see {@link route} the operator that feeds it
 */
export class Router {
  private readonly lanes = new Map<string, Lane>();
  private closing: Observable<void> | undefined;
  private readonly options: Required<Pick<RouterOptions, 'logger' | 'now'>> & Pick<RouterOptions, 'telemetry'>;
  private readonly maxPending: number;
  private queued = 0;
  private droppedPending = 0;

  /** @throws InvalidPipelineOptionError for a `maxPending` that is not an integer >= 0 or Infinity. */
  constructor(options: RouterOptions = {}) {
    const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!(maxPending === Number.POSITIVE_INFINITY || (Number.isInteger(maxPending) && maxPending >= 0))) {
      throw new InvalidPipelineOptionError('maxPending', maxPending, 'an integer >= 0, or Infinity');
    }
    this.maxPending = maxPending;
    this.options = {
      logger: options.logger ?? silentLogger,
      now: options.now ?? Date.now,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    };
  }

  /**
   * Adds a processor; it gets every batch dispatched from now on.
   *
   * @throws DuplicateProcessorError when `name` is taken; RouterClosedError after `close()`;
   *   InvalidPipelineOptionError for a negative or fractional buffer.
   */
  register(name: string, processor: Processor, options: RegisterOptions = {}): void {
    if (this.closing !== undefined) throw new RouterClosedError(`register ${name}`);
    if (this.lanes.has(name)) throw new DuplicateProcessorError(name);
    const buffer = options.buffer ?? DEFAULT_PROCESSOR_BUFFER;
    if (!Number.isInteger(buffer) || buffer < 0) {
      throw new InvalidPipelineOptionError('buffer', buffer, 'an integer >= 0');
    }
    this.lanes.set(name, new Lane(name, processor, buffer, options.overflow ?? 'drop-oldest', this.options));
  }

  /**
   * Removes a processor: it gets no new batch, the ones it holds are delivered, then an Observer
   * processor is completed. Resolves when that is done; unknown names resolve at once.
   */
  unregister(name: string): Promise<void> {
    const lane = this.lanes.get(name);
    if (lane === undefined) return Promise.resolve();
    this.lanes.delete(name);
    lane.detach();
    return lastValueFrom(lane.drained().pipe(concatMap(() => lane.end())), { defaultValue: undefined });
  }

  /** The names of the registered processors. */
  names(): string[] {
    return [...this.lanes.keys()];
  }

  /** Counters per processor. */
  stats(): ReadonlyMap<string, ProcessorStats> {
    return new Map([...this.lanes].map(([name, lane]) => [name, lane.stats()]));
  }

  /** What {@link route} holds now while a `block` processor is full, and what it dropped. */
  backlog(): BacklogStats {
    return { queued: this.queued, dropped: this.droppedPending };
  }

  /**
   * Dispatches every batch of `batches$` in order, one {@link Router.dispatch} at a time, and
   * emits each once every processor took it. While a dispatch waits (a `block` processor is full)
   * the batches that arrive are held, at most `maxPending`; one more drops the oldest held batch
   * (counted, logged). Completes when `batches$` has and every held batch was dispatched.
   *
   * @example
   * ```ts
   * router.dispatchAll(batches$).subscribe(); // what route(router) does before it closes the router
   * ```
   */
  dispatchAll(batches$: Observable<Batch>): Observable<Batch> {
    // A bounded concatMap: composition has no operator that drops from its own queue.
    return new Observable<Batch>((subscriber) => {
      const held: Batch[] = [];
      let inner: Subscription | undefined;
      let busy = false;
      let ended = false;
      const pump = (): void => {
        while (!busy) {
          const batch = held.shift();
          this.queued = held.length;
          if (batch === undefined) {
            if (ended) subscriber.complete();
            return;
          }
          busy = true;
          // A dispatch that completes during subscribe is followed by this loop; a later one pumps.
          let subscribing = true;
          inner = this.dispatch(batch).subscribe({
            next: (value) => {
              subscriber.next(value);
            },
            error: (err: unknown) => {
              subscriber.error(err);
            },
            complete: () => {
              busy = false;
              inner = undefined;
              if (!subscribing) pump();
            },
          });
          subscribing = false;
        }
      };
      const source = batches$.subscribe({
        next: (batch) => {
          held.push(batch);
          // Idle, the batch is dispatched at once below; busy, it waits, and the backlog is bounded.
          if (busy && held.length > this.maxPending) {
            const oldest = held.shift();
            if (oldest !== undefined) this.dropPending(oldest);
          }
          this.queued = held.length;
          pump();
        },
        error: (err: unknown) => {
          subscriber.error(err);
        },
        complete: () => {
          ended = true;
          pump();
        },
      });
      return () => {
        source.unsubscribe();
        inner?.unsubscribe();
        this.queued = 0;
      };
    });
  }

  private dropPending(batch: Batch): void {
    this.droppedPending += 1;
    this.options.telemetry?.backlogOverflow(batch.length);
    this.options.logger.warn('dropping a batch from the route backlog: a lossless (block) processor is full', {
      entries: batch.length,
      droppedBatches: this.droppedPending,
      maxPending: this.maxPending,
    });
  }

  /**
   * Hands a batch to every processor. Emits the batch and completes once every processor took it
   * or dropped one by its overflow rule — at once, unless a `block` processor's buffer is full.
   */
  dispatch(batch: Batch): Observable<Batch> {
    return defer(() => {
      if (this.closing !== undefined) return throwError(() => new RouterClosedError('dispatch'));
      const blocked = [...this.lanes.values()].filter((lane) => !lane.offer(batch));
      if (blocked.length === 0) return of(batch);
      return forkJoin(
        blocked.map((lane) =>
          lane.room.pipe(
            startWith(undefined),
            filter(() => lane.offer(batch)),
            take(1),
            defaultIfEmpty(undefined),
          ),
        ),
      ).pipe(map(() => batch));
    });
  }

  /**
   * Closes the router: no new batch is accepted, every held batch is delivered, then Observer
   * processors are completed (or errored with `err`). Idempotent: later calls share the first.
   */
  close$(err?: unknown): Observable<void> {
    this.closing ??= defer(() => {
      const lanes = [...this.lanes.values()];
      const drained = lanes.length === 0 ? of([]) : forkJoin(lanes.map((lane) => lane.drained()));
      return drained.pipe(
        concatMap(() => (lanes.length === 0 ? of([]) : forkJoin(lanes.map((lane) => lane.end(err))))),
        map(() => {
          this.lanes.clear();
        }),
      );
    }).pipe(shareReplay({ bufferSize: 1, refCount: false }));
    return this.closing;
  }

  /** {@link Router.close$} as a Promise. */
  close(err?: unknown): Promise<void> {
    return lastValueFrom(this.close$(err), { defaultValue: undefined });
  }
}

/**
 * Feeds a {@link Router}: each batch is handed to every processor (waiting only for a full
 * lossless processor, holding at most the router's `maxPending` batches meanwhile: see
 * {@link Router.dispatchAll}), then passed on. When the input completes the router closes: held batches
 * are delivered and processors completed before this completes. An input error closes the router
 * with that error (Observer processors get `error`) and is passed on.
 *
 * @example
 * ```ts
 * entries$.pipe(batch({ maxItems: 500, maxTime: 1000 }), route(router)).subscribe();
 * ```
 *
 * @see {@link Router}
 */
export function route(router: Router): MonoTypeOperatorFunction<Batch> {
  return (source) =>
    concat(
      router.dispatchAll(source).pipe(
        catchError((err: unknown) => concat(router.close$(err).pipe(ignoreElements()), throwError(() => err))),
      ),
      defer(() => router.close$()).pipe(ignoreElements()),
    );
}
