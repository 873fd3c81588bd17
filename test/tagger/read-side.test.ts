import { NEVER, Subject, Subscription, firstValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TaggerNotRunningError } from '../../src/index.js';
import type { EntityTags } from '../../src/tagger/contract.js';
import { type MissPolicy, ReadSide, type StoreReader } from '../../src/tagger/read-side.js';
import { createTelemetryCounters } from '../../src/tagger/telemetry.js';

const A = 'container_id://a';
const FULL = 'container_id://abcdef';

/** A store that is a Map, as a mirror is. */
function mapStore(entities: Map<string, EntityTags>): StoreReader {
  return {
    read: (entity, cardinality) => entities.get(entity)?.[cardinality] ?? [],
    entries: () => entities.entries(),
    sources: () => [],
    bySource: () => [],
    gauges: () => ({ entities: entities.size, entitiesBySource: {}, pendingDeletes: 0, internedStrings: 0 }),
  };
}

const tags = (...low: string[]): EntityTags => ({ low, orchestrator: low, high: low });

function readSide(miss: MissPolicy, entities = new Map<string, EntityTags>()) {
  const counters = createTelemetryCounters();
  const reads = new ReadSide(mapStore(entities), counters, miss);
  reads.start(() => new Subscription());
  return { reads, entities, counters };
}

describe('ReadSide', () => {
  it('answers from the store when the miss policy says nothing is missing, and counts the answer', async () => {
    const { reads, counters } = readSide(() => undefined, new Map([[A, tags('env:prod')]]));
    expect(await reads.tag(A)).toEqual(['env:prod']);
    expect(await reads.tag('container_id://none')).toEqual([]);
    expect(counters.queries.low).toEqual({ found: 1, empty: 1 });
  });

  it('on a `read` miss, waits for it and reads the entity it names (a short id resolved)', async () => {
    const fetched = new Subject<string>();
    const { reads, entities } = readSide((entity) => (entity === 'container_id://abc' ? { read: fetched } : undefined));
    const answer = reads.tag('container_id://abc');
    const live: string[][] = [];
    reads.tags$('container_id://abc').subscribe((t) => live.push(t));
    entities.set(FULL, tags('found:1'));
    fetched.next(FULL);
    fetched.complete();
    expect(await answer).toEqual(['found:1']);
    expect(live).toEqual([['found:1']]);
    // The live stream follows the full entity.
    entities.set(FULL, tags('found:2'));
    reads.emit([{ entity: FULL, before: tags('found:1'), after: tags('found:2') }]);
    expect(live).toEqual([['found:1'], ['found:2']]);
  });

  it('on an `answer` miss, gives the answer first unless a change of the entity reaches the store before it', () => {
    const server = new Subject<readonly string[]>();
    const { reads, entities } = readSide((entity) => (entities.has(entity) ? undefined : { answer: server }));
    const live: string[][] = [];
    reads.tags$(A).subscribe((t) => live.push(t));
    entities.set(A, tags('from:store'));
    reads.emit([{ entity: A, before: undefined, after: tags('from:store') }]);
    server.next(['from:server']);
    expect(live).toEqual([['from:store']]);

    const other: string[][] = [];
    const B = 'container_id://b';
    reads.tags$(B).subscribe((t) => other.push(t));
    server.next(['from:server']);
    expect(other).toEqual([['from:server']]);
  });

  it('completes every live stream on stop, an answer still in flight included', () => {
    const { reads } = readSide(() => ({ answer: NEVER }));
    let completed = 0;
    reads.tags$(A).subscribe({ complete: () => (completed += 1) });
    reads.events$().subscribe({ complete: () => (completed += 1) });
    expect(reads.stop()).toBe(true);
    expect(reads.stop()).toBe(false);
    expect(completed).toBe(2);
  });

  it('answers only while running: before start, and after stop, with TaggerNotRunningError', async () => {
    const reads = new ReadSide(mapStore(new Map()), createTelemetryCounters(), () => undefined);
    await expect(reads.tag(A)).rejects.toEqual(new TaggerNotRunningError('created'));
    let runs = 0;
    reads.start(() => {
      runs += 1;
      return new Subscription();
    });
    reads.start(() => new Subscription());
    expect(runs).toBe(1);
    reads.stop();
    await expect(firstValueFrom(reads.tags$(A))).rejects.toBeInstanceOf(TaggerNotRunningError);
    expect(() => reads.start(() => of(1).subscribe())).toThrow(TaggerNotRunningError);
  });
});
