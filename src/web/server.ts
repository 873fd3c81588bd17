/**
 * The agent's web page: a status page over HTTP on loopback (by default), behind a login with the
 * agent's token. Serves the page, its script and style sheet, and its data (`/api/status`,
 * `/api/events` as server-sent events, `/metrics`); nothing else, and nothing that changes state
 * but the login.
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Registry } from 'prom-client';
import { type Observable, Subject, bufferTime, concat, defer, filter, firstValueFrom, fromEvent, interval, map, merge, of, takeUntil, timer } from 'rxjs';
import { isLoopback } from '../ipc/address.js';
import { readTokenFile } from '../ipc/token.js';
import type { TagEvent, Tagger } from '../tagger/contract.js';
import { type Logger, consoleLogger } from '../util/logger.js';
import { WebOptionError } from './errors.js';
import { PAGE_SCRIPT, STATUS_PAGE, STYLE_SHEET, loginPage } from './page.js';
import { type Sessions, createSessions, tokenMatches } from './session.js';
import type { WebEntity, WebEntityChange, WebStatus } from './types.js';

/**
 * The Content-Security-Policy of every answer: only the page's own script, style sheet and data;
 * no inline script or style, no frame, no form posted elsewhere.
 */
export const WEB_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Options of {@link serveWebPage}. Durations in milliseconds. */
export interface ServeWebPageOptions {
  /** The tagger whose entities the page lists (`listSources`) and follows (`events$`). */
  readonly tagger: Pick<Tagger, 'events$' | 'listSources'>;
  /** The agent's status: each value is sent to the open pages; the first answers `/api/status`. */
  readonly status$: Observable<WebStatus>;
  /** The Prometheus registry served at `/metrics` (the IPC server's). */
  readonly metrics: Registry;
  /** The file holding the token a browser logs in with (the agent's IPC token file). */
  readonly tokenFile: string;
  /** The address to listen on. Default: '127.0.0.1'. Anything but loopback needs `insecureBind`. */
  readonly host?: string;
  /** The port (0: any free port). Default: 0. */
  readonly port?: number;
  /**
   * Listen on an address that is not loopback: the page then goes over plain HTTP to whoever can
   * reach the port (the token and the session cookie included). Logged as a warning. Default: false.
   */
  readonly insecureBind?: boolean;
  /** How long a login lasts. Default: 12 hours. */
  readonly sessionTtl?: number;
  /** The most event streams open at once; one more is answered 429. Default: 16. */
  readonly maxStreams?: number;
  /** How long changes are gathered into one `changes` event. Default: 200. */
  readonly batchWindow?: number;
  /** A comment line after this long on a stream, so that proxies keep it open. Default: 15000. */
  readonly keepAliveInterval?: number;
  /** Where the start, refusals and failed logins are reported (never the token). Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
}

/** A running web page (see {@link serveWebPage}). */
export interface WebPageServer {
  /** `http://host:port/`. */
  readonly url: string;
  /** Ends every stream, stops listening. Idempotent. */
  close(): Promise<void>;
}

const MAX_LOGIN_BODY = 4096;
/** Wrong tokens tolerated per {@link LOGIN_WINDOW}; more are answered 429 until the window passes. */
const MAX_LOGIN_FAILURES = 5;
const LOGIN_WINDOW = 10_000;
/** A stream reader this far behind (bytes waiting) is cut; the page reconnects and gets a fresh snapshot. */
const MAX_STREAM_BACKLOG = 8 * 1024 * 1024;

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Serves the agent's status page: `GET /` (the page, or the login form without a session),
 * `POST /login` (the token in a form body; sets an HttpOnly SameSite=Strict session cookie),
 * `GET /app.js`, `GET /app.css`, `GET /api/status`, `GET /api/events` (server-sent events) and
 * `GET /metrics`. Every answer carries a strict Content-Security-Policy ({@link WEB_CSP}); anything
 * else is 404, another method 405. Rejects with {@link WebOptionError} for an address that is not
 * loopback without `insecureBind`, or one it cannot listen on. See docs/agent.md.
 *
 * @example
 * ```ts
 * const page = await serveWebPage({ tagger, status$, metrics: server.registry, tokenFile: server.tokenFile, port: 8080 });
 * console.log(`open ${page.url}`);
 * ```
 */
export async function serveWebPage(options: ServeWebPageOptions): Promise<WebPageServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const logger = options.logger ?? consoleLogger('warn');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new WebOptionError('port', `expected an integer from 0 to 65535, got ${String(port)}`);
  const loopback = isLoopback(host);
  if (!loopback && options.insecureBind !== true) {
    throw new WebOptionError('host', `${JSON.stringify(host)} is not a loopback address: the page goes over plain HTTP, so it listens on loopback only unless told otherwise (--http-insecure-bind)`);
  }
  const token = await readTokenFile(options.tokenFile);
  const page = new WebPage(options, createHash('sha256').update(token, 'utf8').digest(), loopback, logger);
  await page.listen(host, port);
  if (!loopback) logger.warn(`the web page listens on ${page.url}, which is not loopback: the token and the session cookie cross the network in clear text`, { url: page.url });
  return page;
}

