/**
 * The IPC server's listening socket: its checks before the token is touched, and `listen` with the
 * stale-socket rule (a socket file nobody answers on is replaced; one a live server holds, or a
 * path that is not a socket, is refused).
 */
import { chmod, stat, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect as netConnect } from 'node:net';
import { dirname } from 'node:path';
import { IpcOptionError, IpcPermissionError } from './errors.js';
import { checkPrivatePath, isPermissionCode, preparePrivateDirectory } from './private-path.js';

/**
 * Creates the socket's directory, checks it and any socket there, and refuses a socket a live
 * server holds.
 *
 * @example
 * ```ts
 * await prepareSocket('/run/tagstream/tagger.sock'); // IpcOptionError when another server answers there
 * ```
 */
export async function prepareSocket(path: string): Promise<void> {
  await preparePrivateDirectory(dirname(path));
  if ((await checkPrivatePath(path, 'socket')) && (await socketAnswers(path))) {
    throw new IpcOptionError('socketPath', `${path} is in use: is another server running?`);
  }
}

/**
 * Listens on the unix socket `path` (made 0600), replacing a socket file a dead server left;
 * refuses, with `IpcPermissionError` or `IpcOptionError`, what it cannot or must not take.
 *
 * @example
 * ```ts
 * await listenOnSocket(http, '/run/tagstream/tagger.sock');
 * ```
 */
export async function listenOnSocket(http: Server, path: string): Promise<void> {
  try {
    await listenOn(http, { path });
  } catch (error) {
    const code = errorCode(error);
    if (isPermissionCode(code)) {
      throw new IpcPermissionError('socket', path, `cannot be created (${code}, permission denied)`, `run as a user who may write ${dirname(path)}, or choose another socket path`, { cause: error });
    }
    if (code !== 'EADDRINUSE') throw new IpcOptionError('socketPath', `cannot listen on ${path} (${code})`);
    if (await socketAnswers(path)) throw new IpcOptionError('socketPath', `${path} is in use (${code}): is another server running?`);
    // A socket file left by a server that died: nobody answers on it. Anything else stays.
    if (!(await stat(path)).isSocket()) throw new IpcOptionError('socketPath', `${path} exists and is not a socket: remove it or choose another path`);
    await unlink(path);
    await listenOn(http, { path });
  }
  await chmod(path, 0o600);
}

/**
 * `http.listen(where)` as a promise: rejects with the server's `error` when it cannot.
 *
 * @example
 * ```ts
 * await listenOn(http, { host: '127.0.0.1', port: 0 });
 * ```
 */
export function listenOn(http: Server, where: { readonly path: string } | { readonly host: string; readonly port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(error);
    };
    http.once('error', onError);
    http.listen(where, () => {
      http.off('error', onError);
      resolve();
    });
  });
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

/**
 * The `code` of a Node error (`EADDRINUSE`...), else its message.
 *
 * @example
 * ```ts
 * errorCode(Object.assign(new Error('x'), { code: 'EACCES' })); // 'EACCES'
 * ```
 */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
