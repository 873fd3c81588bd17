import type { SchedulerLike } from 'rxjs';
import { type Logger, consoleLogger } from '../util/logger.js';
import { numberOption } from '../util/options.js';
import { defaultSocketPath, defaultTokenFile, isLoopback } from './address.js';
import { IpcOptionError } from './errors.js';
import type { StatusResponse } from './protocol.js';

/** Options of `serveTagger`. Durations in milliseconds, sizes in bytes. */
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
   * The longest a `GET /v1/tags/{entity}?wait=` query waits for the entity to be complete; a longer
   * `wait` is cut to it (the answer's `wait` says what was used). Default: 5000.
   */
  readonly maxQueryWait?: number;
  /**
   * The most such queries waiting at once; one more does not wait for completeness: it is answered
   * as a query without `wait` is (after a fetch on miss, bounded by the tagger's `fetchTimeout`),
   * its answer's `wait` is 0, and `queryWaitsRefused` counts it. Default: 256.
   */
  readonly maxWaitingQueries?: number;
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

/** {@link ServeTaggerOptions} checked, with every default filled in (internal to the server). */
export interface ServerSettings {
  /** The unix socket, or undefined over TCP. */
  readonly socketPath: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  readonly tokenFile: string;
  readonly rotateToken: boolean;
  readonly healthCheck: boolean;
  readonly status: (() => StatusResponse) | undefined;
  readonly maxStreams: number;
  readonly maxQueryWait: number;
  readonly maxWaitingQueries: number;
  readonly maxStreamBacklog: number;
  readonly readerStallTimeout: number;
  readonly keepAliveInterval: number;
  readonly maxUrlLength: number;
  readonly maxHeaderSize: number;
  readonly headersTimeout: number;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike | undefined;
}

const optionError = (option: string, problem: string): IpcOptionError => new IpcOptionError(option, problem);

/** A positive number (the server's sizes, counts and durations), else `IpcOptionError`. */
function positive(option: string, value: number | undefined, fallback: number): number {
  return numberOption(option, value, fallback, { error: optionError });
}

/**
 * Checks the options of `serveTagger` and fills in the defaults; throws `IpcOptionError` naming
 * the option. Pure: it reads the environment only for the default socket path.
 *
 * @example
 * ```ts
 * resolveServerSettings({ port: 0, tokenFile: '/run/t.token' }).host; // '127.0.0.1'
 * resolveServerSettings({ maxStreams: 0 });
 * // IpcOptionError: invalid option maxStreams: must be a positive number, got 0
 * ```
 */
export function resolveServerSettings(options: ServeTaggerOptions): ServerSettings {
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
    rotateToken: options.rotateToken === true,
    healthCheck: options.healthCheck ?? false,
    status: options.status,
    maxStreams: positive('maxStreams', options.maxStreams, 64),
    maxQueryWait: positive('maxQueryWait', options.maxQueryWait, 5000),
    maxWaitingQueries: positive('maxWaitingQueries', options.maxWaitingQueries, 256),
    maxStreamBacklog: positive('maxStreamBacklog', options.maxStreamBacklog, 1024 * 1024),
    readerStallTimeout: positive('readerStallTimeout', options.readerStallTimeout, 30_000),
    keepAliveInterval: positive('keepAliveInterval', options.keepAliveInterval, 15_000),
    maxUrlLength: positive('maxUrlLength', options.maxUrlLength, 4096),
    maxHeaderSize: positive('maxHeaderSize', options.maxHeaderSize, 16_384),
    headersTimeout: positive('headersTimeout', options.headersTimeout, 10_000),
    logger: options.logger ?? consoleLogger('warn'),
    scheduler: options.scheduler,
  };
}
