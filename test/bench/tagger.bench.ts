/**
 * The tagger core's benchmarks (issue 2): ingest through the full operator chain, a cached tag(),
 * tags$ fan-out, and memory per entity — each beside a plain-Map imperative baseline in this process.
 */
import { Observable } from 'rxjs';
import { type TagInfo, type Tagger, SourcePriority, createTagger, silentLogger, streamCollector } from '../../src/index.js';
import { best, bestAsync, heapUsed, report, time } from './harness.js';

const ENTITIES = 100_000;
const SOURCES = [
  { source: 'docker', priority: SourcePriority.NodeRuntime },
  { source: 'kubelet', priority: SourcePriority.NodeOrchestrator },
  { source: 'cluster', priority: SourcePriority.ClusterOrchestrator },
] as const;

const entityId = (i: number): string => `container_id://${i.toString(16).padStart(12, '0')}`;

/** About ten tags per entity and source, built fresh (so that interning has equal strings to share). */
function makeInfo(i: number, source: string, version: number): TagInfo {
  const image = i % 50;
  return {
    entity: entityId(i),
    source,
    lowCardTags: [`image_name:img-${image}`, `short_image:img-${image}`, `image_tag:v${version}`, `kube_namespace:ns-${i % 20}`, `${source}_env:prod`],
    orchestratorCardTags: [`pod_name:pod-${i}`, `kube_ownerref_name:rs-${i % 500}`],
    highCardTags: [`container_id:${i}`, `container_name:c-${i}-${source}`, `display_container_name:c-${i}`],
  };
}

// ---- the plain-Map imperative baseline: the same semantics, no streams, no validation, no interning
type Pool = Map<string, { readonly value: string; refs: number }>;

function acquire(pool: Pool, tag: string): string {
  const slot = pool.get(tag);
  if (slot === undefined) pool.set(tag, { value: tag, refs: 1 });
  else slot.refs += 1;
  return slot === undefined ? tag : slot.value;
}

function release(pool: Pool, tag: string): void {
  const slot = pool.get(tag);
  if (slot !== undefined && --slot.refs === 0) pool.delete(slot.value);
}

interface BaselineSource {
  readonly priority: number;
  readonly tags: string[];
  readonly lowEnd: number;
  readonly orchestratorEnd: number;
}
interface BaselineEntry {
  readonly sources: Map<string, BaselineSource>;
  merged: { low: string[]; orchestrator: string[]; high: string[] } | undefined;
}
class BaselineStore {
  readonly entities = new Map<string, BaselineEntry>();
  /**
   * With `intern`, low-cardinality tags go through a reference-counted Map pool: the work tagstream
   * does for its memory target. The ratio to that store is the cost of the architecture (streams,
   * validation, change events), not of the work.
   */
  readonly pool: Pool | undefined;

  constructor(options: { readonly intern: boolean } = { intern: false }) {
    this.pool = options.intern ? new Map() : undefined;
  }

  /** Replace what the source said (deduplicated), and forget the merged tags until next read. */
  apply(info: TagInfo, priority: number): void {
    const pool = this.pool;
    const tags: string[] = [];
    for (const t of info.lowCardTags) if (!tags.includes(t)) tags.push(pool === undefined ? t : acquire(pool, t));
    const lowEnd = tags.length;
    for (const t of info.orchestratorCardTags) if (!tags.includes(t)) tags.push(t);
    const orchestratorEnd = tags.length;
    for (const t of info.highCardTags) if (!tags.includes(t)) tags.push(t);
    let entry = this.entities.get(info.entity);
    if (entry === undefined) {
      entry = { sources: new Map(), merged: undefined };
      this.entities.set(info.entity, entry);
    }
    const replaced = pool === undefined ? undefined : entry.sources.get(info.source);
    if (pool !== undefined && replaced !== undefined) {
      for (let i = 0; i < replaced.lowEnd; i++) release(pool, replaced.tags[i] as string);
    }
    entry.sources.set(info.source, { priority, tags, lowEnd, orchestratorEnd });
    entry.merged = undefined;
  }

