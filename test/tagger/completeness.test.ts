import { Subject, Subscription, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Collector, InvalidEntityIdError, type TagEvent, type TagInfo, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';
import type { EntityTags } from '../../src/tagger/contract.js';
import { ReadSide } from '../../src/tagger/read-side.js';
import { createTelemetryCounters } from '../../src/tagger/telemetry.js';

const A = 'container_id://a';

/** A runtime (stream) and a fetch-only kubelet, both covering containers; the kubelet answers when told. */
function twoSources() {
  const runtime = new Subject<TagInfo>();
  const asked: string[] = [];
  const answers = new Subject<TagInfo>();
  const kubelet: Collector = {
    source: 'kubelet',
    priority: 1,
    mode: 'fetch',
    covers: ['container_id'],
    fetch: (entity) => {
      asked.push(entity);
      return answers;
    },
  };
  const tagger = createTagger({ collectors: [{ ...streamCollector('runtime', runtime), covers: ['container_id'] }, kubelet], fetchTimeout: 10_000, logger: silentLogger });
  tagger.start();
  return { tagger, runtime, answers, asked };
}

describe('completeness (two fake collectors, real time)', () => {
  it('the runtime reporting a container asks the fetch-only kubelet at once, with no query; lookup resolves complete as soon as it answers', async () => {
    const { tagger, runtime, answers, asked } = twoSources();
    runtime.next(tagInfo({ entity: A, source: 'runtime', high: ['container_name:web'] }));
    expect(asked).toEqual([A]); // the early ask: nobody queried
    const started = Date.now();
    const answer = tagger.lookup(A, { cardinality: 'high', waitForComplete: 5000 });
    const events: TagEvent[] = [];
    tagger.events$({ cardinality: 'high' }).subscribe((e) => events.push(e));
    setTimeout(() => {
      answers.next(tagInfo({ entity: A, source: 'kubelet', orchestrator: ['pod_name:web-1'] }));
      answers.complete();
    }, 20);
    await expect(answer).resolves.toEqual({ tags: ['pod_name:web-1', 'container_name:web'], complete: true, missing: [] });
    expect(Date.now() - started).toBeLessThan(2000); // long before the 5 s deadline
    expect(asked).toEqual([A]); // the lookup joined the ask in flight
    expect(events.map((e) => [e.type, e.complete])).toEqual([
      ['added', false],
      ['modified', true],
    ]);
    expect(tagger.telemetry().completeness.delayMs.container_id?.count).toBe(1);
    tagger.stop();
  });

  it('a lookup answers incomplete at its deadline, never rejecting for it, and says what is missing', async () => {
    const { tagger, runtime } = twoSources();
    runtime.next(tagInfo({ entity: A, source: 'runtime', low: ['image_name:redis'] }));
    await expect(tagger.lookup(A, { waitForComplete: 30 })).resolves.toEqual({ tags: ['image_name:redis'], complete: false, missing: ['kubelet'] });
    expect(tagger.telemetry().completeness.lookupsIncompleteAtDeadline).toBe(1);
    expect(tagger.telemetry().completeness.incompleteEntities).toBe(1);
    tagger.stop();
  });

  it('an entity nobody reported is not complete; an entity nobody expects is complete at its first report', async () => {
    const runtime = new Subject<TagInfo>();
    const tagger = createTagger({ collectors: [streamCollector('runtime', runtime)], logger: silentLogger });
    tagger.start();
    await expect(tagger.lookup(A, { waitForComplete: 10 })).resolves.toEqual({ tags: [], complete: false, missing: [] });
    runtime.next(tagInfo({ entity: A, source: 'runtime', low: ['x:1'] }));
    await expect(tagger.lookup(A, { waitForComplete: 10_000 })).resolves.toEqual({ tags: ['x:1'], complete: true, missing: [] });
    tagger.stop();
  });

  it('rejects as tag() does for a bad id, and a RangeError for a bad waitForComplete', async () => {
    const { tagger } = twoSources();
    await expect(tagger.lookup('nope', { waitForComplete: 10 })).rejects.toBeInstanceOf(InvalidEntityIdError);
    await expect(tagger.lookup(A, { waitForComplete: -1 })).rejects.toBeInstanceOf(RangeError);
    await expect(tagger.lookup(A, { waitForComplete: Number.NaN })).rejects.toBeInstanceOf(RangeError);
    tagger.stop();
  });

  it('refuses a negative completenessRetryDelays entry', () => {
    expect(() => createTagger({ completenessRetryDelays: [250, -1] })).toThrow(/completenessRetryDelays\[1\]/);
  });
});

describe('completeness where the store cannot know it (the IPC client)', () => {
  it('answers at once, complete: false, missing: ["unknown"], and its events carry no `complete`', async () => {
    const tags: EntityTags = { low: ['x:1'], orchestrator: ['x:1'], high: ['x:1'] };
    const entities = new Map([[A, tags]]);
    const reads = new ReadSide(
      {
        read: (entity, cardinality) => entities.get(entity)?.[cardinality] ?? [],
        entries: () => entities.entries(),
        sources: () => [],
        bySource: () => [],
        gauges: () => ({ entities: entities.size, entitiesBySource: {}, pendingDeletes: 0, internedStrings: 0 }),
      },
      createTelemetryCounters(),
      (entity) => (entities.has(entity) ? undefined : { answer: of(['y:1']) }),
    );
    reads.start(() => new Subscription());
    await expect(reads.lookup(A, { waitForComplete: 60_000 })).resolves.toEqual({ tags: ['x:1'], complete: false, missing: ['unknown'] });
    await expect(reads.lookup('container_id://b', { waitForComplete: 60_000 })).resolves.toEqual({ tags: ['y:1'], complete: false, missing: ['unknown'] });
    const events: TagEvent[] = [];
    reads.events$().subscribe((e) => events.push(e));
    expect(events).toEqual([{ type: 'added', entity: A, tags: ['x:1'] }]);
    reads.stop();
  });
});
