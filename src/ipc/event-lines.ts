import {
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
  Observable as RxObservable,
  connect,
  defer,
  distinctUntilChanged,
  endWith,
  filter,
  ignoreElements,
  map,
  merge,
  takeUntil,
  tap,
} from 'rxjs';
import type { TagEvent, TagEventsFilter, Tagger } from '../tagger/contract.js';
import type { TagCardinality } from '../tagger/types.js';
import { sameArray } from '../util/arrays.js';
import type { EventLine, StreamLine } from './protocol.js';
import { unrefTimer } from '../util/unref-timer.js';

/** What {@link eventLines} streams. */
export interface EventLinesOptions {
  /** The cardinality of the tags in each event (ignored with `levels`, which streams `high`). */
  readonly cardinality: TagCardinality;
  /** Only entities whose id starts with one of these; all when empty. */
  readonly prefixes: readonly string[];
  /** Stream at `high` with the number of low and orchestrator tags in each event (what mirrors need). */
  readonly levels: boolean;
  /** A `keepalive` line after this many idle milliseconds. */
  readonly keepAliveInterval: number;
  /** The scheduler of the keep-alive timer. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
}

const KEEPALIVE: StreamLine = Object.freeze({ type: 'keepalive' });

/**
 * A Tagger's events as protocol lines: the `added` burst of everything stored, one `synced` line,
 * then each change, with a `keepalive` line whenever the stream is idle for `keepAliveInterval`.
 * Completes when the tagger's events complete (the tagger stopped).
 *
 * The burst is what the tagger's `events$` emits while it is being subscribed to (synchronously,
 * as the local tagger and the remote tagger both do).
 *
 * @example
 * ```ts
 * eventLines(tagger, { cardinality: 'low', prefixes: [], levels: false, keepAliveInterval: 15_000 })
 *   .subscribe((line) => res.write(encodeLine(line)));
 * ```
 */
export function eventLines(tagger: Pick<Tagger, 'events$' | 'storedTags' | 'storedCompleteness'>, options: EventLinesOptions): Observable<StreamLine> {
  return followedLines(tagger, options, prefixFilter(options)).pipe(markBurstEnd(), keepAlive(options.keepAliveInterval, options.scheduler));
}

/**
 * The lines of a stream after its burst: each change from now on (no `added` burst, no `synced`
 * line), with a `keepalive` line whenever the stream is idle for `keepAliveInterval`. With
 * {@link storedLines} and {@link currentLine}, what a server writes at the pace of its reader.
 *
 * @example
 * ```ts
 * changeLines(tagger, { cardinality: 'high', prefixes: [], levels: false, keepAliveInterval: 15_000 })
 *   .subscribe((line) => res.write(encodeLine(line)));
 * ```
 */
export function changeLines(tagger: Pick<Tagger, 'events$' | 'storedTags' | 'storedCompleteness'>, options: EventLinesOptions): Observable<StreamLine> {
  return followedLines(tagger, options, { burst: false, ...prefixFilter(options) }).pipe(keepAlive(options.keepAliveInterval, options.scheduler));
}

/**
 * The `added` line of every stored entity that matches the options, built only as the iterator is
 * advanced (a stream's burst, pulled as its reader takes it): nothing is copied up front. Each
 * carries `complete` where the tagger says it (`storedCompleteness`).
 *
 * @example
 * ```ts
 * for (const line of storedLines(tagger, { cardinality: 'low', prefixes: [], levels: false, keepAliveInterval: 15_000 })) {
 *   if (!res.write(encodeLine(line))) break; // and go on at 'drain'
 * }
 * ```
 */
export function* storedLines(tagger: Pick<Tagger, 'storedEntries' | 'storedCompleteness'>, options: EventLinesOptions): Generator<EventLine, void, undefined> {
  const prefixes = options.prefixes;
  for (const [entity, tags] of tagger.storedEntries()) {
    if (prefixes.length > 0 && !prefixes.some((p) => entity.startsWith(p))) continue;
    const line: EventLine = options.levels
      ? { type: 'added', entity, tags: tags.high, levels: { low: tags.low.length, orchestrator: tags.orchestrator.length } }
      : { type: 'added', entity, tags: tags[options.cardinality] };
    yield withComplete(line, tagger.storedCompleteness?.(entity)?.complete);
  }
}

/** The line with `complete`, when it is known. */
function withComplete(line: EventLine, complete: boolean | undefined): EventLine {
  return complete === undefined ? line : { ...line, complete };
}

/**
 * The line that brings a reader who has seen an entity up to date with it now: `modified` with its
 * stored tags, or `deleted` when it is gone (`present` false).
 *
 * @example
 * ```ts
 * currentLine(tagger, 'container_id://a', true, options); // { type: 'modified', entity, tags: [...] }
 * ```
 */
export function currentLine(tagger: Pick<Tagger, 'storedTags' | 'storedCompleteness'>, entity: string, present: boolean, options: EventLinesOptions): EventLine {
  const type = present ? 'modified' : 'deleted';
  const complete = tagger.storedCompleteness === undefined ? undefined : present && tagger.storedCompleteness(entity)?.complete === true;
  if (options.levels) return levelsLine(tagger, type, entity, complete);
  return withComplete({ type, entity, tags: present ? tagger.storedTags(entity, options.cardinality) : [] }, complete);
}

/** The tagger's events of `options` (with levels, or at one cardinality) as protocol lines. */
function followedLines(tagger: Pick<Tagger, 'events$' | 'storedTags' | 'storedCompleteness'>, options: EventLinesOptions, base: TagEventsFilter): Observable<EventLine> {
  return options.levels ? levelEvents(tagger, base) : tagger.events$({ ...base, cardinality: options.cardinality }).pipe(map(plainLine));
}

function prefixFilter(options: EventLinesOptions): TagEventsFilter {
  return options.prefixes.length === 0 ? {} : { prefix: options.prefixes };
}

function plainLine(event: TagEvent): EventLine {
  return withComplete({ type: event.type, entity: event.entity, tags: event.tags }, event.complete);
}

/**
 * A line with levels for an entity as stored now: its `high` tags and how many are low and
 * orchestrator; none once deleted. `complete` as given (absent when undefined).
 */
function levelsLine(tagger: Pick<Tagger, 'storedTags'>, type: EventLine['type'], entity: string, complete: boolean | undefined): EventLine {
  if (type === 'deleted') return withComplete({ type, entity, tags: [], levels: { low: 0, orchestrator: 0 } }, complete);
  return withComplete(
    {
      type,
      entity,
      tags: tagger.storedTags(entity, 'high'),
      levels: { low: tagger.storedTags(entity, 'low').length, orchestrator: tagger.storedTags(entity, 'orchestrator').length },
    },
    complete,
  );
}

/**
 * Events at `high` with levels. A change that moves tags between cardinalities without changing
 * the `high` answer shows only in the `low` or `orchestrator` events, so those are followed too
 * (their `modified` events only: `added` and `deleted` show at every cardinality); one change seen
 * by several gives identical consecutive lines, and the repeats are dropped.
 */
function levelEvents(tagger: Pick<Tagger, 'events$' | 'storedTags'>, base: TagEventsFilter): Observable<EventLine> {
  const withLevels = (event: TagEvent): EventLine => levelsLine(tagger, event.type, event.entity, event.complete);
  const narrower$ = (cardinality: TagCardinality): Observable<TagEvent> =>
    tagger.events$({ ...base, cardinality }).pipe(filter((event) => event.type === 'modified'));
  return merge(tagger.events$({ ...base, cardinality: 'high' }), narrower$('low'), narrower$('orchestrator')).pipe(
    map(withLevels),
    distinctUntilChanged(sameLine),
  );
}

function sameLine(a: EventLine, b: EventLine): boolean {
  return (
    a.type === b.type &&
    a.entity === b.entity &&
    sameArray(a.tags, b.tags) &&
    a.levels?.low === b.levels?.low &&
    a.levels?.orchestrator === b.levels?.orchestrator &&
    a.complete === b.complete
  );
}

/** Emits a `synced` line once the events emitted during subscription (the burst) are through. */
function markBurstEnd(): (source: Observable<EventLine>) => Observable<StreamLine> {
  // The end of a synchronous burst is a moment of the subscription itself, which no operator names.
  return (source) =>
    new RxObservable<StreamLine>((subscriber) => {
      let burst: number | undefined = 0;
      const subscription = source.subscribe({
        next: (line) => {
          if (burst !== undefined) burst += 1;
          subscriber.next(line);
        },
        error: (error: unknown) => {
          subscriber.error(error);
        },
        complete: () => {
          subscriber.complete();
        },
      });
      const entities = burst;
      burst = undefined;
      if (!subscriber.closed) subscriber.next({ type: 'synced', entities });
      return subscription;
    });
}

/**
 * Adds a keep-alive line at each tick of `interval` during which no line went out (so an idle stream
 * carries one every `interval` to `2 * interval`); ends with the source. A counter, not a timer reset
 * per line: a busy stream costs nothing more.
 */
function keepAlive(interval: number, scheduler: SchedulerLike | undefined): MonoTypeOperatorFunction<StreamLine> {
  return (source) =>
    defer(() => {
      let busy = true;
      return source.pipe(
        tap(() => (busy = true)),
        connect((shared) =>
          merge(
            shared,
            unrefTimer(interval, interval, scheduler).pipe(
              filter(() => {
                const idle = !busy;
                busy = false;
                return idle;
              }),
              map(() => KEEPALIVE),
              takeUntil(shared.pipe(ignoreElements(), endWith(undefined))),
            ),
          ),
        ),
      );
    });
}
