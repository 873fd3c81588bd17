import { unlink } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import { Subject, defer, finalize, fromEvent, merge, mergeMap, take, takeUntil, throwError } from 'rxjs';
import type { Tagger } from '../tagger/contract.js';
import { IpcRequestError } from './errors.js';
import { writeEventStream } from './event-stream.js';
import { ipcMetricsRegistry } from './metrics.js';
import { preparePrivateDirectory } from './private-path.js';
import { type EntitiesResponse, type EntitySourcesResponse, type IpcRoute, type StatusResponse, type TagsResponse, errorResponse, parseRoute } from './protocol.js';
import { type ServeTaggerOptions, type ServerSettings, resolveServerSettings } from './server-options.js';
import { type ServedRoute, connectionRefusal, decideRequest, reasonPhrase, shuttingDown, taggerFailure, tooManyStreams } from './server-requests.js';
import { errorCode, listenOn, listenOnSocket, prepareSocket } from './server-socket.js';
import { type ServerEvent, type ServerState, admitsStream, admitsWait, initialServerState, reduceServerState, serverTelemetry } from './server-state.js';
import type { ServerTelemetry } from './server-telemetry.js';
import { type TokenDigest, bearerMatches, readOrCreateToken, tokenDigest } from './token.js';

export type { ServeTaggerOptions } from './server-options.js';

