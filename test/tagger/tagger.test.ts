import { NEVER, Observable, Subject, VirtualAction, VirtualTimeScheduler, defer, finalize, of, throwError, timer, map } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import {
  type Collector,
  type Logger,
  type TagEvent,
  type TagInfo,
  InvalidCardinalityError,
  InvalidEntityIdError,
  SourcePriority,
  TaggerNotRunningError,
  createTagger,
  deleteEntityInfo,
  silentLogger,
  streamCollector,
  tagInfo,
} from '../../src/index.js';

const A = 'container_id://a';

/** Virtual time, advanced explicitly: the prune timer never lets a plain flush() end. */
function virtualTime() {
  return new VirtualTimeScheduler(VirtualAction, 0);
}

/** Runs everything due within the next `ms` virtual milliseconds. */
function advance(scheduler: VirtualTimeScheduler, ms = 500) {
  scheduler.maxFrames = scheduler.frame + ms;
  scheduler.flush();
}
const B = 'container_id://b';

function recordingLogger() {
  const lines: { level: string; message: string; fields: unknown }[] = [];
  const at = (level: string) => (message: string, fields?: unknown) => lines.push({ level, message, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

function setup(extra: Collector[] = [], pruneInterval = 10) {
  const scheduler = virtualTime();
  const updates = new Subject<TagInfo>();
  const tagger = createTagger({
    collectors: [streamCollector('docker', updates), ...extra],
    pruneInterval,
    scheduler,
    logger: silentLogger,
  });
  tagger.start();
  return { scheduler, updates, tagger };
}

describe('Tagger queries', () => {
  it('answers tag() with the stored tags, cumulative by cardinality, low by default', async () => {
    const { updates, tagger } = setup();
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['image_name:redis'], orchestrator: ['pod_name:p'], high: ['container_id:a'] }));
    expect(await tagger.tag(A)).toEqual(['image_name:redis']);
    expect(await tagger.tag(A, 'orchestrator')).toEqual(['image_name:redis', 'pod_name:p']);
    expect(await tagger.tag(A, 'high')).toEqual(['image_name:redis', 'pod_name:p', 'container_id:a']);
    expect(await tagger.tag(B)).toEqual([]);
    expect(tagger.storedTags(A, 'high')).toHaveLength(3);
    tagger.stop();
  });

  it('hands out copies: mutating an answer does not change the store', async () => {
    const { updates, tagger } = setup();
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['a:1'] }));
    const answer = await tagger.tag(A);
    answer.push('injected:1');
    expect(await tagger.tag(A)).toEqual(['a:1']);
    tagger.stop();
  });

  it('rejects a malformed entity id or cardinality with typed errors', async () => {
    const { tagger } = setup();
    await expect(tagger.tag('no-prefix')).rejects.toBeInstanceOf(InvalidEntityIdError);
    await expect(tagger.tag(A, 'medium' as never)).rejects.toBeInstanceOf(InvalidCardinalityError);
    await expect(new Promise((resolve, reject) => tagger.tags$('').subscribe({ next: resolve, error: reject }))).rejects.toBeInstanceOf(InvalidEntityIdError);
    tagger.stop();
  });

  it('rejects queries before start and after stop; stop is idempotent and tears collectors down', async () => {
    let unsubscribed = 0;
    const tagger = createTagger({
      collectors: [streamCollector('docker', NEVER.pipe(finalize(() => (unsubscribed += 1))))],
      logger: silentLogger,
    });
    await expect(tagger.tag(A)).rejects.toBeInstanceOf(TaggerNotRunningError);
    tagger.start();
    tagger.start();
    expect(await tagger.tag(A)).toEqual([]);
    tagger.stop();
    tagger.stop();
    expect(unsubscribed).toBe(1);
    await expect(tagger.tag(A)).rejects.toMatchObject({ tag: 'TaggerNotRunning', state: 'stopped' });
    expect(() => tagger.start()).toThrow(TaggerNotRunningError);
  });

  it('lists stored entities with their sources, highest priority first', () => {
    const updates = new Subject<TagInfo>();
    const kube = new Subject<TagInfo>();
    const tagger = createTagger({
      collectors: [streamCollector('docker', updates), streamCollector('kubelet', kube, { priority: SourcePriority.NodeOrchestrator })],
      logger: silentLogger,
    });
    tagger.start();
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['a:1'] }));
    kube.next(tagInfo({ entity: A, source: 'kubelet', low: ['b:1'] }));
    expect(tagger.list()).toEqual([{ entity: A, sources: ['kubelet', 'docker'], tags: expect.objectContaining({ low: ['b:1', 'a:1'] }) }]);
    expect(tagger.telemetry()).toMatchObject({ entities: 1, entitiesBySource: { docker: 1, kubelet: 1 }, updates: 2 });
    tagger.stop();
  });
});

