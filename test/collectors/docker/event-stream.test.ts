/**
 * The event stream reader and the container event parser, on a fake `getEvents` (a PassThrough
 * stands for the daemon's HTTP response): line splitting across chunks, malformed lines,
 * the end of the stream, teardown.
 */
import { PassThrough } from 'node:stream';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseContainerEvent } from '../../../src/collectors/docker/container-event.js';
import { openEventStream } from '../../../src/collectors/docker/event-stream.js';
import type { DockerEventSource, EventStreamItem } from '../../../src/collectors/docker/event-stream.js';

function fakeSource(stream: PassThrough, asked: unknown[] = []): DockerEventSource {
  return {
    getEvents: ((options: unknown) => {
      asked.push(options);
      return Promise.resolve(stream);
    }) as DockerEventSource['getEvents'],
  };
}

describe('parseContainerEvent', () => {
  it('reads a container start, die, destroy or rename', () => {
    expect(parseContainerEvent({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: {} }, time: 1700000000, timeNano: 1_700_000_000_123_456_800 })).toEqual({
      action: 'start',
      id: 'abc',
      time: 1700000000,
    });
    expect(parseContainerEvent({ status: 'die', id: 'abc', time: 1 })).toEqual({ action: 'die', id: 'abc', time: 1 });
  });

  it.each([
    [{ Type: 'network', Action: 'connect', Actor: { ID: 'n' } }],
    [{ Type: 'container', Action: 'exec_start: sh', Actor: { ID: 'abc' } }],
    [{ Type: 'container', Action: 'start', Actor: { ID: '' } }],
    [{ Type: 'container', Action: 'start' }],
    [null],
    ['start'],
    [[1, 2]],
  ])('ignores %j', (message) => {
    expect(parseContainerEvent(message)).toBeUndefined();
  });
});

describe('openEventStream', () => {
  it('asks for container events since the given time, opens, then splits lines across chunks', async () => {
    const stream = new PassThrough();
    const asked: unknown[] = [];
    const items = lastValueFrom(openEventStream(fakeSource(stream, asked), 1700000000).pipe(take(4), toArray()));
    stream.write('{"Type":"container","Action":"start","Actor":{"ID":"a"}}\n{"Type":"cont');
    stream.write('ainer","Action":"die","Actor":{"ID":"a"}}\nnot json\n\n');
    stream.write('{"Type":"container","Action":"destroy","Actor":{"ID":"a"}}\n');
    const got: EventStreamItem[] = await items;
    expect(asked).toEqual([
      expect.objectContaining({ since: 1700000000, filters: { type: ['container'], event: ['start', 'die', 'destroy', 'rename'] } }),
    ]);
    expect(got).toEqual([
      { type: 'open', daemonTime: undefined },
      { type: 'message', value: { Type: 'container', Action: 'start', Actor: { ID: 'a' } } },
      { type: 'message', value: { Type: 'container', Action: 'die', Actor: { ID: 'a' } } },
      { type: 'malformed', line: 'not json' },
    ]);
    // take(4) unsubscribed: the response stream is closed.
    expect(stream.destroyed).toBe(true);
  });

  it('fails with events-ended when the daemon ends the stream', async () => {
    const stream = new PassThrough();
    const done = lastValueFrom(openEventStream(fakeSource(stream), undefined).pipe(toArray()));
    stream.end();
    await expect(done).rejects.toMatchObject({ name: 'DockerCollectorError', tag: 'DockerCollector', reason: 'events-ended' });
  });

  it('fails with events-unavailable when the stream cannot be opened', async () => {
    const source: DockerEventSource = {
      getEvents: (() => Promise.reject(new Error('connect ENOENT /var/run/docker.sock'))) as DockerEventSource['getEvents'],
    };
    const error: unknown = await firstValueFrom(openEventStream(source, undefined)).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'events-unavailable', cause: { message: 'connect ENOENT /var/run/docker.sock' } });
  });

  it('reads the daemon clock from the Date header', async () => {
    const stream = Object.assign(new PassThrough(), { headers: { date: 'Sat, 21 Nov 2026 22:49:53 GMT' } });
    const open = await firstValueFrom(openEventStream(fakeSource(stream), undefined));
    expect(open).toEqual({ type: 'open', daemonTime: Date.parse('2026-11-21T22:49:53Z') / 1000 });
  });
});
