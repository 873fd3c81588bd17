/**
 * The agent's web status page (`--http host:port`): the agent's status, the kvstore's peers and the
 * Tagger's entities, served by `serveWebPage` (src/web) behind the IPC token.
 */
import { type Observable, combineLatest, map, timer } from 'rxjs';
import type { TaggerServer } from '../ipc/server.js';
import type { Tagger } from '../tagger/contract.js';
import type { Logger } from '../util/logger.js';
import { type WebPageServer, serveWebPage } from '../web/server.js';
import type { WebStatus } from '../web/types.js';
import type { HttpConfig } from './agent-config.js';
import type { AgentKvstore } from './agent-kvstore.js';
import { CliRuntimeError } from './errors.js';
import type { CollectorStatus, StatusSnapshot } from './status.js';

/** How often the open pages get the status, ms. */
const WEB_STATUS_INTERVAL = 1000;

/** What the agent gives its web page (see {@link startAgentWeb}). */
export interface AgentWebSources {
  readonly tagger: Tagger;
  /** The IPC server: its token file (the page's login) and its metrics registry. */
  readonly server: TaggerServer;
  readonly kv: AgentKvstore | undefined;
  /** The collectors' rows (the kvstore's last), starting with their rows at start. */
  readonly statuses$: Observable<readonly CollectorStatus[]>;
  /** The agent's status snapshot for the rows given. */
  readonly snapshot: (statuses: readonly CollectorStatus[]) => StatusSnapshot;
  readonly version: string;
  readonly logger: Logger;
}

/**
 * Serves the web page at `http` and logs its URL (at level info). Rejects with a
 * {@link CliRuntimeError} when it cannot (the port in use, the token file unreadable).
 *
 * @example
 * ```ts
 * const web = await startAgentWeb({ host: '127.0.0.1', port: 8080, insecureBind: false }, { tagger, server, kv, statuses$, snapshot, version, logger });
 * // on SIGTERM:
 * await web.close();
 * ```
 */
export async function startAgentWeb(http: HttpConfig, sources: AgentWebSources): Promise<WebPageServer> {
  const status$ = combineLatest([sources.statuses$, timer(0, WEB_STATUS_INTERVAL)]).pipe(
    map(([statuses]) => webStatusOf(sources.snapshot(statuses), sources.version, sources.kv)),
  );
  try {
    const web = await serveWebPage({
      tagger: sources.tagger,
      status$,
      metrics: sources.server.registry,
      tokenFile: sources.server.tokenFile,
      host: http.host,
      port: http.port,
      insecureBind: http.insecureBind,
      logger: sources.logger,
    });
    sources.logger.info(`web page on ${web.url} (log in with the token in ${sources.server.tokenFile})`, { url: web.url });
    return web;
  } catch (error) {
    throw new CliRuntimeError('agent', `cannot serve the web page on ${http.host}:${String(http.port)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * The page's status from the agent's snapshot: the collectors' rows, the counts, the kvstore's
 * counters and peers.
 *
 * @example
 * ```ts
 * webStatusOf(snapshot, '1.2.0', undefined).collectors.map((c) => c.state);
 * ```
 */
export function webStatusOf(snapshot: StatusSnapshot, version: string, kv: Pick<AgentKvstore, 'peers'> | undefined): WebStatus {
  return {
    time: snapshot.time,
    version,
    address: snapshot.address,
    collectors: snapshot.collectors,
    entities: snapshot.entities,
    entitiesBySource: snapshot.entitiesBySource,
    ...(snapshot.kvstore === undefined || kv === undefined ? {} : { kvstore: { ...snapshot.kvstore, peers: kv.peers() } }),
  };
}