describe('Tagger streams', () => {
  it('tags$ emits the current tags, then each distinct change, then [] once deleted, and completes on stop', () => {
    const { scheduler, updates, tagger } = setup();
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['v:1'] }));
    const seen: string[][] = [];
    let completed = false;
    tagger.tags$(A).subscribe({ next: (t) => seen.push(t), complete: () => (completed = true) });
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['v:1'], high: ['h:1'] })); // not a low change
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['v:2'] }));
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['v:2'] })); // identical
    updates.next(deleteEntityInfo(A, 'docker'));
    expect(seen).toEqual([['v:1'], ['v:2']]);
    advance(scheduler);
    expect(seen).toEqual([['v:1'], ['v:2'], []]);
    tagger.stop();
    expect(completed).toBe(true);
  });

  it('wakes a tags$ subscriber only for its own entity', () => {
    const { updates, tagger } = setup();
    let wakes = 0;
    tagger.tags$(A).subscribe(() => (wakes += 1));
    for (let i = 0; i < 50; i++) updates.next(tagInfo({ entity: `container_id://other${i}`, source: 'docker', low: [`n:${i}`] }));
    expect(wakes).toBe(1);
    expect(tagger.telemetry().watchedEntities).toBe(1);
    tagger.stop();
  });

  it('events$ begins with an added burst of what is stored, then streams changes at its cardinality and prefix', () => {
    const { scheduler, updates, tagger } = setup();
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['a:1'] }));
    updates.next(tagInfo({ entity: 'kubernetes_pod_uid://p', source: 'docker', low: ['p:1'] }));
    const events: TagEvent[] = [];
    tagger.events$({ prefix: 'container_id://', cardinality: 'low' }).subscribe((e) => events.push(e));
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['a:1'], high: ['h:1'] })); // low unchanged: no event
    updates.next(tagInfo({ entity: B, source: 'docker', low: ['b:1'] }));
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['a:2'] }));
    updates.next(tagInfo({ entity: 'kubernetes_pod_uid://p', source: 'docker', low: ['p:2'] }));
    updates.next(deleteEntityInfo(B, 'docker'));
    advance(scheduler);
    expect(events).toEqual([
      // Nobody declares what it covers: an entity is complete at its first report.
      { type: 'added', entity: A, tags: ['a:1'], complete: true },
      { type: 'added', entity: B, tags: ['b:1'], complete: true },
      { type: 'modified', entity: A, tags: ['a:2'], complete: true },
      { type: 'deleted', entity: B, tags: [], complete: false },
    ]);
    tagger.stop();
  });
});