class WebPage implements WebPageServer {
  url = '';
  private readonly http: Server;
  private readonly sessions: Sessions;
  private readonly closing$ = new Subject<void>();
  private closed: Promise<void> | undefined;
  private openStreams = 0;
  private failures: number[] = [];
  private allowedHosts: ReadonlySet<string> = new Set();

  constructor(
    private readonly options: ServeWebPageOptions,
    private readonly digest: Buffer,
    private readonly loopback: boolean,
    private readonly logger: Logger,
  ) {
    this.sessions = createSessions({ ttl: options.sessionTtl ?? 12 * 3600_000, max: 64 });
    this.http = createServer({ maxHeaderSize: 16_384, headersTimeout: 10_000, requestTimeout: 20_000 });
    this.http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res);
    });
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.http.once('error', (error: NodeJS.ErrnoException) => {
        reject(new WebOptionError('port', `cannot listen on ${host}:${String(port)} (${error.code ?? error.message})`, { cause: error }));
      });
      this.http.listen({ host, port }, () => {
        const address = this.http.address();
        const bound = typeof address === 'object' && address !== null ? address.port : port;
        const shown = host.includes(':') ? `[${host}]` : host;
        this.url = `http://${shown}:${String(bound)}/`;
        // Loopback: only the names of this address are accepted as Host, so that a page of another
        // site cannot reach the server through a name of its own that resolves to 127.0.0.1.
        this.allowedHosts = new Set([`${shown}:${String(bound)}`, `localhost:${String(bound)}`, `127.0.0.1:${String(bound)}`, `[::1]:${String(bound)}`]);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing$.next();
      this.closing$.complete();
      this.http.close(() => {
        resolve();
      });
      this.http.closeAllConnections();
    });
    return this.closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.loopback && !this.allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      req.resume();
      this.send(res, 421, 'text/plain; charset=utf-8', 'unknown host\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/login') {
      if (req.method === 'POST') {
        this.login(req, res);
        return;
      }
      req.resume();
      this.send(res, 405, 'text/plain; charset=utf-8', 'POST only\n', { allow: 'POST' });
      return;
    }
    req.resume();
    if (req.method !== 'GET') {
      this.send(res, 405, 'text/plain; charset=utf-8', 'GET only\n', { allow: 'GET' });
      return;
    }
    if (path === '/app.css') {
      this.send(res, 200, 'text/css; charset=utf-8', STYLE_SHEET);
      return;
    }
    const known = path === '/' || path === '/app.js' || path === '/api/status' || path === '/api/events' || path === '/metrics';
    if (!known) {
      this.send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    if (!this.sessions.valid(req.headers.cookie)) {
      if (path === '/') this.send(res, 401, HTML, loginPage('none'));
      else this.send(res, 401, JSON_TYPE, JSON.stringify({ error: 'Unauthorized', message: 'log in first' }));
      return;
    }
    switch (path) {
      case '/':
        this.send(res, 200, HTML, STATUS_PAGE);
        return;
      case '/app.js':
        this.send(res, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT);
        return;
      case '/api/status':
        firstValueFrom(this.options.status$).then(
          (status) => {
            this.send(res, 200, JSON_TYPE, JSON.stringify(status));
          },
          (error: unknown) => {
            this.logger.error('web page: the status failed', { error });
            this.send(res, 500, JSON_TYPE, JSON.stringify({ error: 'Internal', message: 'the status failed' }));
          },
        );
        return;
      case '/metrics':
        this.options.metrics.metrics().then(
          (text) => {
            this.send(res, 200, this.options.metrics.contentType, text);
          },
          (error: unknown) => {
            this.logger.error('web page: the metrics failed', { error });
            this.send(res, 500, 'text/plain; charset=utf-8', 'the metrics failed\n');
          },
        );
        return;
      default:
        this.stream(res, this.sessions.remaining(req.headers.cookie) ?? 0);
    }
  }

  /** `POST /login`: a same-origin form with the token; a session cookie and a redirect to the page. */
  private login(req: IncomingMessage, res: ServerResponse): void {
    // Only this page's own form (CSRF): a browser says where a request comes from in
    // Sec-Fetch-Site, which a page cannot forge (its Origin is `null` here, as the page sends no
    // referrer); without it (an older browser, a script), the Origin, when sent, must be this one.
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    const sameOrigin = site === undefined ? origin === undefined || origin === `http://${req.headers.host ?? ''}` : site === 'same-origin';
    if (!sameOrigin) {
      req.resume();
      this.send(res, 403, 'text/plain; charset=utf-8', 'the login is only accepted from this page\n');
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      this.send(res, 415, 'text/plain; charset=utf-8', 'expected a form (application/x-www-form-urlencoded)\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_LOGIN_BODY) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        this.send(res, 413, 'text/plain; charset=utf-8', 'the form is too large\n');
        return;
      }
      const now = Date.now();
      this.failures = this.failures.filter((at) => now - at < LOGIN_WINDOW);
      if (this.failures.length >= MAX_LOGIN_FAILURES) {
        this.send(res, 429, HTML, loginPage('throttled'), { 'retry-after': String(Math.ceil(LOGIN_WINDOW / 1000)) });
        return;
      }
      const offered = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? '';
      if (!tokenMatches(this.digest, offered.trim())) {
        this.failures.push(now);
        this.logger.warn('web page: a login with a wrong token was refused', { remote: req.socket.remoteAddress });
        this.send(res, 401, HTML, loginPage('failed'));
        return;
      }
      this.send(res, 303, 'text/plain; charset=utf-8', 'logged in\n', { location: '/', 'set-cookie': this.sessions.cookie(this.sessions.create()) });
    });
    req.on('error', () => {
      res.destroy();
    });
  }

  /**
   * `GET /api/events`: a `snapshot` of every entity, `status` events, then `changes` as they come;
   * until the session ends (`sessionLeft` ms), when the page's reconnection meets the login.
   */
  private stream(res: ServerResponse, sessionLeft: number): void {
    const max = this.options.maxStreams ?? 16;
    if (this.openStreams >= max) {
      this.send(res, 429, JSON_TYPE, JSON.stringify({ error: 'TooManyStreams', message: `at most ${String(max)} pages may follow the agent at once` }));
      return;
    }
    this.openStreams += 1;
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    res.flushHeaders();
    eventFrames(this.options.tagger, this.options.status$, this.options.batchWindow ?? 200, this.options.keepAliveInterval ?? 15_000)
      .pipe(takeUntil(merge(fromEvent(res, 'close'), this.closing$, timer(sessionLeft))))
      .subscribe({
        next: (frame) => {
          if (!res.write(frame) && res.writableLength > MAX_STREAM_BACKLOG) {
            this.logger.warn('web page: a page fell too far behind its event stream and was cut (it reconnects)');
            res.destroy();
          }
        },
        error: (error: unknown) => {
          this.logger.error('web page: an event stream failed', { error });
          res.destroy();
        },
        complete: () => {
          res.end();
        },
      });
    res.once('close', () => {
      this.openStreams -= 1;
    });
  }

  private send(res: ServerResponse, status: number, type: string, body: string, headers: Readonly<Record<string, string>> = {}): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** Headers on every answer. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': WEB_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

