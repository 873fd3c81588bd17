/**
 * Issue 11, item 5: event streams under pressure, on real sockets and real readers — a line larger
 * than the backlog bound, readers that never read, and the memory an initial sync holds.
 */
import { type Socket, connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { containerId } from '../../src/index.js';
import { createTaggerClient } from '../../src/ipc/index.js';
import { type Fixture, StreamReader, events, get, put, startFixture, waitFor } from './helpers.js';

let fixture: Fixture | undefined;
const sockets: Socket[] = [];
const readers: StreamReader[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of readers.splice(0)) r.close();
  await fixture?.close();
  fixture = undefined;
});

async function started(options: Parameters<typeof startFixture>[0] = {}): Promise<Fixture> {
  fixture = await startFixture(options);
  return fixture;
}

function open(f: Fixture, path: string): StreamReader {
  const reader = new StreamReader(f.socketPath, path, f.token);
  readers.push(reader);
  return reader;
}

/** A client that sends the request for `path` and then reads nothing at all (its socket is paused). */
async function neverReads(f: Fixture, path: string): Promise<Socket> {
  const socket = connect({ path: f.socketPath });
  sockets.push(socket);
  socket.pause();
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${f.token}\r\n\r\n`);
  return socket;
}

/** Everything a paused socket receives once it is resumed, until `done` holds of the text. */
function drain(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tail = '';
    const timer = setTimeout(() => reject(new Error(`no complete answer within 10 s (${String(size)} bytes)`)), 10_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      tail = (tail + c.toString('latin1')).slice(-200);
      if (done(tail)) {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
    socket.resume();
  });
}

/** About 2 MiB of tags (tags are at most 200 characters long). */
const hugeTags = (): string[] => Array.from({ length: 11_000 }, (_, i) => `blob_${String(i)}:${'x'.repeat(180)}`);

const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('event streams: a line larger than the backlog bound', () => {
  it('reaches every healthy reader, and none of them is cut', async () => {
    const f = await started({ maxStreamBacklog: 64 * 1024 });
    const plain = open(f, '/v1/events?cardinality=high');
    const mirror = open(f, '/v1/events?levels=1');
    for (const r of [plain, mirror]) await r.until((l) => l.length >= 1);
    const huge = hugeTags(); // about 2 MiB in one line, 32 times the bound
    put(f, containerId('big'), ['env:prod'], [], huge);
    put(f, containerId('small'), ['env:qa']);
    for (const r of [plain, mirror]) {
      await r.until((l) => events(l).some((x) => x.entity === containerId('small')), 10_000);
      const big = events(r.lines).find((x) => x.entity === containerId('big'));
      expect(big?.tags).toEqual(['env:prod', ...huge]);
    }
    // The readers are still followed afterwards.
    put(f, containerId('after'), ['env:dev']);
    for (const r of [plain, mirror]) await r.until((l) => events(l).some((x) => x.entity === containerId('after')));
    expect(plain.ended || mirror.ended).toBe(false);
    expect(f.server.telemetry()).toMatchObject({ streamsCut: 0, openStreams: 2 });
  });

  it('still cuts a reader that reads nothing while lines behind the large one pass the bound', async () => {
    const f = await started({ maxStreamBacklog: 64 * 1024 });
    await neverReads(f, '/v1/events?cardinality=high');
    await waitFor(() => f.server.telemetry().openStreams === 1, 5000, 'the stream to open');
    put(f, containerId('big'), hugeTags());
    const line = Array.from({ length: 10 }, (_, i) => `tag_${i}:${'v'.repeat(180)}`);
    for (let round = 0; round < 1000 && f.server.telemetry().streamsCut === 0; round++) {
      put(f, containerId(`c${round % 50}`), [...line, `round:${round}`]);
      if (round % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => f.server.telemetry().streamsCut === 1, 5000, 'the stalled stream to be cut');
    await waitFor(() => f.server.telemetry().openStreams === 0, 5000, 'its slot to be freed');
  });
});

describe('event streams: readers that never read', () => {
  it('are closed after readerStallTimeout without taking a byte, their slot freed and counted', async () => {
    const f = await started({ maxStreams: 1, maxStreamBacklog: 64 * 1024 * 1024, readerStallTimeout: 300 });
    await neverReads(f, '/v1/events?cardinality=high');
    await waitFor(() => f.server.telemetry().openStreams === 1, 5000, 'the stream to open');
    expect((await get(f.socketPath, '/v1/events', f.token)).status).toBe(429); // the slot is held
    // Enough lines to fill the socket's kernel buffers, far less than the backlog bound.
    const line = Array.from({ length: 10 }, (_, i) => `tag_${i}:${'v'.repeat(180)}`);
    for (let round = 0; round < 2000; round++) {
      put(f, containerId(`c${round % 50}`), [...line, `round:${round}`]);
      if (round % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => f.server.telemetry().openStreams === 0, 5000, 'the stalled reader to be closed');
    expect(f.server.telemetry()).toMatchObject({ streamsStalled: 1, streamsCut: 0 });
    const next = open(f, '/v1/events');
    await next.until((l) => events(l).some((x) => x.type === 'synced'));
    expect(next.status).toBe(200);
  });

  it('does not close a reader that is slow but keeps reading', async () => {
    // Progress shows when the socket takes a write: a unix socket wakes its writer once its reader
    // emptied most of the kernel buffer (a few hundred KiB), so the timeout is well above that.
    const f = await started({ maxStreamBacklog: 64 * 1024 * 1024, readerStallTimeout: 1000 });
    const socket = await neverReads(f, '/v1/events?cardinality=high');
    await waitFor(() => f.server.telemetry().openStreams === 1, 5000, 'the stream to open');
    const line = Array.from({ length: 10 }, (_, i) => `tag_${i}:${'v'.repeat(180)}`);
    for (let round = 0; round < 2000; round++) put(f, containerId(`c${round % 50}`), [...line, `round:${round}`]);
    // Read one chunk (at most 64 KiB) every 50 ms for 2.5 s: always progress, never caught up.
    socket.on('data', () => socket.pause());
    for (let tick = 0; tick < 50; tick++) {
      socket.resume();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(f.server.telemetry()).toMatchObject({ streamsStalled: 0, openStreams: 1 });
  });
});

describe('event streams: the initial sync', () => {
  const ENTITIES = 20_000;
  const tagsOf = (i: number): string[] => Array.from({ length: 8 }, (_, k) => `tag_${k}:${'v'.repeat(40)}-${i}`);

  it('is written as its readers take it: ten readers syncing at once that have not read hold little server memory', async () => {
    const f = await started();
    for (let i = 0; i < ENTITIES; i++) put(f, containerId(`e${i}`), tagsOf(i));
    const lineBytes = Buffer.byteLength(`${JSON.stringify({ type: 'added', entity: containerId('e10000'), tags: tagsOf(10_000) })}\n`);
    const burstBytes = lineBytes * ENTITIES; // about 8 MB
    // The store computes each entity's arrays on first read: read them before measuring.
    for (let i = 0; i < ENTITIES; i++) f.tagger.storedTags(containerId(`e${i}`), 'high');
    const before = heapUsed();
    // Ten readers syncing at once, none of them reading yet.
    const paused = await Promise.all(Array.from({ length: 10 }, () => neverReads(f, '/v1/events?cardinality=high')));
    await waitFor(() => f.server.telemetry().openStreams === 10, 5000, 'the streams to open');
    await new Promise((r) => setTimeout(r, 300)); // what can be written without the readers is written
    const growth = heapUsed() - before;
    // About one chunk (64 KiB) per reader: ten readers hold less than half of one burst. Before,
    // each of the ten bursts was in the server's heap, whole.
    expect(growth).toBeLessThan(burstBytes / 2);
    // Then each reader gets the whole burst, in order, when it reads.
    for (const socket of paused) {
      const text = await drain(socket, (tail) => tail.includes('"type":"synced"'));
      const lines = text.split('\n').filter((l) => l.startsWith('{'));
      const added = lines.filter((l) => l.includes('"type":"added"'));
      expect(added).toHaveLength(ENTITIES);
      expect(lines.at(-1)).toBe(`{"type":"synced","entities":${String(ENTITIES)}}`);
    }
  });

  it('leaves a remote tagger with the server store, changes made during the sync included', async () => {
    const f = await started();
    for (let i = 0; i < ENTITIES; i++) put(f, containerId(`e${i}`), tagsOf(i));
    const client = createTaggerClient({ socketPath: f.socketPath, tokenFile: f.tokenFile });
    client.start();
    try {
      // Changes while the burst is being written: deletes, modifications, additions.
      for (let k = 0; k < 200; k++) {
        put(f, containerId(`e${k * 97}`), ['changed:yes']);
        put(f, containerId(`new${k}`), ['fresh:yes']);
        if (k % 20 === 0) await new Promise((r) => setImmediate(r));
      }
      f.input.next({ entity: containerId('e5'), source: 'static', lowCardTags: [], orchestratorCardTags: [], highCardTags: [], deleteEntity: true });
      await waitFor(() => client.connection().status === 'connected', 10_000, 'the client to sync');
      await waitFor(() => f.tagger.storedTags(containerId('e5')).length === 0, 5000, 'the delete to be pruned');
      const expected = new Map(f.tagger.list().map((e) => [e.entity, e.tags.high]));
      await waitFor(() => client.list().length === expected.size, 5000, 'the mirror to hold the store');
      for (const [entity, tags] of expected) expect(client.storedTags(entity, 'high')).toEqual(tags);
      expect(client.storedTags(containerId('e5'))).toEqual([]);
    } finally {
      client.stop();
    }
  });
});
