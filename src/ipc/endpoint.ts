import { defer, type Observable } from 'rxjs';
import { TOKEN_ENV, defaultSocketPath, defaultTokenFile } from './address.js';
import { IpcOptionError } from './errors.js';
import { checkPrivatePath } from './private-path.js';
import { checkToken, readTokenFile } from './token.js';

/**
 * Where a tagstream server listens and how to prove the right to ask it: `socketPath` or `url`, and
 * `token` or `tokenFile`. Left out: the socket is {@link defaultSocketPath}, and the token is
 * `$TAGSTREAM_TOKEN`, else read from `$TAGSTREAM_TOKEN_FILE`, else from the socket path + `.token`.
 */
export interface IpcEndpointOptions {
  /** The server's unix socket. */
  readonly socketPath?: string;
  /** The server's base URL over loopback TCP, e.g. `http://127.0.0.1:5001`. */
  readonly url?: string;
  /** The token itself. */
  readonly token?: string;
  /** A file holding the token; read again at every (re)connection, so a restarted server's new token is picked up. */
  readonly tokenFile?: string;
}

/** An endpoint with its defaults applied (see {@link resolveEndpoint}). */
export interface IpcEndpoint {
  /** Where requests go: a socket path, or host and port. */
  readonly target: { readonly socketPath: string } | { readonly host: string; readonly port: number };
  /** A description for messages: `unix:<path>` or the URL (never the token). */
  readonly address: string;
  /**
   * The token, read when subscribed (from the file, when there is one). On a unix socket it comes
   * only once the socket and its directories are found to be this user's or root's and not writable
   * by others (else `IpcPermissionError`): the token is never sent to a socket another user planted.
   */
  readonly token$: Observable<string>;
}

/**
 * Applies the defaults of {@link IpcEndpointOptions} and checks them; throws {@link IpcOptionError}.
 *
 * @example
 * ```ts
 * const endpoint = resolveEndpoint({ socketPath: '/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token' });
 * ```
 */
export function resolveEndpoint(options: IpcEndpointOptions, env: Readonly<Record<string, string | undefined>> = process.env): IpcEndpoint {
  if (options.socketPath !== undefined && options.url !== undefined) throw new IpcOptionError('url', 'give socketPath or url, not both');
  if (options.token !== undefined && options.tokenFile !== undefined) throw new IpcOptionError('token', 'give token or tokenFile, not both');
  let target: IpcEndpoint['target'];
  let address: string;
  if (options.url !== undefined) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new IpcOptionError('url', `${JSON.stringify(options.url)} is not a URL`);
    }
    if (url.protocol !== 'http:') throw new IpcOptionError('url', 'only http: URLs (loopback) are supported');
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    target = { host, port: url.port === '' ? 80 : Number(url.port) };
    address = url.origin;
  } else {
    const socketPath = options.socketPath ?? defaultSocketPath(env);
    target = { socketPath };
    address = `unix:${socketPath}`;
  }
  let read: () => Promise<string>;
  const envToken = env[TOKEN_ENV];
  if (options.token !== undefined) {
    const token = checkToken(options.token, undefined);
    read = () => Promise.resolve(token);
  } else if (options.tokenFile === undefined && envToken !== undefined && envToken.length > 0) {
    const token = checkToken(envToken, undefined);
    read = () => Promise.resolve(token);
  } else {
    const file = options.tokenFile ?? ('socketPath' in target ? defaultTokenFile(target.socketPath, env) : undefined);
    if (file === undefined) throw new IpcOptionError('tokenFile', 'give token or tokenFile with url');
    read = () => readTokenFile(file);
  }
  const socketPath = 'socketPath' in target ? target.socketPath : undefined;
  const token$ = defer(async () => {
    if (socketPath !== undefined) await checkPrivatePath(socketPath, 'socket');
    return read();
  });
  return { target, address, token$ };
}