describe('Tagger input checks', () => {
  it('refuses bad TagInfo with a counted, logged rejection, and the stream goes on', async () => {
    const { logger, lines } = recordingLogger();
    const updates = new Subject<TagInfo>();
    const tagger = createTagger({ collectors: [streamCollector('docker', updates)], logger });
    tagger.start();
    updates.next(tagInfo({ entity: '', source: 'docker', low: ['a:1'] }));
    updates.next(tagInfo({ entity: A, source: '', low: ['a:1'] }));
    updates.next({ ...tagInfo({ entity: A, source: 'docker' }), lowCardTags: [42] } as unknown as TagInfo);
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['x'.repeat(201)] }));
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['ok:1', 'secret-value-should-not-be-logged'.repeat(10)] }));
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['ok:1'] }));
    expect(await tagger.tag(A)).toEqual(['ok:1']);
    const t = tagger.telemetry();
    expect(t.rejected).toBe(5);
    expect(t.rejectedByReason).toEqual({ 'empty-entity': 1, 'empty-source': 1, 'tag-not-a-string': 1, 'tag-too-long': 2 });
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(5);
    expect(JSON.stringify(lines)).not.toContain('secret-value');
    tagger.stop();
  });

  it('resubscribes a failed collector stream with backoff and counts the error', () => {
    const scheduler = virtualTime();
    let subscriptions = 0;
    const flaky = defer(() => {
      subscriptions += 1;
      return subscriptions === 1
        ? throwError(() => new Error('daemon gone'))
        : of(tagInfo({ entity: A, source: 'docker', low: ['back:1'] }));
    });
    const tagger = createTagger({ collectors: [streamCollector('docker', flaky)], scheduler, logger: silentLogger, collectorRetryDelay: 100 });
    tagger.start();
    expect(tagger.storedTags(A)).toEqual([]);
    advance(scheduler);
    expect(subscriptions).toBe(2);
    expect(tagger.storedTags(A)).toEqual(['back:1']);
    expect(tagger.telemetry().collectorErrors).toBe(1);
    tagger.stop();
  });

  it('refuses non-positive durations in its options', () => {
    expect(() => createTagger({ pruneInterval: 0 })).toThrow(RangeError);
    expect(() => createTagger({ fetchTimeout: -1 })).toThrow(/fetchTimeout/);
  });
});

/** A fetch-only collector whose answers are delayed on the scheduler; counts calls. */
function fetcher(scheduler: VirtualTimeScheduler, answer: (entity: string) => TagInfo[] | Error, delay = 5) {
  const calls: string[] = [];
  const collector: Collector = {
    source: 'ecs',
    priority: SourcePriority.NodeOrchestrator,
    mode: 'fetch',
    fetch: (entity) =>
      new Observable<TagInfo>((subscriber) => {
        calls.push(entity);
        return timer(delay, scheduler)
          .pipe(map(() => answer(entity)))
          .subscribe((result) => {
            if (result instanceof Error) subscriber.error(result);
            else {
              result.forEach((r) => subscriber.next(r));
              subscriber.complete();
            }
          });
      }),
  };
  return { collector, calls };
}

const ecsInfo = (entity: string, tag: string) => tagInfo({ entity, source: 'ecs', low: [tag] });

