/**
 * What the agent's web page shows: the data its endpoints serve (`/api/status`, the `status`,
 * `snapshot` and `changes` events of `/api/events`).
 */
import type { CollectorStatus, KvstoreCounters } from '../cli/status.js';
import type { EntityTags, SourceTagsListing } from '../tagger/contract.js';

/**
 * A collector's row (or the kvstore's) on the page: the agent's own status row
 * ({@link CollectorStatus}), as `tagstream status` shows it.
 *
 * @example
 * ```ts
 * const row: WebCollectorStatus = { name: 'docker', state: 'connected', reason: 'socket /var/run/docker.sock', entities: 3 };
 * ```
 */
export type WebCollectorStatus = CollectorStatus;

/**
 * Another agent (or this one) publishing in the shared kvstore, with how many keys it has there.
 *
 * @example
 * ```ts
 * const peer: WebKvstorePeer = { host: 'node-b', keys: 12, self: false };
 * ```
 */
export interface WebKvstorePeer {
  readonly host: string;
  readonly keys: number;
  /** This agent's own keys. */
  readonly self: boolean;
}

/**
 * The shared kvstore's counters (as `tagstream status` gives them) and peers, when the agent joined one.
 *
 * @example
 * ```ts
 * const kv: WebKvstoreStatus = { url: 'etcd://10.0.0.1:2379', name: 'node-a', sharedKeys: 5, localKeys: 2, writeErrors: 0, watchErrors: 0,
 *   decodeErrors: 0, retries: 0, disconnects: 0, peers: [{ host: 'node-a', keys: 2, self: true }, { host: 'node-b', keys: 3, self: false }] };
 * ```
 */
export interface WebKvstoreStatus extends KvstoreCounters {
  readonly peers: readonly WebKvstorePeer[];
}

/**
 * The agent's status as the page shows it (`GET /api/status`, and the `status` events).
 *
 * @example
 * ```ts
 * const status: WebStatus = { time: Date.now(), version: '1.2.0', address: 'unix:/run/tagstream.sock', collectors: [], entities: 0, entitiesBySource: {} };
 * ```
 */
export interface WebStatus {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** The agent's version. */
  readonly version: string;
  /** Where the IPC server listens. */
  readonly address: string;
  /** The collectors' rows, the kvstore's last when joined (its state is the store's health). */
  readonly collectors: readonly WebCollectorStatus[];
  readonly entities: number;
  readonly entitiesBySource: Readonly<Record<string, number>>;
  readonly kvstore?: WebKvstoreStatus;
}

/**
 * One entity in the page's table: its sources, merged tags and what each source gave.
 *
 * @example
 * ```ts
 * const row: WebEntity = { entity: 'container_id://3f', sources: ['docker'], tags: { low: ['team:a'], orchestrator: ['team:a'], high: ['team:a'] }, bySource: [] };
 * ```
 */
export interface WebEntity {
  readonly entity: string;
  readonly sources: readonly string[];
  readonly tags: EntityTags;
  readonly bySource: readonly SourceTagsListing[];
}

/**
 * One change in a `changes` event: the entity as it is now, or `deleted`.
 *
 * @example
 * ```ts
 * const gone: WebEntityChange = { entity: 'container_id://3f', deleted: true };
 * ```
 */
export type WebEntityChange = { readonly entity: string; readonly deleted: true } | { readonly entity: string; readonly deleted: false; readonly listing: WebEntity };