/** A running IPC server (see {@link serveTagger}). */
export interface TaggerServer {
  /** `unix:<path>` or `http://<host>:<port>`. */
  readonly address: string;
  /** The unix socket, when listening on one. */
  readonly socketPath: string | undefined;
  /** The base URL, when listening over TCP. */
  readonly url: string | undefined;
  /** Where clients read the token. */
  readonly tokenFile: string;
  /** The Prometheus registry served at `/v1/metrics` (the tagger's telemetry and the server's). */
  readonly registry: Registry;
  /** A snapshot of the server's counters. */
  telemetry(): ServerTelemetry;
  /** Ends every stream cleanly, stops listening, removes the socket (and a generated token file). Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves a Tagger over HTTP/1.1 on a unix socket (default, mode 0600) or on loopback TCP. Every
 * request needs `Authorization: Bearer <token>`; the token is read from `tokenFile`, or generated
 * there. See docs/ipc.md for the protocol.
 *
 * The server is split by concern: its options (server-options.ts), its state machine — lifecycle,
 * stream slots, counters — (server-state.ts), what each request gets (server-requests.ts), its
 * socket (server-socket.ts), each event stream (event-stream.ts); this file is the IO between them.
 *
 * @example
 * ```ts
 * const tagger = createTagger({ collectors: [dockerCollector()] });
 * tagger.start();
 * const server = await serveTagger(tagger, { socketPath: '/run/tagstream/tagger.sock' });
 * process.on('SIGTERM', () => void server.close().then(() => tagger.stop()));
 * ```
 */
export async function serveTagger(tagger: Tagger, options: ServeTaggerOptions = {}): Promise<TaggerServer> {
  const settings = resolveServerSettings(options);
  // Every check before the token is touched: a server refused here never replaces a live server's token.
  if (settings.socketPath !== undefined) await prepareSocket(settings.socketPath);
  await preparePrivateDirectory(dirname(settings.tokenFile));
  const { token, created } = await readOrCreateToken(settings.tokenFile, { rotate: settings.rotateToken });
  const server = new IpcServer(tagger, settings, tokenDigest(token), created);
  try {
    await server.listen();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The bytes of burst lines written at once to a stream: about what one syncing reader costs the server. */
const STREAM_CHUNK_BYTES = 64 * 1024;

class IpcServer implements TaggerServer {
  address: string;
  readonly socketPath: string | undefined;
  url: string | undefined;
  readonly tokenFile: string;
  readonly registry: Registry;
  private readonly http: Server;
  private state: ServerState = initialServerState();
  /** Tells every open stream to end cleanly. */
  private readonly closing$ = new Subject<void>();
  private closed: Promise<void> | undefined;
  private readonly dispatch = (event: ServerEvent): void => {
    this.state = reduceServerState(this.state, event);
  };

  constructor(
    private readonly tagger: Tagger,
    private readonly settings: ServerSettings,
    private readonly digest: TokenDigest,
    private readonly tokenCreated: boolean,
  ) {
    this.socketPath = settings.socketPath;
    this.tokenFile = settings.tokenFile;
    this.address = settings.socketPath === undefined ? `http://${settings.host}:${String(settings.port)}` : `unix:${settings.socketPath}`;
    this.registry = ipcMetricsRegistry(() => tagger.telemetry(), () => this.telemetry());
    this.http = createServer({
      maxHeaderSize: settings.maxHeaderSize,
      headersTimeout: settings.headersTimeout,
      requestTimeout: settings.headersTimeout * 2,
      // How often slow senders are looked for (Node's default, 30 s, lets a slow client hold a socket long).
      connectionsCheckingInterval: Math.min(1000, settings.headersTimeout),
    });
    this.http.keepAliveTimeout = 5000;
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res);
    });
    this.http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      this.refuseConnection(error, socket);
    });
  }

  telemetry(): ServerTelemetry {
    return serverTelemetry(this.state);
  }

  async listen(): Promise<void> {
    const path = this.settings.socketPath;
    if (path !== undefined) {
      await listenOnSocket(this.http, path);
    } else {
      await listenOn(this.http, { host: this.settings.host, port: this.settings.port ?? 0 });
      const address = this.http.address();
      const port = typeof address === 'object' && address !== null ? address.port : this.settings.port;
      const host = this.settings.host.includes(':') ? `[${this.settings.host}]` : this.settings.host;
      this.url = `http://${host}:${String(port)}`;
      this.address = this.url;
    }
    this.dispatch({ type: 'listening' });
  }

  close(): Promise<void> {
    if (this.closed === undefined) {
      this.dispatch({ type: 'closing' });
      this.closed = this.shutdown();
    }
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing$.next();
    this.closing$.complete();
    if (this.http.listening) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          this.http.closeAllConnections();
        }, 1000);
        force.unref();
        this.http.close(() => {
          clearTimeout(force);
          resolve();
        });
        this.http.closeIdleConnections();
      });
    }
    if (this.tokenCreated) await unlink(this.tokenFile).catch((error: unknown) => {
      this.settings.logger.warn('could not remove the generated token file', { file: this.tokenFile, error: errorCode(error) });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const decision = decideRequest(this.state.phase, parseRoute(req.method, req.url, this.settings), () => bearerMatches(this.digest, req.headers.authorization));
    switch (decision.kind) {
      case 'refuse':
        if (decision.unauthorized) this.dispatch({ type: 'unauthorized' });
        this.fail(res, 'none', decision.error, decision.headers);
        return;
      case 'health':
        this.json(res, 'health', 200, { status: 'ok' });
        return;
      case 'serve':
        this.serve(decision.route, res);
        return;
    }
  }

  private serve(route: ServedRoute, res: ServerResponse): void {
    switch (route.kind) {
      case 'tags':
        if (route.wait !== undefined) {
          this.lookup(route, route.wait, res);
          return;
        }
        defer(() => this.tagger.tag(route.entity, route.cardinality))
          .pipe(takeUntil(fromEvent(res, 'close')))
          .subscribe({
            next: (tags) => {
              const body: TagsResponse = { entity: route.entity, cardinality: route.cardinality, tags };
              this.json(res, 'tags', 200, body);
            },
            error: (error: unknown) => {
              this.fail(res, 'tags', taggerFailure(error));
            },
          });
        return;
      case 'entities': {
        const prefixes = route.prefixes;
        if (route.sources) {
          const detailed: EntitySourcesResponse = { entities: this.tagger.listSources(prefixes) };
          this.json(res, 'entities', 200, detailed);
          return;
        }
        const entities = this.tagger
          .list()
          .filter((e) => prefixes.length === 0 || prefixes.some((p) => e.entity.startsWith(p)))
          .map((e) => ({ entity: e.entity, sources: e.sources, tags: { low: e.tags.low, orchestrator: e.tags.orchestrator, high: e.tags.high } }));
        const body: EntitiesResponse = { entities };
        this.json(res, 'entities', 200, body);
        return;
      }
      case 'metrics':
        defer(() => this.registry.metrics())
          .pipe(takeUntil(fromEvent(res, 'close')))
          .subscribe({
            next: (text) => {
              this.send(res, 'metrics', 200, this.registry.contentType, text);
            },
            error: (error: unknown) => {
              this.fail(res, 'metrics', new IpcRequestError(500, 'Internal', 'the metrics could not be collected', { cause: error }));
            },
          });
        return;
      case 'events':
        this.stream(route, res);
        return;
      case 'status':
        this.serveStatus(res);
        return;
    }
  }

  /**
   * A tags query with `wait`: the tagger's `lookup`, waiting up to `wait` cut to `maxQueryWait`
   * for the entity to be complete (not at all when `maxWaitingQueries` wait already: then it is
   * answered as a plain query, after any fetch on miss). A waiting query holds
   * a slot of the state machine until it is answered, its client goes, or the server closes (it is
   * then answered 503 `ShuttingDown` at once).
   */
  private lookup(route: Extract<ServedRoute, { kind: 'tags' }>, asked: number, res: ServerResponse): void {
    const capped = Math.min(asked, this.settings.maxQueryWait);
    const admitted = capped > 0 && admitsWait(this.state, this.settings.maxWaitingQueries);
    if (capped > 0 && !admitted) this.dispatch({ type: 'wait-refused' });
    if (admitted) this.dispatch({ type: 'wait-started' });
    const wait = admitted ? capped : 0;
    const closing$ = this.closing$.pipe(mergeMap(() => throwError(() => shuttingDown())));
    // No wait is a plain look (not a lookup that could be counted incomplete at its deadline).
    const options = wait > 0 ? { cardinality: route.cardinality, waitForComplete: wait } : { cardinality: route.cardinality };
    merge(defer(() => this.tagger.lookup(route.entity, options)), closing$)
      .pipe(
        take(1),
        takeUntil(fromEvent(res, 'close')),
        finalize(() => {
          if (admitted) this.dispatch({ type: 'wait-ended' });
        }),
      )
      .subscribe({
        next: ({ tags, complete, missing }) => {
          const body: TagsResponse = { entity: route.entity, cardinality: route.cardinality, tags, complete, missing, wait };
          this.json(res, 'tags', 200, body);
        },
        error: (error: unknown) => {
          if (error instanceof IpcRequestError) this.fail(res, 'tags', error, { connection: 'close' });
          else this.fail(res, 'tags', taggerFailure(error));
        },
      });
  }

  private serveStatus(res: ServerResponse): void {
    const provider = this.settings.status;
    if (provider === undefined) {
      this.fail(res, 'status', new IpcRequestError(404, 'NotFound', 'this server gives no status (serveTagger was started without a status provider)'));
      return;
    }
    let body: StatusResponse;
    try {
      body = provider();
    } catch (error) {
      this.settings.logger.warn('the status provider failed', { error });
      this.fail(res, 'status', new IpcRequestError(500, 'Internal', 'the status could not be computed', { cause: error }));
      return;
    }
    this.json(res, 'status', 200, body);
  }

  private stream(route: Extract<IpcRoute, { kind: 'events' }>, res: ServerResponse): void {
    if (!admitsStream(this.state, this.settings.maxStreams)) {
      this.dispatch({ type: 'stream-refused' });
      this.fail(res, 'events', tooManyStreams(this.settings.maxStreams), { 'retry-after': '1' });
      return;
    }
    this.dispatch({ type: 'stream-opened' });
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    const lineOptions = {
      cardinality: route.cardinality,
      prefixes: route.prefixes,
      levels: route.levels,
      keepAliveInterval: this.settings.keepAliveInterval,
      ...(this.settings.scheduler === undefined ? {} : { scheduler: this.settings.scheduler }),
    };
    const streamSettings = {
      maxBacklog: this.settings.maxStreamBacklog,
      stallTimeout: this.settings.readerStallTimeout,
      chunkBytes: STREAM_CHUNK_BYTES,
      logger: this.settings.logger,
      scheduler: this.settings.scheduler,
    };
    writeEventStream(this.tagger, res, lineOptions, streamSettings, this.dispatch, this.closing$);
  }

  private json(res: ServerResponse, route: string, status: number, body: unknown): void {
    this.send(res, route, status, JSON_TYPE, JSON.stringify(body));
  }

  private fail(res: ServerResponse, route: string, error: IpcRequestError, headers: Readonly<Record<string, string>> = {}): void {
    this.send(res, route, error.status, JSON_TYPE, JSON.stringify(errorResponse(error)), headers);
  }

  private send(res: ServerResponse, route: string, status: number, type: string, body: string, headers: Readonly<Record<string, string>> = {}): void {
    this.dispatch({ type: 'answered', route, status });
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  /** Answers what Node's HTTP parser refused (not HTTP, headers too large) and closes the connection. */
  private refuseConnection(error: NodeJS.ErrnoException, socket: Socket): void {
    this.dispatch({ type: 'malformed' });
    const refusal = connectionRefusal(error.code, socket.writable, this.settings.maxHeaderSize);
    if (refusal === undefined) {
      socket.destroy();
      return;
    }
    this.dispatch({ type: 'answered', route: 'none', status: refusal.status });
    const body = JSON.stringify(errorResponse(refusal));
    socket.end(
      `HTTP/1.1 ${refusal.status} ${reasonPhrase(refusal.status)}\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  }
}
