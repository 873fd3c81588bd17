/**
 * A test Kubernetes API server: it speaks the list and watch protocol of the real one over HTTP
 * (resourceVersions, `limit`/`continue` pagination, watch from a resourceVersion, bookmarks,
 * 410 Gone after compaction, list `fieldSelector`s such as `spec.nodeName=<node>`) and misbehaves
 * on demand (dropped connections, 500s, truncated bodies, stalled lists, expired continue tokens,
 * raw watch events such as stale ones). `writeKubeconfig()` writes
 * a real kubeconfig that points at it, so tests drive the real @kubernetes/client-node.
 *
 * Reusable by any suite that needs an API server: the pipeline's reader, the Kubernetes collector.
 *
 * @example
 * ```ts
 * const server = await startKubeApiServer();
 * server.create('pod', { metadata: { name: 'web-0', namespace: 'default' } });
 * const kc = new KubeConfig();
 * kc.loadFromFile(server.writeKubeconfig(tmpDir));
 * // ... later
 * server.dropWatches(); server.compact(); server.failNext(1, 500);
 * await server.close();
 * ```
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kinds this server serves, with their list paths and API identity. */
export const KUBE_KINDS = {
  pod: { path: '/api/v1/pods', apiVersion: 'v1', kind: 'Pod', listKind: 'PodList', namespaced: true },
  node: { path: '/api/v1/nodes', apiVersion: 'v1', kind: 'Node', listKind: 'NodeList', namespaced: false },
  namespace: { path: '/api/v1/namespaces', apiVersion: 'v1', kind: 'Namespace', listKind: 'NamespaceList', namespaced: false },
  persistentvolume: {
    path: '/api/v1/persistentvolumes',
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    listKind: 'PersistentVolumeList',
    namespaced: false,
  },
  service: { path: '/api/v1/services', apiVersion: 'v1', kind: 'Service', listKind: 'ServiceList', namespaced: true },
  endpoints: { path: '/api/v1/endpoints', apiVersion: 'v1', kind: 'Endpoints', listKind: 'EndpointsList', namespaced: true },
  deployment: {
    path: '/apis/apps/v1/deployments',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    listKind: 'DeploymentList',
    namespaced: true,
  },
} as const;

/** A kind served by the test server. */
export type KubeKind = keyof typeof KUBE_KINDS;

/** A stored object (JSON form). */
export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    uid: string;
    name: string;
    namespace?: string;
    resourceVersion: string;
    generation: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** What a test gives to `create`/`update`: any object with at least a name. */
