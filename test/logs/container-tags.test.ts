import { BehaviorSubject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { containerTagsCoordinator, createTaggedLogCollector, mergeTags, memoryStorage } from '../../src/logs/index.js';
import { containerId } from '../../src/tagger/entity-id.js';
import { streamCollector, tagInfo } from '../../src/tagger/stream-collector.js';
import { createTagger } from '../../src/tagger/tagger.js';
import type { Tagger } from '../../src/tagger/contract.js';
import type { TagInfo } from '../../src/tagger/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { BundleBuilder, storedIndexes, testCoordinator } from './helpers.js';

describe('mergeTags', () => {
  it("adds key:value tags, keeps the producer's own, joins several values", () => {
    expect(mergeTags({ container_id: 'a', env: 'mine' }, ['image_name:redis', 'env:prod', 'team:x', 'team:y', 'team:x'])).toEqual({
      tags: { container_id: 'a', env: 'mine', image_name: 'redis', team: 'x,y' },
      skipped: 0,
    });
  });

  it('leaves out tags that would make the descriptor invalid', () => {
    expect(mergeTags({}, ['bad key:1', `${'k'.repeat(65)}:v`, `long:${'v'.repeat(4097)}`, 'plain'])).toEqual({
      tags: { plain: '' },
      skipped: 3,
    });
  });
});

describe('createTaggedLogCollector', () => {
  let tagger: Tagger | undefined;
  afterEach(() => {
    tagger?.stop();
  });

  async function setup() {
    const infos = new BehaviorSubject<TagInfo>(
      tagInfo({
        entity: containerId('3f4a9c'),
        source: 'static',
        low: ['image_name:redis', 'env:prod'],
        high: ['container_name:cache'],
      }),
    );
    tagger = createTagger({ collectors: [streamCollector('static', infos)], logger: silentLogger });
    tagger.start();
    // The stream collector's tags are in the store once the tagger answers them.
    expect(await tagger.tag(containerId('3f4a9c'), 'high')).toContain('container_name:cache');
    const tcc = testCoordinator();
    const storage = memoryStorage();
    const collector = createTaggedLogCollector({ tagger, coordinator: tcc, storage, logger: silentLogger });
    return { tcc, storage, collector };
  }

  it("registers a stream whose descriptor names a container with the container's tags", async () => {
    const { tcc, storage, collector } = await setup();
    const bb = new BundleBuilder();
    const entry = bb.genBundleEntry('foo/+/app', 1, 0, 1);
    bb.addBundleEntry({ ...entry, desc: { ...entry.desc!, tags: { container_id: '3f4a9c', env: 'staging' } } });
    await collector.process(bb.bundle());
    expect(tcc.stream('test-project', 'foo/+/app')?.descriptor.tags).toEqual({
      container_id: '3f4a9c',
      env: 'staging', // the producer's own tag wins
      image_name: 'redis',
      container_name: 'cache',
    });
    expect(await storedIndexes(storage, 'test-project', 'foo/+/app')).toEqual([0, 1]);
  });

  it('takes an entity id as well as a raw container id, and leaves other streams alone', async () => {
    const { tcc, collector } = await setup();
    const bb = new BundleBuilder();
    const a = bb.genBundleEntry('foo/+/a', 0, 0);
    const b = bb.genBundleEntry('foo/+/b', 0, 0);
    bb.addBundleEntry({ ...a, desc: { ...a.desc!, tags: { container_id: 'container_id://3f4a9c' } } });
    bb.addBundleEntry(b);
    await collector.process(bb.bundle());
    expect(tcc.stream('test-project', 'foo/+/a')?.descriptor.tags).toMatchObject({ image_name: 'redis' });
    expect(tcc.stream('test-project', 'foo/+/b')?.descriptor.tags).toEqual({});
  });

  it('asks the tagger once per stream registration, behind the cache', async () => {
    let calls = 0;
    const counting = {
      tag: (entity: string) => {
        calls++;
        return Promise.resolve(entity === containerId('c1') ? ['team:core'] : []);
      },
    };
    const tcc = testCoordinator();
    const collector = createTaggedLogCollector({
      tagger: counting,
      coordinator: tcc,
      storage: memoryStorage(),
      logger: silentLogger,
    });
    const bb = new BundleBuilder();
    for (let i = 0; i < 5; i++) {
      const e = bb.genBundleEntry('foo/+/s', -1, i);
      bb.addBundleEntry({ ...e, desc: { ...e.desc!, tags: { container_id: 'c1' } } });
      await collector.process(bb.bundle());
    }
    expect(calls).toBe(1);
    expect(tcc.stream('test-project', 'foo/+/s')?.descriptor.tags).toEqual({ container_id: 'c1', team: 'core' });
  });

  it("registers with the producer's tags alone when the tagger fails", async () => {
    const tcc = testCoordinator();
    const failing = { tag: () => Promise.reject(new Error('the tagger is stopped')) };
    const coordinator = containerTagsCoordinator(tcc, { tagger: failing, logger: silentLogger });
    const bb = new BundleBuilder();
    const e = bb.genBundleEntry('foo/+/s', 0, 0);
    const desc = { ...e.desc!, tags: { container_id: 'c1' } };
    const state = await coordinator.registerStream(
      {
        project: 'p',
        path: 'foo/+/s',
        protoVersion: '1',
        secret: new Uint8Array(36),
        terminalIndex: -1,
        archived: false,
        purged: false,
      },
      desc,
    );
    expect(state.path).toBe('foo/+/s');
    expect(tcc.stream('p', 'foo/+/s')?.descriptor.tags).toEqual({ container_id: 'c1' });
  });
});