  /** The merged tags (computed on first read, then kept), by the same priority-by-name rule. */
  read(entity: string): { low: string[]; orchestrator: string[]; high: string[] } | undefined {
    const entry = this.entities.get(entity);
    if (entry === undefined) return undefined;
    if (entry.merged !== undefined) return entry.merged;
    const owner = new Map<string, number>();
    for (const s of entry.sources.values()) {
      for (const t of s.tags) {
        const name = t.split(':', 1)[0] ?? t;
        if ((owner.get(name) ?? -1) < s.priority) owner.set(name, s.priority);
      }
    }
    const seen = new Set<string>();
    const pick = (from: (s: BaselineSource) => number, to: (s: BaselineSource) => number): string[] => {
      const out: string[] = [];
      for (const s of entry.sources.values()) {
        for (let i = from(s); i < to(s); i++) {
          const t = s.tags[i] as string;
          if (!seen.has(t) && owner.get(t.split(':', 1)[0] ?? t) === s.priority) {
            seen.add(t);
            out.push(t);
          }
        }
      }
      return out;
    };
    const low = pick(() => 0, (s) => s.lowEnd);
    const orchestrator = [...low, ...pick((s) => s.lowEnd, (s) => s.orchestratorEnd)];
    const high = [...orchestrator, ...pick((s) => s.orchestratorEnd, (s) => s.tags.length)];
    return (entry.merged = { low, orchestrator, high });
  }
}

// ---- tagstream -------------------------------------------------------------------------------------
/** Pushes TagInfo into one collector's stream, as a collector's own Observable does (no Subject). */
type Push = (info: TagInfo) => void;

function startTagger(): { tagger: Tagger; inputs: Push[] } {
  const inputs: Push[] = [];
  const tagger = createTagger({
    collectors: SOURCES.map((s, i) =>
      streamCollector(s.source, new Observable<TagInfo>((subscriber) => {
        inputs[i] = (info) => {
          subscriber.next(info);
        };
      }), { priority: s.priority }),
    ),
    logger: silentLogger,
    pruneInterval: 60_000,
  });
  tagger.start();
  if (inputs.length !== SOURCES.length) throw new Error('a collector stream was not subscribed');
  return { tagger, inputs };
}

/**
 * Feeds `ENTITIES` x `SOURCES` fresh TagInfo values to `apply`, timing only the calls: the inputs
 * are built first and moved to the old generation by two full collections (untimed), so that the
 * timed loop pays for what the store does, not for building or promoting the harness's inputs.
 */
function timedIngest(apply: (info: TagInfo, source: number) => void): number {
  const infos: TagInfo[] = [];
  for (let i = 0; i < ENTITIES; i++) {
    for (const s of SOURCES) infos.push(makeInfo(i, s.source, 1));
  }
  heapUsed();
  return time(() => {
    for (let k = 0; k < infos.length; k++) apply(infos[k] as TagInfo, k % SOURCES.length);
  });
}

function ingest(): void {
  const updates = ENTITIES * SOURCES.length;
  const ours = (): number => {
    const { tagger, inputs } = startTagger();
    const ms = timedIngest((info, s) => {
      (inputs[s] as Push)(info);
    });
    if (tagger.telemetry().entities !== ENTITIES) throw new Error('ingest lost entities');
    tagger.stop();
    return ms;
  };
  const baseline = (): number => {
    const store = new BaselineStore();
    const ms = timedIngest((info, s) => {
      store.apply(info, SOURCES[s]?.priority ?? 0);
    });
    if (store.entities.size !== ENTITIES) throw new Error('baseline lost entities');
    return ms;
  };
  const interning = (): number => {
    const store = new BaselineStore({ intern: true });
    const ms = timedIngest((info, s) => {
      store.apply(info, SOURCES[s]?.priority ?? 0);
    });
    if (store.entities.size !== ENTITIES || (store.pool?.size ?? 0) === 0) throw new Error('interning baseline lost entities or interned nothing');
    return ms;
  };
  // The least any store keyed by entity does on this machine: one Map.set per TagInfo, no copy,
  // no merge. No store can ingest faster than this; it bounds the absolute target.
  const floor = (): number => {
    const map = new Map<string, TagInfo>();
    const ms = timedIngest((info) => {
      map.set(info.entity, info);
    });
    if (map.size !== ENTITIES) throw new Error('floor lost entities');
    return ms;
  };
  // Rounds alternate between the three, so that a slow spell of the machine weighs on all of them.
  const bestMs = {
    ours: Number.POSITIVE_INFINITY,
    baseline: Number.POSITIVE_INFINITY,
    interning: Number.POSITIVE_INFINITY,
    floor: Number.POSITIVE_INFINITY,
  };
  for (let round = 0; round < 4; round++) {
    bestMs.ours = Math.min(bestMs.ours, ours());
    bestMs.baseline = Math.min(bestMs.baseline, baseline());
    bestMs.interning = Math.min(bestMs.interning, interning());
    bestMs.floor = Math.min(bestMs.floor, floor());
  }
  report(
    'ingest floor: Map.set of each TagInfo by entity',
    { name: 'Map.set only', value: updates / (bestMs.floor / 1000), unit: 'updates/s' },
    { name: 'plain Map store', value: updates / (bestMs.baseline / 1000), unit: 'updates/s' },
  );
  report(
    'ingest, like for like: the plain Map store interning as tagstream does',
    { name: 'tagstream', value: updates / (bestMs.ours / 1000), unit: 'updates/s' },
    { name: 'plain Map store + intern pool', value: updates / (bestMs.interning / 1000), unit: 'updates/s' },
  );
  report(
    `ingest ${ENTITIES.toLocaleString('en-US')} entities x ${SOURCES.length} sources`,
    { name: 'tagstream', value: updates / (bestMs.ours / 1000), unit: 'updates/s' },
    { name: 'plain Map', value: updates / (bestMs.baseline / 1000), unit: 'updates/s' },
    '>= 1,000,000 updates/s and ratio >= 0.5',
  );
}

