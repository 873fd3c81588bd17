/**
 * The agent's shared kvstore (`--kvstore etcd://host:port`): joins the etcd store, gives the tagger
 * a collector of the other hosts' entities, publishes this host's, shows its state and counters,
 * and closes (deleting this host's keys) on shutdown. Loaded by the agent only when `--kvstore` is
 * given, so etcd3 is not loaded otherwise.
 */
import { hostname } from 'node:os';
import { EMPTY, type Observable, catchError, distinctUntilChanged, ignoreElements, lastValueFrom, map } from 'rxjs';
import { etcdBackend } from '../kvstore/etcd.js';
import { type SharedStoreHealth, joinSharedStore, publishTags, sharedStoreCollector, tagKeyCodec } from '../kvstore/index.js';
import type { Tagger } from '../tagger/contract.js';
import type { Collector } from '../tagger/types.js';
import type { Logger } from '../util/logger.js';
import type { KvstoreConfig } from './agent-config.js';
import { type ShownState, kvstoreShownState } from './collector-state.js';
import { CliRuntimeError } from './errors.js';
import type { CollectorStatus, KvstoreCounters } from './status.js';

/**
 * A joined shared kvstore, as the agent uses it.
 *
 * @example
 * ```ts
 * const kv = await joinAgentKvstore(config.kvstore, logger);
 * const tagger = createTagger({ collectors: [...collectors, kv.collector] });
 * const publishing = kv.publish$(tagger).subscribe();
 * // on SIGTERM:
 * publishing.unsubscribe();
 * await kv.close();
 * ```
 */
export interface AgentKvstore {
  /** This agent's collaborator name (the host part of its keys). */
  readonly name: string;
  /** The collector of the other hosts' entities (source `kvstore`). */
  readonly collector: Collector;
  /** The kvstore's row of the status, at join. */
  readonly initial: CollectorStatus;
  /**
   * The row's state over time, from the store's health: `connected` while synced; `retrying` with
   * the last error while etcd is lost ("disconnected, reconnecting after: ...") or the store lists
   * again; `connecting` while it writes this host's keys again after etcd came back.
   */
  readonly state$: Observable<ShownState>;
  /** Publishes `tagger`'s entities while subscribed; a failure is logged and ends it. */
  publish$(tagger: Tagger): Observable<never>;
  /** The store's counters now. */
  counters(): KvstoreCounters;
  /** The agents publishing in the store now, and this one (even without keys), with how many keys each has there, by name. */
  peers(): KvstorePeer[];
  /** Closes the store (deleting this agent's keys), then the etcd client (revoking the lease). Never rejects. */
  close(): Promise<void>;
}

/**
 * An agent publishing in the shared kvstore, with how many keys it has there.
 *
 * @example
 * ```ts
 * const peer: KvstorePeer = { host: 'node-b', keys: 12, self: false };
 * ```
 */
export interface KvstorePeer {
  /** Its collaborator name (the host part of its keys). */
  readonly host: string;
  readonly keys: number;
  /** This agent. */
  readonly self: boolean;
}

/**
 * Joins the shared kvstore `config` names on etcd. Rejects with a {@link CliRuntimeError} when etcd
 * does not answer within `config.joinTimeout` (the etcd client is closed first).
 *
 * @example
 * ```ts
 * const kv = await joinAgentKvstore({ url: 'etcd://127.0.0.1:2379', hosts: ['http://127.0.0.1:2379'], prefix: 'tagstream/tags/v1',
 *   name: 'node-a', leaseTtl: 15_000, deleteGracePeriod: 5000, joinTimeout: 10_000 }, logger);
 * ```
 */
export async function joinAgentKvstore(config: KvstoreConfig, logger: Logger): Promise<AgentKvstore> {
  const name = config.name ?? hostname();
  const backend = etcdBackend({ hosts: config.hosts, leaseTtl: config.leaseTtl, logger });
  const closeBackend = async (revoke: boolean): Promise<void> => {
    try {
      await lastValueFrom(backend.close({ revoke }), { defaultValue: undefined });
    } catch (error) {
      logger.warn('kvstore: closing the etcd client failed; this agent\'s keys go when its lease expires', { error });
    }
  };
  const store = await joinSharedStore({
    prefix: config.prefix,
    codec: tagKeyCodec,
    backend,
    name,
    deleteGracePeriod: config.deleteGracePeriod,
    joinTimeout: config.joinTimeout,
    logger,
  })
    .catch(async (error: unknown) => {
      await closeBackend(false);
      throw new CliRuntimeError('agent', `cannot join the kvstore ${config.url} (prefix ${config.prefix}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
  const where = `${config.url} as ${name}, prefix ${config.prefix}`;
  let closing: Promise<void> | undefined;
  return {
    name,
    collector: sharedStoreCollector(store),
    initial: { name: 'kvstore', state: 'connected', reason: where, entities: 0 },
    state$: store.health$.pipe(
      map((health) => agentKvstoreState(health, where)),
      distinctUntilChanged((a, b) => a.state === b.state && a.reason === b.reason),
    ),
    publish$: (tagger) =>
      publishTags(tagger, store).pipe(
        ignoreElements(),
        catchError((error: unknown) => {
          logger.error('kvstore: publishing this host\'s entities stopped', { error });
          return EMPTY;
        }),
      ),
    counters: () => {
      const t = store.telemetry();
      return { url: config.url, name, sharedKeys: t.sharedKeys, localKeys: t.localKeys, writeErrors: t.writeErrors, watchErrors: t.watchErrors, decodeErrors: t.decodeErrors, retries: t.retries, disconnects: t.disconnects };
    },
    peers: () => {
      const keys = new Map<string, number>([[name, 0]]); // this agent, even before it has keys
      for (const key of store.sharedKeys().values()) keys.set(key.host, (keys.get(key.host) ?? 0) + 1);
      return [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([host, count]) => ({ host, keys: count, self: host === name }));
    },
    close: () => {
      closing ??= store.close().then(
        () => closeBackend(true),
        async (error: unknown) => {
          logger.warn('kvstore: closing the store failed', { error });
          await closeBackend(true);
        },
      );
      return closing;
    },
  };
}

/**
 * The kvstore row for a store's health; `where` (the URL, the name, the prefix) leads the reason.
 *
 * @example
 * ```ts
 * agentKvstoreState({ state: 'disconnected', lastError }, 'etcd://10.0.0.1:2379 as n1, prefix tagstream/tags/v1');
 * // { state: 'retrying', reason: 'etcd://10.0.0.1:2379 as n1, prefix tagstream/tags/v1: disconnected, reconnecting after: kvstore watch of ... failed: connect ECONNREFUSED 10.0.0.1:2379 (...)' }
 * ```
 */
export function agentKvstoreState(health: SharedStoreHealth, where: string): ShownState {
  const after = health.lastError === undefined ? '' : ` after: ${health.lastError.message}`;
  switch (health.state) {
    case 'synced':
      return kvstoreShownState(true, undefined, where);
    case 'joining':
      return { state: 'connecting', reason: `${where}: joining${after}` };
    case 'disconnected':
      return { state: 'retrying', reason: `${where}: disconnected, reconnecting${after}` };
    case 'resyncing':
      return { state: 'connecting', reason: `${where}: reconnected, writing this host's keys again` };
    case 'relisting':
      return kvstoreShownState(false, health.lastError, where);
    case 'closed':
      return { state: 'idle', reason: `${where}: closed` };
  }
}
