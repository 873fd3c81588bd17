import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The environment variable naming the server's unix socket. */
export const SOCKET_ENV = 'TAGSTREAM_SOCKET';
/** The environment variable holding the token itself. */
export const TOKEN_ENV = 'TAGSTREAM_TOKEN';
/** The environment variable naming the token file. */
export const TOKEN_FILE_ENV = 'TAGSTREAM_TOKEN_FILE';

/**
 * The unix socket path used when none is given: `$TAGSTREAM_SOCKET`, else `tagstream.sock` in
 * `$XDG_RUNTIME_DIR`, else in a directory of this user's own (see {@link defaultSocketDirectory}).
 * Never a path in a directory that other users may write.
 *
 * @example
 * ```ts
 * defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }); // '/run/user/1000/tagstream.sock'
 * defaultSocketPath({}, 1000);                              // '/tmp/tagstream-1000/tagstream.sock'
 * ```
 */
export function defaultSocketPath(env: Readonly<Record<string, string | undefined>> = process.env, uid: number | undefined = process.getuid?.()): string {
  const explicit = env[SOCKET_ENV];
  if (explicit !== undefined && explicit.length > 0) return explicit;
  const runtime = env.XDG_RUNTIME_DIR;
  return join(runtime !== undefined && runtime.length > 0 ? runtime : defaultSocketDirectory(uid), 'tagstream.sock');
}

/**
 * The socket's directory when `$XDG_RUNTIME_DIR` is unset (systemd services, sudo): `/run/tagstream`
 * for root on Linux, else `tagstream-<uid>` in the temporary directory. The server creates it with
 * mode 0700 and, as every client, refuses it when another user owns it or others can write it.
 *
 * @example
 * ```ts
 * defaultSocketDirectory(0);    // '/run/tagstream' (on Linux)
 * defaultSocketDirectory(1000); // '/tmp/tagstream-1000'
 * ```
 */
export function defaultSocketDirectory(uid: number | undefined = process.getuid?.()): string {
  if (uid === 0 && process.platform === 'linux') return '/run/tagstream';
  return join(tmpdir(), `tagstream-${uid === undefined ? 'user' : String(uid)}`);
}

/**
 * The token file used beside a socket when none is given: `$TAGSTREAM_TOKEN_FILE`, else the socket
 * path with `.token` appended.
 *
 * @example
 * ```ts
 * defaultTokenFile('/run/tagstream.sock', {}); // '/run/tagstream.sock.token'
 * ```
 */
export function defaultTokenFile(socketPath: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const explicit = env[TOKEN_FILE_ENV];
  return explicit !== undefined && explicit.length > 0 ? explicit : `${socketPath}.token`;
}

const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * True when `host` is a loopback address the server may listen on over TCP.
 *
 * @example
 * ```ts
 * isLoopback('127.0.0.1'); // true
 * isLoopback('0.0.0.0');   // false
 * ```
 */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
