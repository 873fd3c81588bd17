/**
 * The errors of tagstream's IPC server and client. Branch on `tag`, not on the message; `cause`
 * holds what the socket or the server said.
 */
export abstract class IpcError extends Error {
  /** A stable discriminant for callers. */
  abstract readonly tag: string;
}

/**
 * A request the server refuses: malformed, unknown, too large, or over a limit. `status` is the
 * HTTP status the server answers with, `code` the stable code in the JSON error body.
 *
 * @example
 * ```ts
 * const route = parseRoute('GET', '/v1/tags/nope', limits);
 * if (route instanceof IpcRequestError) console.log(route.status, route.code); // 400 'InvalidEntityId'
 * ```
 */
export class IpcRequestError extends IpcError {
  readonly tag = 'IpcRequest';
  override readonly name = 'IpcRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * The server answered a client's request with an error status (`status`, and the body's `code`
 * when it had one). A 401 means the token is missing or wrong.
 *
 * @example
 * ```ts
 * if (error instanceof IpcResponseError && error.status === 401) console.error('check the token file');
 * ```
 */
export class IpcResponseError extends IpcError {
  readonly tag = 'IpcResponse';
  override readonly name = 'IpcResponseError';
  constructor(
    readonly path: string,
    readonly status: number,
    readonly code: string | undefined,
    detail: string | undefined,
  ) {
    super(`tagstream server answered ${status}${code === undefined ? '' : ` ${code}`} to ${path}${detail === undefined ? '' : `: ${detail}`}`);
  }
}

/**
 * The client could not talk to the server: no socket, connection refused or reset, a timeout, a
 * stream that went silent, or an answer that is not the protocol.
 *
 * @example
 * ```ts
 * client.state$.subscribe((s) => { if (s.error instanceof IpcConnectionError) console.warn(s.error.reason); });
 * ```
 */
export class IpcConnectionError extends IpcError {
  readonly tag = 'IpcConnection';
  override readonly name = 'IpcConnectionError';
  constructor(
    readonly path: string,
    readonly reason: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`tagstream server unreachable for ${path}: ${reason}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A token could not be read or written, or is unusable (empty, or too short to be a secret).
 * The message names the file, never the token.
 *
 * @example
 * ```ts
 * await serveTagger(tagger, { tokenFile: '/run/tagstream/token' }).catch((e) => { if (e instanceof IpcTokenError) ... });
 * ```
 */
export class IpcTokenError extends IpcError {
  readonly tag = 'IpcToken';
  override readonly name = 'IpcTokenError';
  constructor(
    readonly file: string | undefined,
    readonly reason: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`tagstream token${file === undefined ? '' : ` file ${file}`}: ${reason}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * An option of the server or the client is missing or out of range.
 *
 * @example
 * ```ts
 * createTaggerClient({}); // throws IpcOptionError: give socketPath or url
 * ```
 */
export class IpcOptionError extends IpcError {
  readonly tag = 'IpcOption';
  override readonly name = 'IpcOptionError';
  constructor(
    readonly option: string,
    reason: string,
  ) {
    super(`invalid option ${option}: ${reason}`);
  }
}

/**
 * A socket, a directory or a token file that this user cannot trust: another user owns it, or
 * group or others can write it (checked as ssh checks its files), or it cannot be created or
 * checked for lack of permission. `fix` says what to do; the message holds it too.
 *
 * @example
 * ```ts
 * await serveTagger(tagger, { socketPath: '/tmp/shared/agent.sock' }).catch((e) => {
 *   if (e instanceof IpcPermissionError) console.error(e.fix); // 'chmod go-w /tmp/shared'
 * });
 * ```
 */
export class IpcPermissionError extends IpcError {
  readonly tag = 'IpcPermission';
  override readonly name = 'IpcPermissionError';
  constructor(
    /** What the path is: `socket`, `directory` or `token file`. */
    readonly kind: 'socket' | 'directory' | 'token file',
    readonly path: string,
    /** What is wrong, e.g. `is owned by uid 65534, not by this user (uid 1000) or root`. */
    readonly reason: string,
    /** What to do about it, e.g. `chmod go-w /tmp/shared`. */
    readonly fix: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`${kind} ${path} ${reason}: ${fix}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}