export interface ObjectInput {
  metadata: { name: string; namespace?: string; uid?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** A request the server received (for assertions). */
export interface RecordedRequest {
  readonly kind: KubeKind | undefined;
  readonly watch: boolean;
  readonly query: Readonly<Record<string, string>>;
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  readonly rv: number;
  readonly kind: KubeKind;
  readonly type: WatchEventType;
  readonly object: StoredObject;
}

interface OpenWatch {
  readonly kind: KubeKind;
  readonly res: ServerResponse;
  readonly socket: Socket;
  readonly bookmarks: boolean;
}

/** Options of {@link startKubeApiServer}. */
export interface KubeApiServerOptions {
  /** The bearer token the kubeconfig carries and the server requires (default 'test-token'). */
  readonly token?: string;
  /** The first resourceVersion (default 1000). */
  readonly initialResourceVersion?: number;
}

/** A running test API server. */
export interface KubeApiServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** The current resourceVersion. */
  resourceVersion(): string;
  /** Stores a new object (uid, resourceVersion, generation and timestamp filled in) and notifies watches. */
  create(kind: KubeKind, input: ObjectInput): StoredObject;
  /** Replaces the object of that uid (or namespace/name), bumping resourceVersion and generation. */
  update(kind: KubeKind, input: ObjectInput): StoredObject;
  /** Deletes an object by uid; returns it (with the deletion's resourceVersion), or undefined. */
  remove(kind: KubeKind, uid: string): StoredObject | undefined;
  /** The objects stored now. */
  list(kind: KubeKind): StoredObject[];
  /** Forgets the watch history: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void;
  /** Sends a BOOKMARK at the current resourceVersion to every open watch that asked for bookmarks. */
  bookmark(): void;
  /** Destroys the socket of every open watch (an abrupt disconnect, no clean end). */
  dropWatches(): void;
  /** Ends every open watch cleanly, as the server does at `timeoutSeconds`. */
  endWatches(): void;
  /** The next `count` requests (of `on`, default any) answer `status` with a Status body. */
  failNext(count: number, status: number, on?: 'list' | 'watch'): void;
  /** The next list response is cut in the middle of its JSON body and its socket destroyed. */
  truncateNextList(): void;
  /** The next `count` list requests get no answer at all (the connection stays open until `close()`). */
  stallNextList(count?: number): void;
  /** The next watch answers 410 Gone: as an ERROR event on a 200 (`event`, like the real server) or as HTTP 410. */
  goneNextWatch(mode?: 'event' | 'http'): void;
  /** Continue tokens handed out so far are refused with 410 Expired. */
  expireContinueTokens(): void;
  /** The next request that carries a continue token is refused with 410 Expired. */
  expireNextContinue(): void;
  /** Writes a raw watch event to every open watch of `kind` (for stale or malformed events). */
  sendRaw(kind: KubeKind, event: unknown): void;
  /** How many watches (of `kind`, default any) are open now. */
  openWatches(kind?: KubeKind): number;
  /** Writes a kubeconfig pointing at this server into `dir`; returns its path. */
  writeKubeconfig(dir: string): string;
  /** Stops the server, destroying open connections. */
  close(): Promise<void>;
}

const statusBody = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

/** A field's value at a dotted path (`spec.nodeName`), as a string ('' when absent). */
function fieldAt(object: unknown, path: string): string {
  let at: unknown = object;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null) return '';
    at = (at as Record<string, unknown>)[part];
  }
  return typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? String(at) : '';
}

/**
 * The objects a list `fieldSelector` keeps (`spec.nodeName=node-a`, `a==b`, `a!=b`, comma = and);
 * every object without a selector; undefined for a selector it cannot read.
 */
function selectFields(objects: StoredObject[], selector: string | undefined): StoredObject[] | undefined {
  if (selector === undefined || selector === '') return objects;
  const terms: { path: string; value: string; equal: boolean }[] = [];
  for (const term of selector.split(',')) {
    const match = /^([A-Za-z0-9_.]+)(!=|==|=)(.*)$/.exec(term.trim());
    if (match === null) return undefined;
    terms.push({ path: match[1]!, value: match[3]!, equal: match[2] !== '!=' });
  }
  return objects.filter((o) => terms.every((t) => (fieldAt(o, t.path) === t.value) === t.equal));
}

