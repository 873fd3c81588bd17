/**
 * The trust checks on the IPC files — the socket, its directory and the token file — made by the
 * server before it writes or serves, and by every client before it hands over the token.
 */
import type { Stats } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { IpcPermissionError } from './errors.js';

/** What a checked path is, for messages. */
export type PrivatePathKind = IpcPermissionError['kind'];

/**
 * Checks that `path` and every directory above it can be trusted by this user, as ssh checks its
 * files: each is owned by this user or root and is not writable by group or others. A directory
 * that others may write is accepted when it is sticky (as `/tmp`): there nobody can remove or
 * rename what is not theirs, and the file itself is checked. Resolves `true` when `path` exists,
 * `false` when it does not (the directories that exist are checked all the same); rejects with an
 * {@link IpcPermissionError} that says what to fix. Where there are no uids (Windows) only existence
 * is reported.
 *
 * @example
 * ```ts
 * await checkPrivatePath('/run/user/1000/tagstream.sock', 'socket'); // true, or throws IpcPermissionError
 * ```
 */
export async function checkPrivatePath(path: string, kind: PrivatePathKind, uid: number | undefined = process.getuid?.()): Promise<boolean> {
  const absolute = resolve(path);
  const leaf = await statOf(absolute, kind);
  if (uid === undefined) return leaf !== undefined;
  if (leaf !== undefined) trust(absolute, leaf, kind, uid);
  for (let dir = dirname(absolute); ; dir = dirname(dir)) {
    const stats = await statOf(dir, 'directory');
    if (stats !== undefined) trust(dir, stats, 'directory', uid);
    if (dirname(dir) === dir) break;
  }
  return leaf !== undefined;
}

/**
 * Creates `dir` (and its parents) with mode 0700 where missing, then checks it with
 * {@link checkPrivatePath}. A directory that cannot be created is an {@link IpcPermissionError}
 * whose reason holds the errno code (`EACCES`, `EPERM`: permission denied).
 *
 * @example
 * ```ts
 * await preparePrivateDirectory('/run/tagstream'); // now there, this user's (or root's), not writable by others
 * ```
 */
export async function preparePrivateDirectory(dir: string, uid: number | undefined = process.getuid?.()): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    const code = codeOf(cause);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new IpcPermissionError('directory', dir, `cannot be created (${code}, permission denied)`, `create it as a user who may (mkdir -m 700 ${dir}; chown it to this user), or choose another socket path`, { cause });
    }
    throw new IpcPermissionError('directory', dir, `cannot be created (${code})`, 'choose another socket path', { cause });
  }
  await checkPrivatePath(dir, 'directory', uid);
}

/**
 * True when `code` (an errno code) is a refusal for lack of permission.
 *
 * @example
 * ```ts
 * isPermissionCode('EACCES'); // true
 * ```
 */
export function isPermissionCode(code: string): boolean {
  return code === 'EACCES' || code === 'EPERM';
}

function trust(path: string, stats: Stats, kind: PrivatePathKind, uid: number): void {
  if (stats.uid !== uid && stats.uid !== 0) {
    throw new IpcPermissionError(kind, path, `is owned by uid ${stats.uid}, not by this user (uid ${uid}) or root`, `remove it if you do not know who made it, or chown ${uid} ${path}`);
  }
  const sticky = stats.isDirectory() && (stats.mode & 0o1000) !== 0;
  if ((stats.mode & 0o022) !== 0 && !sticky) {
    const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
    throw new IpcPermissionError(kind, path, `is writable by group or others (mode ${mode})`, `chmod go-w ${path}`);
  }
}

async function statOf(path: string, kind: PrivatePathKind): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (cause) {
    const code = codeOf(cause);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new IpcPermissionError(kind, path, `cannot be checked (${code})`, 'run as a user who may read it and its directories, or choose another path', { cause });
  }
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
