import type { Observable } from 'rxjs';

/**
 * How many distinct values a tag takes across a fleet.
 *
 * - `low`: in the order of the number of hosts (image, namespace, service).
 * - `orchestrator`: one value per pod or task (pod name, task ARN).
 * - `high`: one value per container or finer (container id, container name).
 *
 * Queries are cumulative: `orchestrator` answers low + orchestrator tags, `high` answers all three.
 */
export type TagCardinality = 'low' | 'orchestrator' | 'high';

/** Every cardinality, from the narrowest answer to the widest. */
export const TAG_CARDINALITIES: readonly TagCardinality[] = Object.freeze(['low', 'orchestrator', 'high']);

const CARDINALITY_SET: ReadonlySet<unknown> = new Set(TAG_CARDINALITIES);

/**
 * True when `value` is one of the cardinalities (case-sensitive).
 *
 * @example
 * ```ts
 * isCardinality('high'); // true
 * isCardinality('HIGH'); // false
 * ```
 */
export function isCardinality(value: unknown): value is TagCardinality {
  return CARDINALITY_SET.has(value);
}

/**
 * Which source wins where two sources give a tag of the same name: the higher value.
 *
 * @example
 * ```ts
 * SourcePriority.ClusterOrchestrator > SourcePriority.NodeRuntime; // true
 * ```
 */
export const SourcePriority = Object.freeze({
  /** The container runtime of the node (Docker, containerd). */
  NodeRuntime: 0,
  /** The orchestrator's agent on the node (the kubelet, the ECS agent). */
  NodeOrchestrator: 1,
  /** The cluster-wide orchestrator (the API server, a shared store of other hosts). */
  ClusterOrchestrator: 2,
} as const);

/** A source priority: one of the values of {@link SourcePriority}. */
export type SourcePriority = (typeof SourcePriority)[keyof typeof SourcePriority];

/**
 * What one source says about one entity: its tags, by cardinality, or that it is gone.
 *
 * A TagInfo replaces everything its `source` stored for its `entity`. With `deleteEntity`, every
 * source's tags for the entity go at the next prune.
 *
 * @example
 * ```ts
 * const info: TagInfo = {
 *   entity: containerId('3f4a'),
 *   source: 'docker',
 *   lowCardTags: ['image_name:redis'],
 *   orchestratorCardTags: [],
 *   highCardTags: ['container_name:cache'],
 * };
 * ```
 */
export interface TagInfo {
  /** The entity id, `prefix://id` (see {@link containerId}). */
  readonly entity: string;
  /** The name of the collector that produced it. */
  readonly source: string;
  readonly lowCardTags: readonly string[];
  readonly orchestratorCardTags: readonly string[];
  readonly highCardTags: readonly string[];
  /** The entity is gone: remove every source's tags for it at the next prune. */
  readonly deleteEntity?: boolean;
}

/**
 * How a collector delivers: `stream` pushes changes as they happen (hot), `pull` lists on an
 * interval and pushes what changed, `fetch` only answers look-ups on a cache miss.
 */
export type CollectorMode = 'stream' | 'pull' | 'fetch';

/**
 * Which entity ids a collector answers by a unique leading part, as `docker ps` prints 12 of a
 * container id's 64 digits. A query for a short id answers the one entity stored whose id begins
 * with it (or that the collector's `fetch` finds by it), and fails with `AmbiguousEntityIdError`
 * when it begins several.
 *
 * @example
 * ```ts
 * const rule: ShortIdRule = { prefix: 'container_id', isShort: (id) => /^[0-9a-f]{12,63}$/.test(id) };
 * ```
 */
export interface ShortIdRule {
  /** The entity prefix it applies to, without `://` (e.g. `container_id`). */
  readonly prefix: string;
  /** True when `id`, the part after `prefix://`, is a short form to resolve. */
  readonly isShort: (id: string) => boolean;
}

/**
 * A source of TagInfo for the Tagger.
 *
 * @example
 * ```ts
 * const collector: Collector = {
 *   source: 'static',
 *   priority: SourcePriority.NodeRuntime,
 *   mode: 'stream',
 *   tagInfo$: of({ entity: 'container_id://a', source: 'static', lowCardTags: ['env:prod'],
 *     orchestratorCardTags: [], highCardTags: [] }),
 * };
 * ```
 */
export interface Collector {
  /** The source name written into every TagInfo it produces. */
  readonly source: string;
  readonly priority: SourcePriority;
  readonly mode: CollectorMode;
  /** The changes this collector pushes (absent for fetch-only collectors). */
  readonly tagInfo$?: Observable<TagInfo>;
  /**
   * Looks one entity up. Emits every TagInfo the look-up found (several where one look-up finds
   * several entities, as every container of an ECS task), then completes; emitting nothing for
   * the asked entity means "not found".
   */
  readonly fetch?: (entity: string) => Observable<TagInfo>;
  /**
   * The short ids this collector's entities may be asked by (see {@link ShortIdRule}). Its `fetch`
   * is then asked with the short id and answers the full entity's TagInfo.
   */
  readonly shortIds?: ShortIdRule;
  /**
   * The entity kinds this collector reports, as entity-id prefixes without `://` (`container_id`,
   * `kubernetes_pod_uid`, `ecs_task`). The Tagger expects a report from it for every entity of these
   * kinds: such an entity is complete (see `Tagger.lookup`) once every collector covering its prefix
   * has reported it, with tags or a final "not found". When another source reports the entity first,
   * a collector with a `fetch` is asked for it at once. A collector that declares nothing is
   * expected for nothing. Default: `[]`.
   *
   * @example
   * ```ts
   * const kubelet: Collector = { source: 'kubelet', priority: SourcePriority.NodeOrchestrator, mode: 'pull',
   *   tagInfo$, fetch, covers: ['container_id', 'kubernetes_pod_uid'] };
   * ```
   */
  readonly covers?: readonly string[];
}
