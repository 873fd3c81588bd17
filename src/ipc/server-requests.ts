/**
 * What the IPC server answers, decided without IO: which request is served, which is refused and
 * how, and which HTTP error a tagger failure or a refused connection becomes. The server (server.ts)
 * does what these say.
 */
import { AmbiguousEntityIdError, InvalidCardinalityError, InvalidEntityIdError, TaggerNotRunningError } from '../tagger/errors.js';
import { IpcRequestError } from './errors.js';
import type { IpcRoute } from './protocol.js';
import type { ServerPhase } from './server-state.js';

/** A route the token is needed for (every one but `health`). */
export type ServedRoute = Exclude<IpcRoute, { kind: 'health' }>;

/** What to do with one request. */
export type RequestDecision =
  /** Answer `error`, counted under `route` `none`, with `headers`; `unauthorized` when the token was missing or wrong. */
  | { readonly kind: 'refuse'; readonly error: IpcRequestError; readonly headers: Readonly<Record<string, string>>; readonly unauthorized: boolean }
  /** Answer the health check (no token needed). */
  | { readonly kind: 'health' }
  /** Serve the route. */
  | { readonly kind: 'serve'; readonly route: ServedRoute };

const SHUTTING_DOWN = new IpcRequestError(503, 'ShuttingDown', 'the server is closing');
const UNAUTHORIZED = new IpcRequestError(401, 'Unauthorized', 'a valid "Authorization: Bearer <token>" header is required');
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Decides what a request gets, in this order: 503 while the server closes; 414 for a target too
 * long (before the token, which a long target must not be able to probe); the health check, when
 * turned on; 401 without a valid token (and nothing else is said, not even whether the path
 * exists); the route's own refusal (400, 404, 405); else the route is served. `authorized` is
 * asked only when the token matters.
 *
 * @example
 * ```ts
 * decideRequest('listening', parseRoute(req.method, req.url, limits), () => bearerMatches(digest, req.headers.authorization));
 * // { kind: 'serve', route: { kind: 'tags', entity, cardinality } }
 * ```
 */
export function decideRequest(phase: ServerPhase, route: IpcRoute | IpcRequestError, authorized: () => boolean): RequestDecision {
  if (phase === 'closing') return { kind: 'refuse', error: SHUTTING_DOWN, headers: { connection: 'close' }, unauthorized: false };
  if (route instanceof IpcRequestError && route.status === 414) return { kind: 'refuse', error: route, headers: NO_HEADERS, unauthorized: false };
  if (!(route instanceof IpcRequestError) && route.kind === 'health') return { kind: 'health' };
  if (!authorized()) return { kind: 'refuse', error: UNAUTHORIZED, headers: { 'www-authenticate': 'Bearer' }, unauthorized: true };
  if (route instanceof IpcRequestError) return { kind: 'refuse', error: route, headers: NO_HEADERS, unauthorized: false };
  return { kind: 'serve', route };
}

/**
 * The HTTP error a failure of `tagger.tag()` is answered with: 400 for a bad entity id or
 * cardinality, 503 when the tagger is not running, else 500.
 *
 * @example
 * ```ts
 * taggerFailure(new TaggerNotRunningError()).status; // 503
 * ```
 */
export function taggerFailure(error: unknown): IpcRequestError {
  if (error instanceof InvalidEntityIdError || error instanceof InvalidCardinalityError || error instanceof AmbiguousEntityIdError) {
    return new IpcRequestError(400, error.tag, error.message, { cause: error });
  }
  if (error instanceof TaggerNotRunningError) return new IpcRequestError(503, error.tag, error.message, { cause: error });
  return new IpcRequestError(500, 'Internal', 'the tagger failed to answer', { cause: error });
}

/** The 503 a request gets while the server closes (a query waiting for completeness too). */
export function shuttingDown(): IpcRequestError {
  return SHUTTING_DOWN;
}

/** The 429 a stream gets when `maxStreams` are open. */
export function tooManyStreams(maxStreams: number): IpcRequestError {
  return new IpcRequestError(429, 'TooManyStreams', `${maxStreams} event streams are open already; try again later`);
}

/**
 * What a connection refused by Node's HTTP parser is answered (`clientError`): 431 for headers
 * over `maxHeaderSize`, 408 for a request not received in time, else 400; undefined when there is
 * nobody to answer (the peer reset the connection, or the socket cannot be written).
 *
 * @example
 * ```ts
 * connectionRefusal('HPE_HEADER_OVERFLOW', true, 16_384)?.status; // 431
 * ```
 */
export function connectionRefusal(code: string | undefined, writable: boolean, maxHeaderSize: number): IpcRequestError | undefined {
  if (code === 'ECONNRESET' || !writable) return undefined;
  if (code === 'HPE_HEADER_OVERFLOW') return new IpcRequestError(431, 'HeadersTooLarge', `the request line and headers exceed ${maxHeaderSize} bytes`);
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new IpcRequestError(408, 'RequestTimeout', 'the request was not received in time');
  return new IpcRequestError(400, 'BadRequest', 'the request is not valid HTTP/1.1');
}

/** The reason phrase of the statuses {@link connectionRefusal} answers. */
export function reasonPhrase(status: number): string {
  return status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
}
