import { chmod, stat, unlink } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Socket, connect as netConnect } from 'node:net';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import { type SchedulerLike, Subject, defer, fromEvent, takeUntil } from 'rxjs';
import { AmbiguousEntityIdError, InvalidCardinalityError, InvalidEntityIdError, TaggerNotRunningError } from '../tagger/errors.js';
import type { Tagger } from '../tagger/tagger.js';
import { type Logger, consoleLogger } from '../util/logger.js';
import { defaultSocketPath, defaultTokenFile, isLoopback } from './address.js';
import { IpcOptionError, IpcPermissionError, IpcRequestError } from './errors.js';
import { writeEventStream } from './event-stream.js';
import { ipcMetricsRegistry } from './metrics.js';
import { checkPrivatePath, isPermissionCode, preparePrivateDirectory } from './private-path.js';
import { type EntitiesResponse, type EntitySourcesResponse, type IpcRoute, type StatusResponse, type TagsResponse, errorResponse, parseRoute } from './protocol.js';
import { type ServerCounters, type ServerTelemetry, countRequest, createServerCounters, snapshotServerCounters } from './server-telemetry.js';
import { type TokenDigest, bearerMatches, readOrCreateToken, tokenDigest } from './token.js';

/** Options of {@link serveTagger}. Durations in milliseconds, sizes in bytes. */
export interface ServeTaggerOptions {
  /**
   * The unix socket to listen on (mode 0600). Its directory is created (0700) when missing. The
   * socket, its directories and the token file must be this user's or root's and not writable by
   * others, else `IpcPermissionError`. Default: {@link defaultSocketPath}, unless `port` is given.
   */
  readonly socketPath?: string;
  /** With `port`: the loopback address to listen on over TCP. Default: '127.0.0.1'. Only loopback is accepted. */
  readonly host?: string;
  /** Listen over TCP on this port (0: any free port) instead of a unix socket. */
  readonly port?: number;
  /**
   * The token file: read when it exists, otherwise a token is generated into it (mode 0600) and the
   * file is removed on close. Default: the socket path + `.token` (required over TCP).
   */
  readonly tokenFile?: string;
  /**
   * Write a fresh token into `tokenFile` even when it holds one (it is then removed on close too),
   * so that a token left by a server that crashed is not reused. Default: false (a token file that
   * exists is read and kept: a token provisioned for the clients).
   */
  readonly rotateToken?: boolean;
  /** Serve `GET /v1/health` without a token. Default: false (nothing is served without the token). */
  readonly healthCheck?: boolean;
  /**
   * What `GET /v1/status` answers (token required): called at each request, its result sent as
   * JSON. Default: none, and `/v1/status` is 404.
   */
  readonly status?: () => StatusResponse;
  /** The most event streams open at once; one more is answered 429. Default: 64. */
  readonly maxStreams?: number;
  /**
   * How far (bytes) a stream reader may fall behind on changes before it is cut. Not counted: what
   * is left of its initial burst, and one line larger than this bound that it is reading. Default: 1 MiB.
   */
  readonly maxStreamBacklog?: number;
  /**
   * A stream reader that takes no byte for this long while lines wait for it is closed and its slot
   * freed (counted in `streamsStalled`). Default: 30000.
   */
  readonly readerStallTimeout?: number;
  /** A `keepalive` line after this long without a line on a stream. Default: 15000. */
  readonly keepAliveInterval?: number;
  /** The longest request target; longer is answered 414. Default: 4096. */
  readonly maxUrlLength?: number;
  /** The most bytes of request line and headers; more is answered 431. Default: 16384. */
  readonly maxHeaderSize?: number;
  /** The longest a client may take to send its request headers. Default: 10000. */
  readonly headersTimeout?: number;
  /** Where refusals and cut streams are reported (never the token). Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
  /** The scheduler of the keep-alive timers. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
}

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
 * @example
 * ```ts
 * const tagger = createTagger({ collectors: [dockerCollector()] });
 * tagger.start();
 * const server = await serveTagger(tagger, { socketPath: '/run/tagstream/tagger.sock' });
 * process.on('SIGTERM', () => void server.close().then(() => tagger.stop()));
 * ```
 */
export async function serveTagger(tagger: Tagger, options: ServeTaggerOptions = {}): Promise<TaggerServer> {
  const settings = resolveSettings(options);
  // Every check before the token is touched: a server refused here never replaces a live server's token.
  if (settings.socketPath !== undefined) await prepareSocket(settings.socketPath);
  await preparePrivateDirectory(dirname(settings.tokenFile));
  const { token, created } = await readOrCreateToken(settings.tokenFile, { rotate: options.rotateToken === true });
  const server = new IpcServer(tagger, settings, tokenDigest(token), created);
  try {
    await server.listen();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

interface Settings {
  readonly socketPath: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  readonly tokenFile: string;
  readonly healthCheck: boolean;
  readonly status: (() => StatusResponse) | undefined;
  readonly maxStreams: number;
  readonly maxStreamBacklog: number;
  readonly readerStallTimeout: number;
  readonly keepAliveInterval: number;
  readonly maxUrlLength: number;
  readonly maxHeaderSize: number;
  readonly headersTimeout: number;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike | undefined;
}

function resolveSettings(options: ServeTaggerOptions): Settings {
  const overTcp = options.port !== undefined;
  if (overTcp && options.socketPath !== undefined) throw new IpcOptionError('port', 'give socketPath or port, not both');
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new IpcOptionError('host', `${JSON.stringify(host)} is not a loopback address: the server only listens on loopback`);
  if (overTcp && (!Number.isInteger(options.port) || (options.port ?? 0) < 0 || (options.port ?? 0) > 65_535)) {
    throw new IpcOptionError('port', `expected an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const socketPath = overTcp ? undefined : (options.socketPath ?? defaultSocketPath());
  let tokenFile = options.tokenFile;
  if (tokenFile === undefined) {
    if (socketPath === undefined) throw new IpcOptionError('tokenFile', 'a token file is required when listening over TCP');
    tokenFile = defaultTokenFile(socketPath);
  }
  return {
    socketPath,
    host,
    port: options.port,
    tokenFile,
    healthCheck: options.healthCheck ?? false,
    status: options.status,
    maxStreams: positive(options.maxStreams, 64, 'maxStreams'),
    maxStreamBacklog: positive(options.maxStreamBacklog, 1024 * 1024, 'maxStreamBacklog'),
    readerStallTimeout: positive(options.readerStallTimeout, 30_000, 'readerStallTimeout'),
    keepAliveInterval: positive(options.keepAliveInterval, 15_000, 'keepAliveInterval'),
    maxUrlLength: positive(options.maxUrlLength, 4096, 'maxUrlLength'),
    maxHeaderSize: positive(options.maxHeaderSize, 16_384, 'maxHeaderSize'),
    headersTimeout: positive(options.headersTimeout, 10_000, 'headersTimeout'),
    logger: options.logger ?? consoleLogger('warn'),
    scheduler: options.scheduler,
  };
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The bytes of burst lines written at once to a stream: about what one syncing reader costs the server. */
const STREAM_CHUNK_BYTES = 64 * 1024;
const UNAUTHORIZED = new IpcRequestError(401, 'Unauthorized', 'a valid "Authorization: Bearer <token>" header is required');

class IpcServer implements TaggerServer {
  address: string;
  readonly socketPath: string | undefined;
  url: string | undefined;
  readonly tokenFile: string;
  readonly registry: Registry;
  private readonly http: Server;
  private readonly counters: ServerCounters = createServerCounters();
  private readonly closing$ = new Subject<void>();
  private closed: Promise<void> | undefined;
  private listening = false;

  constructor(
    private readonly tagger: Tagger,
    private readonly settings: Settings,
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
    return snapshotServerCounters(this.counters);
  }

  async listen(): Promise<void> {
    const path = this.settings.socketPath;
    if (path === undefined) {
      await this.listenOn({ host: this.settings.host, port: this.settings.port ?? 0 });
      const address = this.http.address();
      const port = typeof address === 'object' && address !== null ? address.port : this.settings.port;
      const host = this.settings.host.includes(':') ? `[${this.settings.host}]` : this.settings.host;
      this.url = `http://${host}:${String(port)}`;
      this.address = this.url;
      this.listening = true;
      return;
    }
    try {
      await this.listenOn({ path });
    } catch (error) {
      const code = codeOf(error);
      if (isPermissionCode(code)) {
        throw new IpcPermissionError('socket', path, `cannot be created (${code}, permission denied)`, `run as a user who may write ${dirname(path)}, or choose another socket path`, { cause: error });
      }
      if (code !== 'EADDRINUSE') throw new IpcOptionError('socketPath', `cannot listen on ${path} (${code})`);
      if (await socketAnswers(path)) throw new IpcOptionError('socketPath', `${path} is in use (${code}): is another server running?`);
      // A socket file left by a server that died: nobody answers on it. Anything else stays.
      if (!(await stat(path)).isSocket()) throw new IpcOptionError('socketPath', `${path} exists and is not a socket: remove it or choose another path`);
      await unlink(path);
      await this.listenOn({ path });
    }
    this.listening = true;
    await chmod(path, 0o600);
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing$.next();
    this.closing$.complete();
    if (this.listening) {
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
      this.settings.logger.warn('could not remove the generated token file', { file: this.tokenFile, error: codeOf(error) });
    });
  }

  private listenOn(where: { readonly path: string } | { readonly host: string; readonly port: number }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(error);
      };
      this.http.once('error', onError);
      this.http.listen(where, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (this.closed !== undefined) {
      this.fail(res, 'none', new IpcRequestError(503, 'ShuttingDown', 'the server is closing'), { connection: 'close' });
      return;
    }
    const route = parseRoute(req.method, req.url, this.settings);
    if (route instanceof IpcRequestError && route.status === 414) {
      this.fail(res, 'none', route);
      return;
    }
    if (!(route instanceof IpcRequestError) && route.kind === 'health') {
      this.json(res, 'health', 200, { status: 'ok' });
      return;
    }
    if (!bearerMatches(this.digest, req.headers.authorization)) {
      this.counters.unauthorized += 1;
      this.fail(res, 'none', UNAUTHORIZED, { 'www-authenticate': 'Bearer' });
      return;
    }
    if (route instanceof IpcRequestError) {
      this.fail(res, 'none', route);
      return;
    }
    this.serve(route, res);
  }

  private serve(route: Exclude<IpcRoute, { kind: 'health' }>, res: ServerResponse): void {
    switch (route.kind) {
      case 'tags':
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
    const counters = this.counters;
    if (counters.openStreams >= this.settings.maxStreams) {
      counters.streamsRefused += 1;
      this.fail(res, 'events', new IpcRequestError(429, 'TooManyStreams', `${this.settings.maxStreams} event streams are open already; try again later`), { 'retry-after': '1' });
      return;
    }
    counters.openStreams += 1;
    counters.streams += 1;
    countRequest(counters, 'events', 200);
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
    writeEventStream(this.tagger, res, lineOptions, streamSettings, counters, this.closing$);
  }

  private json(res: ServerResponse, route: string, status: number, body: unknown): void {
    this.send(res, route, status, JSON_TYPE, JSON.stringify(body));
  }

  private fail(res: ServerResponse, route: string, error: IpcRequestError, headers: Readonly<Record<string, string>> = {}): void {
    this.send(res, route, error.status, JSON_TYPE, JSON.stringify(errorResponse(error)), headers);
  }

  private send(res: ServerResponse, route: string, status: number, type: string, body: string, headers: Readonly<Record<string, string>> = {}): void {
    countRequest(this.counters, route, status);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  /** Answers what Node's HTTP parser refused (not HTTP, headers too large) and closes the connection. */
  private refuseConnection(error: NodeJS.ErrnoException, socket: Socket): void {
    this.counters.malformed += 1;
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refusal =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new IpcRequestError(431, 'HeadersTooLarge', `the request line and headers exceed ${this.settings.maxHeaderSize} bytes`)
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new IpcRequestError(408, 'RequestTimeout', 'the request was not received in time')
          : new IpcRequestError(400, 'BadRequest', 'the request is not valid HTTP/1.1');
    countRequest(this.counters, 'none', refusal.status);
    const body = JSON.stringify(errorResponse(refusal));
    const reason = refusal.status === 431 ? 'Request Header Fields Too Large' : refusal.status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${refusal.status} ${reason}\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  }
}

function taggerFailure(error: unknown): IpcRequestError {
  if (error instanceof InvalidEntityIdError || error instanceof InvalidCardinalityError || error instanceof AmbiguousEntityIdError) {
    return new IpcRequestError(400, error.tag, error.message, { cause: error });
  }
  if (error instanceof TaggerNotRunningError) return new IpcRequestError(503, error.tag, error.message, { cause: error });
  return new IpcRequestError(500, 'Internal', 'the tagger failed to answer', { cause: error });
}

/** Creates the socket's directory, checks it and any socket there, and refuses a socket a live server holds. */
async function prepareSocket(path: string): Promise<void> {
  await preparePrivateDirectory(dirname(path));
  if ((await checkPrivatePath(path, 'socket')) && (await socketAnswers(path))) {
    throw new IpcOptionError('socketPath', `${path} is in use: is another server running?`);
  }
}

/** True when something accepts connections on the unix socket `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = netConnect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new IpcOptionError(name, `must be a positive number, got ${String(value)}`);
  return value;
}