/**
 * The frames of one page's event stream: `status` at each status value, a `snapshot` of every
 * entity (taken after the changes are followed, so none falls between), then `changes`, each
 * gathering `batchWindow` ms of the tagger's events, and a comment every `keepAlive` ms.
 */
function eventFrames(tagger: Pick<Tagger, 'events$' | 'listSources'>, status$: Observable<WebStatus>, batchWindow: number, keepAlive: number): Observable<string> {
  const changes$ = tagger.events$({ cardinality: 'high', burst: false }).pipe(
    bufferTime(batchWindow),
    filter((batch) => batch.length > 0),
    map((batch) => frame('changes', changesOf(tagger, batch))),
  );
  const snapshot$ = defer(() => of(frame('snapshot', { entities: tagger.listSources().map(webEntity) })));
  return merge(
    changes$,
    concat(snapshot$, status$.pipe(map((status) => frame('status', status)))),
    interval(keepAlive).pipe(map(() => ': keep-alive\n\n')),
  );
}

/** The entities a batch of events changed, each as it is now (or deleted). */
function changesOf(tagger: Pick<Tagger, 'listSources'>, batch: readonly TagEvent[]): WebEntityChange[] {
  const last = new Map<string, TagEvent['type']>();
  for (const event of batch) last.set(event.entity, event.type);
  const alive = [...last].filter(([, type]) => type !== 'deleted').map(([entity]) => entity);
  const listed = new Map<string, WebEntity>();
  if (alive.length > 0) {
    const wanted = new Set(alive);
    for (const e of tagger.listSources(alive)) if (wanted.has(e.entity)) listed.set(e.entity, webEntity(e));
  }
  return [...last.keys()].map((entity): WebEntityChange => {
    const listing = listed.get(entity);
    return listing === undefined ? { entity, deleted: true } : { entity, deleted: false, listing };
  });
}

/** The entity as sent: plain arrays (the store's tags are lazily built objects that do not serialize as such). */
function webEntity(e: WebEntity): WebEntity {
  return { entity: e.entity, sources: e.sources, tags: { low: e.tags.low, orchestrator: e.tags.orchestrator, high: e.tags.high }, bySource: e.bySource };
}

function frame(event: string, data: unknown): string {
  // JSON holds no raw line break, so the data is one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
