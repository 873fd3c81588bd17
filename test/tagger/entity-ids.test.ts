/**
 * Entity ids at the tagger's boundaries: what a query accepts (`prefix://id`, printable, at most
 * 4 KiB), what the store accepts from a collector (any well-formed `prefix://id`, bounded), a
 * TagInfo that throws when read, and short ids that a collector declares.
 */
import fc from 'fast-check';
import { EMPTY, Subject, type Observable, of, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  AmbiguousEntityIdError,
  InvalidEntityIdError,
  MAX_ENTITY_ID_LENGTH,
  type TagInfo,
  checkEntityId,
  containerId,
  createTagger,
  isEntityId,
  silentLogger,
  streamCollector,
  tagInfo,
} from '../../src/index.js';
import type { Collector, ShortIdRule } from '../../src/index.js';
import { RecordingLogger } from '../collectors/recording-logger.js';

const HEX_RULE: ShortIdRule = { prefix: 'container_id', isShort: (id) => /^[0-9a-f]{12,63}$/.test(id) };
const FULL_A = containerId(`abcdef012345${'1'.repeat(52)}`);
const FULL_B = containerId(`abcdef012345${'2'.repeat(52)}`);

function collector(input: Observable<TagInfo>, extra: Partial<Pick<Collector, 'fetch' | 'shortIds'>> = {}): Collector {
  return { ...streamCollector('static', input), ...extra };
}

describe('checkEntityId (the query boundary)', () => {
  it('accepts exactly the strings prefix://id of printable characters within the bound', () => {
    const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.tuple(fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 30 })).map(([p, i]) => `${p}://${i}`)), (entity) => {
        const sound = isEntityId(entity) && printable.test(entity) && entity.length <= MAX_ENTITY_ID_LENGTH;
        const error = checkEntityId(entity);
        expect(error === undefined).toBe(sound);
        if (error !== undefined) expect(error).toBeInstanceOf(InvalidEntityIdError);
      }),
      { numRuns: 2000 },
    );
    expect(checkEntityId(containerId('web-1'))).toBeUndefined();
    expect(checkEntityId(containerId('../x'))).toBeUndefined(); // printable: the collector's fetch says "not found"
    expect(checkEntityId(containerId('a\u0000b'))?.reason).toMatch(/printable/);
    expect(checkEntityId(containerId('\ud800'))?.reason).toMatch(/printable/);
    expect(checkEntityId(containerId('x'.repeat(MAX_ENTITY_ID_LENGTH)))?.reason).toMatch(/longer than 4096/);
    expect(checkEntityId(containerId('x'.repeat(MAX_ENTITY_ID_LENGTH - 15)))).toBeUndefined();
  });

  it('tag() and tags$() refuse what it refuses, with a short message', async () => {
    const tagger = createTagger({ logger: silentLogger });
    tagger.start();
    const long = containerId('y'.repeat(MAX_ENTITY_ID_LENGTH));
    await expect(tagger.tag(long)).rejects.toBeInstanceOf(InvalidEntityIdError);
    await expect(tagger.tag(long)).rejects.toThrow(/^.{0,300}$/s);
    await expect(tagger.tag('container_id://a\nb')).rejects.toMatchObject({ tag: 'InvalidEntityId' });
    await expect(new Promise((resolve, reject) => tagger.tags$('container_id://\u0007').subscribe({ next: resolve, error: reject }))).rejects.toBeInstanceOf(InvalidEntityIdError);
    tagger.stop();
  });
});

