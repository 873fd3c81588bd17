import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createMemoryKv, joinSharedStore, memoryBackend } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { freshPrefix, itemCodec, record, waitFor } from './helpers.js';

// Without a grace period the burst of a new events$ subscriber is read from the cache (no copy is
// kept); with one, from what graceDeletes delivered. Both must say the same.
describe.each([0, 5000])('events$ with deleteGracePeriod %i', (grace) => {
  it('a late subscriber gets every key so far, then the changes; own deletes at close; after close only the completion', async () => {
    const kv = createMemoryKv();
    const prefix = freshPrefix('burst');
    const join = async (name: string) => joinSharedStore({ prefix, codec: itemCodec, backend: memoryBackend({ kv }), name, logger: silentLogger, deleteGracePeriod: grace });
    const a = await join('a');
    const b = await join('b');
    await Promise.all([a.updateLocalKeySync({ name: 'a1', value: '1' }), a.updateLocalKeySync({ name: 'a2', value: '2' }), b.updateLocalKeySync({ name: 'b1', value: '3' })]);
    await waitFor('b sees every key', () => b.sharedKeys().size === 3);
    const late = record(b.events$);
    expect(late.values.map((e) => `${e.type} ${e.name}`).sort()).toEqual(['update a1', 'update a2', 'update b1']);
    await b.updateLocalKeySync({ name: 'b2', value: '4' });
    await waitFor('b2 delivered', () => late.values.length === 4);
    expect(late.values[3]).toMatchObject({ type: 'update', name: 'b2' });
    await b.close();
    expect(late.done()).toBe(true);
    expect(late.values.slice(4).map((e) => `${e.type} ${e.name}`).sort()).toEqual(['delete b1', 'delete b2']);
    expect(await lastValueFrom(b.events$.pipe(toArray()))).toEqual([]);
    await a.close();
  });
});
