import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type TagEvent, type TagInfo, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';

function started(): { input: Subject<TagInfo>; tagger: ReturnType<typeof createTagger> } {
  const input = new Subject<TagInfo>();
  const tagger = createTagger({ collectors: [streamCollector('static', input)], logger: silentLogger, pruneInterval: 60_000 });
  tagger.start();
  return { input, tagger };
}

const put = (input: Subject<TagInfo>, entity: string, low: string[]): void => {
  input.next(tagInfo({ entity, source: 'static', low, orchestrator: [], high: [] }));
};

describe('Tagger.storedEntries and events$({ burst: false })', () => {
  it('reads the live store lazily: an entity added before the end is visited, tags as they are when visited', () => {
    const { input, tagger } = started();
    put(input, 'container_id://a', ['v:1']);
    put(input, 'container_id://b', ['v:1']);
    const iterator = tagger.storedEntries()[Symbol.iterator]();
    const first = iterator.next();
    expect(first.done === true ? undefined : first.value[0]).toBe('container_id://a');
    put(input, 'container_id://b', ['v:2']);
    put(input, 'container_id://c', ['v:1']);
    const rest = [...{ [Symbol.iterator]: () => iterator }].map(([entity, tags]) => [entity, tags.low]);
    expect(rest).toEqual([
      ['container_id://b', ['v:2']],
      ['container_id://c', ['v:1']],
    ]);
    tagger.stop();
  });

  it('streams the changes only with burst: false, and the burst first otherwise', () => {
    const { input, tagger } = started();
    put(input, 'container_id://a', ['v:1']);
    const withBurst: TagEvent[] = [];
    const changesOnly: TagEvent[] = [];
    tagger.events$().subscribe((e) => withBurst.push(e));
    tagger.events$({ burst: false }).subscribe((e) => changesOnly.push(e));
    put(input, 'container_id://a', ['v:2']);
    expect(withBurst.map((e) => e.type)).toEqual(['added', 'modified']);
    expect(changesOnly).toEqual([{ type: 'modified', entity: 'container_id://a', tags: ['v:2'], complete: true }]);
    tagger.stop();
  });
});