/**
 * Starts a test API server on a free port of 127.0.0.1.
 *
 * @example
 * ```ts
 * const server = await startKubeApiServer();
 * ```
 */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const token = options.token ?? 'test-token';
  let rv = options.initialResourceVersion ?? 1000;
  const stores = new Map<KubeKind, Map<string, StoredObject>>(
    (Object.keys(KUBE_KINDS) as KubeKind[]).map((k) => [k, new Map()]),
  );
  let history: HistoryEvent[] = [];
  let compactedAt = rv;
  const watches = new Set<OpenWatch>();
  const sockets = new Set<Socket>();
  const requests: RecordedRequest[] = [];
  const failures: { status: number; on: 'list' | 'watch' | undefined }[] = [];
  let truncateList = false;
  let stallLists = 0;
  const stalled: ServerResponse[] = [];
  let goneWatch: 'event' | 'http' | undefined;
  const snapshots = new Map<string, { items: StoredObject[]; rv: string; kind: KubeKind }>();
  let continueGeneration = 0;
  let expireNext = false;

  const storeOf = (kind: KubeKind): Map<string, StoredObject> => stores.get(kind)!;

  const writeEvent = (w: OpenWatch, event: unknown): void => {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify(event)}\n`);
  };

  const publish = (kind: KubeKind, type: WatchEventType, object: StoredObject): void => {
    const event: HistoryEvent = { rv: Number(object.metadata.resourceVersion), kind, type, object };
    history.push(event);
    for (const w of watches) if (w.kind === kind) writeEvent(w, { type, object });
  };

  const decorate = (kind: KubeKind, object: StoredObject): StoredObject => ({
    ...object,
    apiVersion: KUBE_KINDS[kind].apiVersion,
    kind: KUBE_KINDS[kind].kind,
  });

  const kindOf = (path: string): KubeKind | undefined =>
    (Object.keys(KUBE_KINDS) as KubeKind[]).find((k) => KUBE_KINDS[k].path === path);

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handleList = (res: ServerResponse, kind: KubeKind, query: Record<string, string>): void => {
    const limit = query['limit'] === undefined ? 0 : Number(query['limit']);
    let snapshot: { items: StoredObject[]; rv: string; kind: KubeKind };
    let offset = 0;
    const token = query['continue'];
    if (token !== undefined && token !== '') {
      const [gen, id, at] = token.split(':');
      const found = id === undefined ? undefined : snapshots.get(id);
      if (expireNext || Number(gen) !== continueGeneration || found === undefined || found.kind !== kind) {
        expireNext = false;
        send(res, 410, statusBody(410, 'Expired', 'The provided continue parameter is too old'));
        return;
      }
      snapshot = found;
      offset = Number(at);
    } else {
      const selected = selectFields([...storeOf(kind).values()], query['fieldSelector']);
      if (selected === undefined) {
        send(res, 400, statusBody(400, 'BadRequest', `unsupported field selector ${query['fieldSelector'] ?? ''}`));
        return;
      }
      snapshot = { items: selected, rv: String(rv), kind };
    }
    const end = limit > 0 ? Math.min(snapshot.items.length, offset + limit) : snapshot.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: snapshot.rv };
    if (end < snapshot.items.length) {
      const id = randomUUID();
      snapshots.set(id, snapshot);
      metadata['continue'] = `${continueGeneration}:${id}:${end}`;
      metadata['remainingItemCount'] = snapshot.items.length - end;
    }
    const body = {
      kind: KUBE_KINDS[kind].listKind,
      apiVersion: KUBE_KINDS[kind].apiVersion,
      metadata,
      items: snapshot.items.slice(offset, end).map((o) => decorate(kind, o)),
    };
    if (truncateList) {
      truncateList = false;
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
      setTimeout(() => res.socket?.destroy(), 5);
      return;
    }
    send(res, 200, body);
  };

  const handleWatch = (req: IncomingMessage, res: ServerResponse, kind: KubeKind, query: Record<string, string>): void => {
    const from = query['resourceVersion'] === undefined || query['resourceVersion'] === '' ? rv : Number(query['resourceVersion']);
    if (goneWatch === 'http') {
      goneWatch = undefined;
      send(res, 410, statusBody(410, 'Gone', 'too old resource version'));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: OpenWatch = { kind, res, socket: req.socket, bookmarks: query['allowWatchBookmarks'] === 'true' };
    if (goneWatch === 'event' || from < compactedAt) {
      goneWatch = undefined;
      writeEvent(w, { type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${from} (${compactedAt})`) });
      res.end();
      return;
    }
    watches.add(w);
    res.on('close', () => watches.delete(w));
    for (const event of history) if (event.kind === kind && event.rv > from) writeEvent(w, { type: event.type, object: event.object });
    const timeout = Number(query['timeoutSeconds'] ?? 0);
    if (timeout > 0) {
      const timer = setTimeout(() => res.end(), timeout * 1000);
      res.on('close', () => {
        clearTimeout(timer);
      });
    }
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    const kind = kindOf(url.pathname);
    const watch = query['watch'] === 'true' || query['watch'] === '1';
    requests.push({ kind, watch, query });
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (kind === undefined || req.method !== 'GET') {
      send(res, 404, statusBody(404, 'NotFound', `the server could not find the requested resource ${url.pathname}`));
      return;
    }
    const failure = failures.findIndex((f) => f.on === undefined || f.on === (watch ? 'watch' : 'list'));
    if (failure >= 0) {
      const { status } = failures[failure]!;
      failures.splice(failure, 1);
      send(res, status, statusBody(status, 'InternalError', 'an error on demand'));
      return;
    }
    if (!watch && stallLists > 0) {
      stallLists -= 1;
      stalled.push(res);
      return;
    }
    if (watch) handleWatch(req, res, kind, query);
    else handleList(res, kind, query);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const findUid = (kind: KubeKind, input: ObjectInput): string | undefined => {
    if (input.metadata.uid !== undefined) return input.metadata.uid;
    const namespace = KUBE_KINDS[kind].namespaced ? (input.metadata.namespace ?? 'default') : undefined;
    for (const o of storeOf(kind).values()) {
      if (o.metadata.name === input.metadata.name && o.metadata.namespace === namespace) return o.metadata.uid;
    }
    return undefined;
  };

  return {
    url,
    requests,
    resourceVersion: () => String(rv),
    create(kind, input) {
      rv += 1;
      const object = decorate(kind, {
        ...input,
        metadata: {
          ...input.metadata,
          ...(KUBE_KINDS[kind].namespaced ? { namespace: input.metadata.namespace ?? 'default' } : {}),
          uid: input.metadata.uid ?? randomUUID(),
          resourceVersion: String(rv),
          generation: 1,
          creationTimestamp: new Date(0).toISOString().replace('.000Z', 'Z'),
        },
      });
      storeOf(kind).set(object.metadata.uid, object);
      publish(kind, 'ADDED', object);
      return object;
    },
    update(kind, input) {
      const uid = findUid(kind, input);
      const old = uid === undefined ? undefined : storeOf(kind).get(uid);
      if (old === undefined) throw new Error(`update: no ${kind} ${input.metadata.name}`);
      rv += 1;
      const object = decorate(kind, {
        ...input,
        metadata: { ...old.metadata, ...input.metadata, uid: old.metadata.uid, resourceVersion: String(rv), generation: old.metadata.generation + 1 },
      });
      storeOf(kind).set(object.metadata.uid, object);
      publish(kind, 'MODIFIED', object);
      return object;
    },
    remove(kind, uid) {
      const old = storeOf(kind).get(uid);
      if (old === undefined) return undefined;
      storeOf(kind).delete(uid);
      rv += 1;
      const object = { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } };
      publish(kind, 'DELETED', object);
      return object;
    },
    list: (kind) => [...storeOf(kind).values()],
    compact() {
      history = [];
      compactedAt = rv;
    },
    bookmark() {
      for (const w of watches) {
        if (w.bookmarks) {
          writeEvent(w, {
            type: 'BOOKMARK',
            object: { kind: KUBE_KINDS[w.kind].kind, apiVersion: KUBE_KINDS[w.kind].apiVersion, metadata: { resourceVersion: String(rv) } },
          });
        }
      }
    },
    dropWatches() {
      for (const w of watches) w.socket.destroy();
      watches.clear();
    },
    endWatches() {
      for (const w of watches) w.res.end();
      watches.clear();
    },
    failNext(count, status, on) {
      for (let i = 0; i < count; i += 1) failures.push({ status, on });
    },
    truncateNextList() {
      truncateList = true;
    },
    stallNextList(count = 1) {
      stallLists += count;
    },
    goneNextWatch(mode = 'event') {
      goneWatch = mode;
    },
    expireNextContinue() {
      expireNext = true;
    },
    expireContinueTokens() {
      continueGeneration += 1;
      snapshots.clear();
    },
    sendRaw(kind, event) {
      for (const w of watches) if (w.kind === kind) writeEvent(w, event);
    },
    openWatches: (kind) => [...watches].filter((w) => kind === undefined || w.kind === kind).length,
    writeKubeconfig(dir) {
      const file = join(dir, 'kubeconfig');
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'tester', user: { token } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'tester' } }],
        'current-context': 'test',
      };
      writeFileSync(file, JSON.stringify(config, null, 2));
      return file;
    },
    async close() {
      stalled.length = 0;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
