import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { IpcTokenError } from './errors.js';
import { checkPrivatePath } from './private-path.js';

/** The shortest token accepted: shorter is not a secret worth the name. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * A token held for comparison: only its SHA-256 digest, so that comparing takes the same time
 * whatever the length or content of what a client sends.
 */
export interface TokenDigest {
  readonly digest: Buffer;
}

/**
 * The digest of a token, for {@link bearerMatches}.
 *
 * @example
 * ```ts
 * const expected = tokenDigest(token);
 * bearerMatches(expected, req.headers.authorization); // true or false, in constant time
 * ```
 */
export function tokenDigest(token: string): TokenDigest {
  return { digest: createHash('sha256').update(token, 'utf8').digest() };
}

/**
 * True when an `Authorization` header is `Bearer <token>` with the expected token. The comparison
 * is constant-time (`timingSafeEqual` over digests of equal length).
 *
 * @example
 * ```ts
 * bearerMatches(tokenDigest('s3cret-s3cret-s3cret'), 'Bearer s3cret-s3cret-s3cret'); // true
 * ```
 */
export function bearerMatches(expected: TokenDigest, header: string | undefined): boolean {
  const offered = header === undefined ? '' : /^Bearer +(\S+) *$/i.exec(header)?.[1] ?? '';
  const digest = createHash('sha256').update(offered, 'utf8').digest();
  return timingSafeEqual(expected.digest, digest) && offered.length > 0;
}

/**
 * A fresh random token: 32 bytes, hex.
 *
 * @example
 * ```ts
 * generateToken().length; // 64
 * ```
 */
export function generateToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Reads the token in `file` (trimmed). Rejects with `IpcPermissionError` when the file or a
 * directory above it is another user's or writable by others (the token is not read from a file
 * that someone else may have planted), and with {@link IpcTokenError} when the file cannot be read
 * or holds less than {@link MIN_TOKEN_LENGTH} characters. The message never holds the token.
 *
 * @example
 * ```ts
 * const token = await readTokenFile('/run/tagstream/token');
 * ```
 */
export async function readTokenFile(file: string): Promise<string> {
  await checkPrivatePath(file, 'token file');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new IpcTokenError(file, `cannot be read (${codeOf(cause)})`, { cause });
  }
  return checkToken(text.trim(), file);
}

/** Options of {@link readOrCreateToken}. */
export interface ReadOrCreateTokenOptions {
  /**
   * Write a fresh token even when the file holds one, replacing it at once (a new file renamed over
   * it): a token left by a server that crashed is then never reused. Default: false.
   */
  readonly rotate?: boolean;
}

/**
 * The server's token: read from `file` when it exists (unless `rotate`), otherwise generated and
 * written there with mode 0600 (`created: true`, so the server may remove it when it closes). A
 * file that is another user's or writable by others is refused (`IpcPermissionError`), never
 * read nor replaced.
 *
 * @example
 * ```ts
 * const { token, created } = await readOrCreateToken('/run/tagstream/token');
 * const fresh = await readOrCreateToken('/run/tagstream/token', { rotate: true }); // created: true
 * ```
 */
export async function readOrCreateToken(file: string, options: ReadOrCreateTokenOptions = {}): Promise<{ readonly token: string; readonly created: boolean }> {
  if (options.rotate === true) {
    await checkPrivatePath(file, 'token file');
  } else {
    try {
      return { token: await readTokenFile(file), created: false };
    } catch (error) {
      if (!(error instanceof IpcTokenError) || codeOf(error.cause) !== 'ENOENT') throw error;
    }
  }
  const token = generateToken();
  try {
    if (options.rotate === true) await replaceFile(file, `${token}\n`);
    else await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    throw new IpcTokenError(file, `cannot be written (${codeOf(cause)})`, { cause });
  }
  return { token, created: true };
}
/**
 * Checks a token given directly: at least {@link MIN_TOKEN_LENGTH} characters, no whitespace.
 *
 * @example
 * ```ts
 * checkToken(process.env.TAGSTREAM_TOKEN ?? '', undefined);
 * ```
 */
export function checkToken(token: string, file: string | undefined): string {
  if (token.length < MIN_TOKEN_LENGTH) throw new IpcTokenError(file, `the token must be at least ${MIN_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) throw new IpcTokenError(file, 'the token must not contain whitespace');
  return token;
}

/** Writes `text` (mode 0600) under another name, then renames it over `file`: a client never reads half a token. */
async function replaceFile(file: string, text: string): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined); // the rename's error is the one reported
    throw error;
  }
}

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.message : String(error);
}