async function cachedTag(): Promise<void> {
  const { tagger, inputs } = startTagger();
  const baseline = new BaselineStore();
  const N = 10_000;
  for (let i = 0; i < N; i++) {
    for (let s = 0; s < SOURCES.length; s++) {
      const info = makeInfo(i, SOURCES[s]?.source ?? '', 1);
      (inputs[s] as Push)(info);
      baseline.apply(info, SOURCES[s]?.priority ?? 0);
    }
  }
  const CALLS = 1_000_000;
  const keys = Array.from({ length: N }, (_, i) => entityId(i));
  let sink = 0;
  const asyncOurs = await bestAsync(3, async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) sink += (await tagger.tag(keys[i % N] as string, 'high')).length;
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  const asyncBase = await bestAsync(3, async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) sink += (await Promise.resolve([...(baseline.read(keys[i % N] as string)?.high ?? [])])).length;
    return Number(process.hrtime.bigint() - start) / 1e6;
  });
  report(
    'cached tag() mean',
    { name: 'tagstream', value: (asyncOurs * 1000) / CALLS, unit: 'µs' },
    { name: 'Map read + copy + await', value: (asyncBase * 1000) / CALLS, unit: 'µs' },
    '< 3 µs',
  );
  const syncOurs = best(3, () => time(() => {
    for (let i = 0; i < CALLS; i++) sink += tagger.storedTags(keys[i % N] as string, 'high').length;
  }));
  const syncBase = best(3, () => time(() => {
    for (let i = 0; i < CALLS; i++) sink += baseline.read(keys[i % N] as string)?.high.length ?? 0;
  }));
  report(
    'synchronous read (storedTags) mean',
    { name: 'tagstream', value: (syncOurs * 1000) / CALLS, unit: 'µs' },
    { name: 'Map read', value: (syncBase * 1000) / CALLS, unit: 'µs' },
    '< 1 µs',
  );
  if (sink === 0) throw new Error('nothing read');
  tagger.stop();
}

function fanOut(): void {
  const UPDATES = 100_000;
  const setUp = (subscribers: number) => {
    const { tagger, inputs } = startTagger();
    const docker = inputs[0] as Push;
    for (let i = 0; i < subscribers; i++) docker(makeInfo(i, 'docker', 1));
    const counter = { woken: 0 };
    const subs = Array.from({ length: subscribers }, (_, i) => tagger.tags$(entityId(i)).subscribe(() => (counter.woken += 1)));
    const variants = [makeInfo(0, 'docker', 2), makeInfo(0, 'docker', 3)];
    return {
      /** Microseconds per update, one timed round. */
      round: (): number => {
        counter.woken = 0;
        const ms = time(() => {
          for (let u = 0; u < UPDATES; u++) docker(variants[u % 2] as TagInfo);
        });
        if (counter.woken < UPDATES) throw new Error(`fan-out: the subscriber was woken ${counter.woken} times for ${UPDATES} changes`);
        return (ms * 1000) / UPDATES;
      },
      tearDown: (): void => {
        subs.forEach((s) => s.unsubscribe());
        tagger.stop();
      },
    };
  };
  // Both taggers live side by side and their rounds alternate, so that a slow spell of the machine
  // weighs on both figures rather than on one.
  const few = setUp(10);
  const many = setUp(10_000);
  let bestFew = Number.POSITIVE_INFINITY;
  let bestMany = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 7; r++) {
    bestFew = Math.min(bestFew, few.round());
    bestMany = Math.min(bestMany, many.round());
  }
  few.tearDown();
  many.tearDown();
  report(
    'fan-out: one update with 10,000 tags$ subscribers vs 10',
    { name: '10,000 subscribers', value: bestMany, unit: 'µs/update' },
    { name: '10 subscribers', value: bestFew, unit: 'µs/update' },
    'ratio <= 1.5',
  );
}

