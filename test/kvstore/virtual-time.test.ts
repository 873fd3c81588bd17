import { VirtualAction, VirtualTimeScheduler, lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createMemoryKv, joinSharedStore, memoryBackend } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { cacheOf, itemCodec, record } from './helpers.js';

/** A virtual clock: `advanceTo(t)` runs every timer due at or before t. */
function virtualClock(): { readonly scheduler: VirtualTimeScheduler; advanceTo(frame: number): void } {
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  return {
    scheduler,
    advanceTo(frame) {
      scheduler.maxFrames = frame;
      scheduler.flush();
    },
  };
}

describe('shared store on virtual time', () => {
  it('writes updateLocalKey keys, and undoes foreign changes, at each synchronization interval and not before', async () => {
    const clock = virtualClock();
    const kv = createMemoryKv({ scheduler: clock.scheduler });
    const store = await joinSharedStore({ prefix: 'p', codec: itemCodec, backend: memoryBackend({ kv, scheduler: clock.scheduler }), synchronizationInterval: 60_000, scheduler: clock.scheduler, logger: silentLogger });
    const foreign = memoryBackend({ kv });
    store.updateLocalKey({ name: 'k', value: 'mine' });
    clock.advanceTo(59_999);
    expect(store.sharedKeys().size).toBe(0);
    clock.advanceTo(60_000);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: 'mine' });
    await lastValueFrom(foreign.put('p/k', itemCodec.encode({ name: 'k', value: 'forged' })));
    clock.advanceTo(119_999);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: 'forged' });
    clock.advanceTo(120_000);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: 'mine' });
    expect(store.telemetry()).toMatchObject({ syncs: 2, repairs: 2 });
    await store.release();
  });

  it('a lease not kept alive expires one TTL after its last renewal; the delete reaches consumers after the grace period', async () => {
    const clock = virtualClock();
    const kv = createMemoryKv({ scheduler: clock.scheduler });
    const observer = await joinSharedStore({ prefix: 'p', codec: itemCodec, backend: memoryBackend({ kv, scheduler: clock.scheduler }), deleteGracePeriod: 5000, scheduler: clock.scheduler, logger: silentLogger });
    const dying = memoryBackend({ kv, leaseTtl: 30_000, scheduler: clock.scheduler });
    await lastValueFrom(dying.put('p/d', itemCodec.encode({ name: 'd', value: '1' }), { lease: true }));
    const events = record(observer.events$);
    clock.advanceTo(25_000); // renewed at 10 s and 20 s
    await lastValueFrom(dying.close());
    clock.advanceTo(49_999);
    expect(observer.sharedKeys().has('d')).toBe(true);
    clock.advanceTo(50_000);
    expect(observer.sharedKeys().has('d')).toBe(false);
    clock.advanceTo(54_999);
    expect(events.values.map((e) => e.type)).toEqual(['update']);
    clock.advanceTo(55_000);
    expect(events.values.map((e) => e.type)).toEqual(['update', 'delete']);
    events.stop();
    await observer.release();
  });
});