describe('the store boundary', () => {
  it('keeps any well-formed prefix://id from a collector, and refuses the rest with counted, truncated log lines', async () => {
    const logger = new RecordingLogger();
    const input = new Subject<TagInfo>();
    const tagger = createTagger({ collectors: [collector(input)], logger });
    tagger.start();
    input.next(tagInfo({ entity: containerId('web-1'), source: 'static', low: ['app:web'] }));
    input.next(tagInfo({ entity: 'no-prefix', source: 'static', low: ['a:1'] }));
    input.next(tagInfo({ entity: `container_id://${'z'.repeat(MAX_ENTITY_ID_LENGTH)}`, source: 'static', low: ['a:1'] }));
    input.next(tagInfo({ entity: containerId('c'), source: 's'.repeat(5000), low: ['a:1'] }));
    expect(await tagger.tag(containerId('web-1'))).toEqual(['app:web']);
    expect(tagger.telemetry().rejectedByReason).toEqual({ 'invalid-entity': 1, 'entity-too-long': 1, 'source-too-long': 1 });
    expect(tagger.list().map((l) => l.entity)).toEqual([containerId('web-1')]);
    const warnings = logger.at('warn');
    expect(warnings).toHaveLength(3);
    for (const warning of warnings) expect(JSON.stringify(warning).length).toBeLessThan(600);
    tagger.stop();
  });

  it('counts a TagInfo whose getter throws as a rejection; the stream and the process go on', async () => {
    const input = new Subject<TagInfo>();
    const fetched = new Subject<TagInfo>();
    const tagger = createTagger({ collectors: [collector(input, { fetch: () => fetched })], logger: silentLogger });
    tagger.start();
    const throwing = (field: keyof TagInfo, at: number): TagInfo => {
      let reads = 0;
      const info = { ...tagInfo({ entity: containerId('t'), source: 'static', low: ['t:1'] }) };
      Object.defineProperty(info, field, {
        get() {
          reads += 1;
          if (reads >= at) throw new Error(`${field} exploded`);
          return field === 'entity' ? containerId('t') : field === 'source' ? 'static' : ['t:1'];
        },
      });
      return info;
    };
    for (const field of ['entity', 'source', 'lowCardTags', 'highCardTags'] as const) {
      input.next(throwing(field, 1)); // throws on the first read
      input.next(throwing(field, 2)); // throws only when read again: the store must not read it again
    }
    input.next(new Proxy(tagInfo({ entity: containerId('p'), source: 'static' }), { get: () => { throw new Error('proxy'); } }));
    input.next(tagInfo({ entity: containerId('ok'), source: 'static', low: ['ok:1'] }));
    expect(await tagger.tag(containerId('ok'))).toEqual(['ok:1']);
    expect(tagger.telemetry().rejectedByReason).toEqual({ unreadable: 5 });
    expect(await tagger.tag(containerId('t'))).toEqual(['t:1']);
    tagger.stop();
  });
});

describe('short ids', () => {
  it('answer the one stored entity they begin, and refuse with AmbiguousEntityIdError when they begin several', async () => {
    const input = new Subject<TagInfo>();
    const tagger = createTagger({ collectors: [collector(input, { shortIds: HEX_RULE })], logger: silentLogger });
    tagger.start();
    input.next(tagInfo({ entity: FULL_A, source: 'static', low: ['a:1'] }));
    const short = FULL_A.slice(0, 'container_id://'.length + 12);
    expect(await tagger.tag(short)).toEqual(['a:1']);
    expect(await tagger.tag(FULL_A.slice(0, 'container_id://'.length + 40))).toEqual(['a:1']);
    input.next(tagInfo({ entity: FULL_B, source: 'static', low: ['b:1'] }));
    await expect(tagger.tag(short)).rejects.toBeInstanceOf(AmbiguousEntityIdError);
    await expect(tagger.tag(short)).rejects.toMatchObject({ tag: 'AmbiguousEntityId', matches: 2 });
    expect(await tagger.tag(FULL_B.slice(0, 'container_id://'.length + 13))).toEqual(['b:1']);
    // Not a short id by the rule (11 digits, or not hex): answered as it is, never by prefix.
    expect(await tagger.tag(FULL_A.slice(0, 'container_id://'.length + 11))).toEqual([]);
    expect(await tagger.tag('container_id://abcdef01234z')).toEqual([]);
    tagger.stop();
  });

  it('without a rule, a prefix is just another id', async () => {
    const tagger = createTagger({ collectors: [collector(of(tagInfo({ entity: FULL_A, source: 'static', low: ['a:1'] })))], logger: silentLogger });
    tagger.start();
    expect(await tagger.tag(FULL_A.slice(0, 'container_id://'.length + 12))).toEqual([]);
    tagger.stop();
  });

  it('resolve through fetch, and the ambiguity a fetch reports reaches the query', async () => {
    const asked: string[] = [];
    const fetch = (entity: string): Observable<TagInfo> => {
      asked.push(entity);
      if (entity === containerId('abcdef012345')) return of(tagInfo({ entity: FULL_A, source: 'static', low: ['a:1'] }));
      if (entity === containerId('bbbbbb012345')) return throwError(() => new AmbiguousEntityIdError(entity, 2));
      return EMPTY;
    };
    const tagger = createTagger({ collectors: [collector(EMPTY, { fetch, shortIds: HEX_RULE })], logger: silentLogger });
    tagger.start();
    expect(await tagger.tag(containerId('abcdef012345'))).toEqual(['a:1']);
    await expect(tagger.tag(containerId('bbbbbb012345'))).rejects.toBeInstanceOf(AmbiguousEntityIdError);
    expect(await tagger.tag(containerId('cccccc012345'))).toEqual([]);
    expect(asked).toEqual([containerId('abcdef012345'), containerId('bbbbbb012345'), containerId('cccccc012345')]);
    expect(tagger.telemetry().fetchNotFound).toBe(1);
    tagger.stop();
  });
});