/** An update's cost must not grow with the store: one entity updated in a store of 10 vs 100,000. */
function scaling(): void {
  const costPerUpdate = (size: number): number => {
    const { tagger, inputs } = startTagger();
    const docker = inputs[0] as Push;
    for (let i = 0; i < size; i++) docker(makeInfo(i, 'docker', 1));
    const variants = Array.from({ length: 64 }, (_, v) => makeInfo(v % size, 'docker', v + 2));
    const UPDATES = 200_000;
    const ms = best(5, () => time(() => {
      for (let u = 0; u < UPDATES; u++) docker(variants[u % 64] as TagInfo);
    }));
    tagger.stop();
    return (ms * 1000) / UPDATES;
  };
  const small = costPerUpdate(10);
  const large = costPerUpdate(ENTITIES);
  report(
    'update cost: store of 100,000 entities vs 10',
    { name: '100,000 entities', value: large, unit: 'µs/update' },
    { name: '10 entities', value: small, unit: 'µs/update' },
    'ratio close to 1 (no per-event copy of the store)',
  );
}

/**
 * Replacing a source's tags must cost what it replaces: the cost per tag of replacing one entity's
 * 64,000 tags beside the cost per tag at 1,000 (issue 11: the replace was quadratic, 16k tags 1.2 s).
 */
function replaceScaling(): void {
  const costPerTag = (size: number): number => {
    const { tagger, inputs } = startTagger();
    const docker = inputs[0] as Push;
    const version = (v: number): TagInfo => ({
      entity: entityId(0),
      source: 'docker',
      // Half the tags stay, half change: both the kept and the released paths run.
      lowCardTags: Array.from({ length: size }, (_, i) => (i % 2 === 0 ? `keep:${i}` : `v${v}:${i}`)),
      orchestratorCardTags: [],
      highCardTags: [],
    });
    const versions = [version(0), version(1), version(2), version(3)];
    const ROUNDS = Math.max(8, Math.round(256_000 / size));
    const ms = best(5, () => time(() => {
      for (let r = 0; r < ROUNDS; r++) docker(versions[r % 4] as TagInfo);
    }));
    tagger.stop();
    return (ms * 1e6) / (ROUNDS * size);
  };
  // Alternated, so that both sizes see the same machine.
  let small = Number.POSITIVE_INFINITY;
  let large = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    small = Math.min(small, costPerTag(1000));
    large = Math.min(large, costPerTag(64_000));
  }
  report(
    'replace cost per tag: a source of 64,000 tags vs 1,000',
    { name: '64,000 tags', value: large, unit: 'ns/tag' },
    { name: '1,000 tags', value: small, unit: 'ns/tag' },
    'ratio close to 1 (linear in the tags replaced)',
  );
}

function memory(): void {
  const N = 100_000;
  // The baseline first, dropped before ours is measured: each figure is a heap difference.
  let plain: Map<string, { low: string[]; orchestrator: string[]; high: string[] }> | undefined = new Map();
  const before = heapUsed();
  for (let i = 0; i < N; i++) {
    const info = makeInfo(i, 'docker', 1);
    plain.set(info.entity, { low: [...info.lowCardTags], orchestrator: [...info.orchestratorCardTags], high: [...info.highCardTags] });
  }
  const base = (heapUsed() - before) / N;
  if (plain.size !== N) throw new Error('baseline lost entities');
  plain = undefined;

  const before2 = heapUsed();
  const { tagger, inputs } = startTagger();
  const docker = inputs[0] as Push;
  for (let i = 0; i < N; i++) docker(makeInfo(i, 'docker', 1));
  for (let i = 0; i < N; i += 1000) tagger.storedTags(entityId(i), 'low');
  const ours = (heapUsed() - before2) / N;
  const telemetry = tagger.telemetry();
  if (telemetry.entities !== N) throw new Error('tagger lost entities');
  tagger.stop();
  report(
    `memory per entity with 10 tags (${telemetry.internedStrings.toLocaleString('en-US')} interned strings)`,
    { name: 'tagstream', value: ours, unit: 'bytes' },
    { name: 'plain Map of arrays', value: base, unit: 'bytes' },
    '<= 1024 bytes',
  );
}

ingest();
scaling();
replaceScaling();
await cachedTag();
fanOut();
memory();