describe('Tagger fetch on miss', () => {
  it('fetches what the store lacks, answers with it, and stores every TagInfo of the look-up', async () => {
    const scheduler = virtualTime();
    const { collector, calls } = fetcher(scheduler, () => [ecsInfo(A, 'task_family:web'), ecsInfo(B, 'task_family:web')]);
    const { updates, tagger } = setupWith(scheduler, collector);
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['image_name:nginx'] }));
    const answer = tagger.tag(A);
    advance(scheduler);
    expect((await answer).sort()).toEqual(['image_name:nginx', 'task_family:web']);
    expect(calls).toEqual([A]);
    // B came with the same look-up: answered without a second fetch.
    expect(await tagger.tag(B)).toEqual(['task_family:web']);
    expect(calls).toEqual([A]);
    tagger.stop();
  });

  it('shares one fetch among concurrent misses for an entity', async () => {
    const scheduler = virtualTime();
    const { collector, calls } = fetcher(scheduler, (e) => [ecsInfo(e, 'x:1')]);
    const { tagger } = setupWith(scheduler, collector);
    const answers = [tagger.tag(A), tagger.tag(A, 'high'), tagger.tag(A)];
    const live: string[][] = [];
    tagger.tags$(A).subscribe((t) => live.push(t));
    advance(scheduler);
    expect(await Promise.all(answers)).toEqual([['x:1'], ['x:1'], ['x:1']]);
    expect(live).toEqual([['x:1']]);
    expect(calls).toEqual([A]);
    expect(tagger.telemetry().fetches).toBe(1);
    tagger.stop();
  });

  it('answers with what is stored when the fetch times out or fails, and counts it', async () => {
    const scheduler = virtualTime();
    const slow = fetcher(scheduler, (e) => [ecsInfo(e, 'late:1')], 50);
    const { updates, tagger } = setupWith(scheduler, slow.collector, { fetchTimeout: 20 });
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['d:1'] }));
    const answer = tagger.tag(A);
    advance(scheduler);
    expect(await answer).toEqual(['d:1']);
    expect(tagger.telemetry()).toMatchObject({ fetchTimeouts: 1, fetchErrors: 0 });
    tagger.stop();

    const scheduler2 = virtualTime();
    const broken = fetcher(scheduler2, () => new Error('metadata endpoint down'));
    const second = setupWith(scheduler2, broken.collector);
    const failed = second.tagger.tag(A);
    advance(scheduler2);
    expect(await failed).toEqual([]);
    expect(second.tagger.telemetry()).toMatchObject({ fetchErrors: 1 });
    second.tagger.stop();
  });

  it('remembers not-found for notFoundTtl, then asks again', async () => {
    const scheduler = virtualTime();
    const { collector, calls } = fetcher(scheduler, () => []);
    const { tagger } = setupWith(scheduler, collector, { notFoundTtl: 1000 });
    const first = tagger.tag(A);
    advance(scheduler);
    expect(await first).toEqual([]);
    expect(await tagger.tag(A)).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(tagger.telemetry()).toMatchObject({ fetchNotFound: 1, negativeCacheHits: 1 });
    advance(scheduler, 2000);
    const later = tagger.tag(A);
    advance(scheduler);
    await later;
    expect(calls).toHaveLength(2);
    tagger.stop();
  });

  it('never fetches an entity whose delete is pending, nor lets a fetch bring a deleted entity back', async () => {
    const scheduler = virtualTime();
    const { collector, calls } = fetcher(scheduler, (e) => [ecsInfo(e, 'x:1')], 30);
    const { updates, tagger } = setupWith(scheduler, collector, { pruneInterval: 10, fetchTimeout: 100 });
    updates.next(tagInfo({ entity: A, source: 'docker', low: ['d:1'] }));
    updates.next(deleteEntityInfo(A, 'docker'));
    expect(await tagger.tag(A)).toEqual(['d:1']);
    expect(calls).toEqual([]);

    // B's fetch starts, then B is deleted and pruned before the answer lands.
    const answer = tagger.tag(B);
    updates.next(deleteEntityInfo(B, 'docker'));
    advance(scheduler);
    expect(calls).toEqual([B]);
    expect(await answer).toEqual([]);
    expect(tagger.storedTags(B)).toEqual([]);
    expect(tagger.telemetry().fetchDiscarded).toBe(1);
    tagger.stop();
  });

  it('does not fetch when the store already holds the fetching source', async () => {
    const scheduler = virtualTime();
    const { collector, calls } = fetcher(scheduler, (e) => [ecsInfo(e, 'x:1')]);
    const { tagger } = setupWith(scheduler, collector);
    const first = tagger.tag(A);
    advance(scheduler);
    await first;
    const spy = vi.fn();
    tagger.tags$(A).subscribe(spy);
    expect(await tagger.tag(A)).toEqual(['x:1']);
    expect(spy).toHaveBeenCalledWith(['x:1']);
    expect(calls).toHaveLength(1);
    tagger.stop();
  });
});

function setupWith(
  scheduler: VirtualTimeScheduler,
  collector: Collector,
  options: { fetchTimeout?: number; notFoundTtl?: number; pruneInterval?: number } = {},
) {
  const updates = new Subject<TagInfo>();
  const tagger = createTagger({
    collectors: [streamCollector('docker', updates), collector],
    pruneInterval: options.pruneInterval ?? 10,
    fetchTimeout: options.fetchTimeout ?? 100,
    notFoundTtl: options.notFoundTtl ?? 1000,
    scheduler,
    logger: silentLogger,
  });
  tagger.start();
  return { updates, tagger };
}
