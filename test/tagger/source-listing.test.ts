/**
 * `Tagger.listSources` and the pure `listSources`: each source's tags by cardinality, its
 * priority, and which of its tags lose their name to a higher-priority source (the store's merge).
 */
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type TagInfo, type Tagger, SourcePriority, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';
import { listSources, priorityName } from '../../src/tagger/source-listing.js';

const E = 'container_id://3f4a';
const P = 'kubernetes_pod_uid://0c5d';

function taggerOf(...sources: [string, SourcePriority][]): { tagger: Tagger; inputs: Map<string, Subject<TagInfo>> } {
  const inputs = new Map<string, Subject<TagInfo>>();
  const collectors = sources.map(([name, priority]) => {
    const input = new Subject<TagInfo>();
    inputs.set(name, input);
    return streamCollector(name, input, { priority });
  });
  const tagger = createTagger({ collectors, logger: silentLogger });
  tagger.start();
  return { tagger, inputs };
}

let running: Tagger | undefined;
afterEach(() => {
  running?.stop();
});

describe('Tagger.listSources', () => {
  it('gives each source, highest priority first, with its levels, and the tags another source wins', () => {
    const { tagger, inputs } = taggerOf(['docker', SourcePriority.NodeRuntime], ['kubelet', SourcePriority.NodeOrchestrator], ['ecs', SourcePriority.NodeOrchestrator]);
    running = tagger;
    inputs.get('docker')?.next(tagInfo({ entity: E, source: 'docker', low: ['image_name:redis', 'team:payments'], high: ['container_name:cache'] }));
    inputs.get('kubelet')?.next(tagInfo({ entity: E, source: 'kubelet', low: ['team:core'], orchestrator: ['pod_name:web-1'] }));
    inputs.get('ecs')?.next(tagInfo({ entity: E, source: 'ecs', low: ['team:shop', 'region:eu'] }));
    inputs.get('docker')?.next(tagInfo({ entity: P, source: 'docker', low: ['only:docker'] }));

    const [listed, other] = [...tagger.listSources()].sort((a, b) => a.entity.localeCompare(b.entity));
    expect(listed?.entity).toBe(E);
    expect(listed?.sources).toEqual(['ecs', 'kubelet', 'docker']);
    expect(listed?.bySource).toEqual([
      { source: 'ecs', priority: 1, priorityName: 'NodeOrchestrator', low: ['team:shop', 'region:eu'], orchestrator: [], high: [], overridden: [] },
      { source: 'kubelet', priority: 1, priorityName: 'NodeOrchestrator', low: ['team:core'], orchestrator: ['pod_name:web-1'], high: [], overridden: [] },
      {
        source: 'docker',
        priority: 0,
        priorityName: 'NodeRuntime',
        low: ['image_name:redis', 'team:payments'],
        orchestrator: [],
        high: ['container_name:cache'],
        // Both sources of the higher priority that give `team` win it.
        overridden: [{ tag: 'team:payments', by: ['ecs', 'kubelet'] }],
      },
    ]);
    // The merged tags are the ones served: team from the higher priority only.
    expect(listed?.tags.high).toEqual(expect.arrayContaining(['team:shop', 'team:core', 'image_name:redis', 'container_name:cache']));
    expect(listed?.tags.high).not.toContain('team:payments');
    expect(other).toMatchObject({ entity: P, sources: ['docker'], bySource: [{ source: 'docker', overridden: [] }] });
    // Prefixes filter, as on the entities route.
    expect(tagger.listSources(['kubernetes_pod_uid://']).map((e) => e.entity)).toEqual([P]);
    expect(tagger.listSources(['ecs_task://'])).toEqual([]);
  });

  it('agrees with the served tags: a tag is overridden exactly when the merge leaves it out', () => {
    const { tagger, inputs } = taggerOf(['a', SourcePriority.NodeRuntime], ['b', SourcePriority.ClusterOrchestrator]);
    running = tagger;
    inputs.get('a')?.next(tagInfo({ entity: E, source: 'a', low: ['x:1', 'y:1', 'z'], orchestrator: ['w:1'] }));
    inputs.get('b')?.next(tagInfo({ entity: E, source: 'b', low: ['x:2', 'z'], high: ['w:2'] }));
    const [listed] = tagger.listSources();
    const served = new Set(listed?.tags.high);
    for (const source of listed?.bySource ?? []) {
      const lost = new Set(source.overridden.map((o) => o.tag));
      for (const tag of [...source.low, ...source.orchestrator, ...source.high]) {
        // An exact duplicate (`z`) is served from the winner, and counted as lost by the loser.
        if (tag !== 'z') expect(served.has(tag), `${source.source} ${tag}`).toBe(!lost.has(tag));
      }
    }
    expect(listed?.bySource.find((s) => s.source === 'a')?.overridden).toEqual([
      { tag: 'x:1', by: ['b'] },
      { tag: 'z', by: ['b'] },
      { tag: 'w:1', by: ['b'] },
    ]);
  });
});

describe('priorityName', () => {
  it('names each priority', () => {
    expect([SourcePriority.NodeRuntime, SourcePriority.NodeOrchestrator, SourcePriority.ClusterOrchestrator].map(priorityName)).toEqual(['NodeRuntime', 'NodeOrchestrator', 'ClusterOrchestrator']);
  });

  it('listSources of an entity without sources is empty', () => {
    expect(listSources({ entity: E, sources: [], tags: { low: [], orchestrator: [], high: [] } })).toEqual([]);
  });
});
