/**
 * The web page's login sessions: a random id per login, held in memory with an expiry, carried by
 * an HttpOnly SameSite=Strict cookie. The token itself is compared in constant time and never
 * stored in a session, a cookie, a URL or a log.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The name of the session cookie. */
export const SESSION_COOKIE = 'tagstream_session';

/**
 * True when `offered` is the token whose SHA-256 digest is `expected`. Constant-time whatever the
 * length or content offered (`timingSafeEqual` over digests of equal length), as the IPC server's
 * bearer check.
 *
 * @example
 * ```ts
 * const expected = createHash('sha256').update(token, 'utf8').digest();
 * tokenMatches(expected, form.get('token') ?? ''); // true or false
 * ```
 */
export function tokenMatches(expected: Buffer, offered: string): boolean {
  const digest = createHash('sha256').update(offered, 'utf8').digest();
  return timingSafeEqual(expected, digest) && offered.length > 0;
}

/** Options of {@link createSessions}. */
export interface SessionsOptions {
  /** How long a login lasts, ms. */
  readonly ttl: number;
  /** The most sessions held; a login beyond ends the oldest. */
  readonly max: number;
  /** The clock. Default: `Date.now`. */
  readonly now?: () => number;
}

/** The logged-in sessions (see {@link createSessions}). */
export interface Sessions {
  /** Starts a session; its id (64 hex characters), for the cookie. */
  create(): string;
  /** True when the request's `Cookie` header carries a live session. */
  valid(cookieHeader: string | undefined): boolean;
  /** How long the session the `Cookie` header carries has left, ms; undefined when it carries none that lives. */
  remaining(cookieHeader: string | undefined): number | undefined;
  /** The `Set-Cookie` value for a session id (HttpOnly, SameSite=Strict, Path=/, Max-Age = the ttl). */
  cookie(id: string): string;
  /** How many sessions are live. */
  size(): number;
}

/**
 * An in-memory set of login sessions with an expiry.
 *
 * @example
 * ```ts
 * const sessions = createSessions({ ttl: 12 * 3600_000, max: 64 });
 * res.setHeader('set-cookie', sessions.cookie(sessions.create()));
 * sessions.valid(req.headers.cookie); // true
 * ```
 */
export function createSessions(options: SessionsOptions): Sessions {
  const now = options.now ?? Date.now;
  // id -> expiry; a Map keeps insertion order, so the first entry is the oldest.
  const live = new Map<string, number>();
  const sweep = (): void => {
    const at = now();
    for (const [id, expiry] of live) if (expiry <= at) live.delete(id);
  };
  const remaining = (cookieHeader: string | undefined): number | undefined => {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === undefined || !/^[0-9a-f]{64}$/.test(id)) return undefined;
    const expiry = live.get(id);
    if (expiry === undefined) return undefined;
    const left = expiry - now();
    if (left <= 0) {
      live.delete(id);
      return undefined;
    }
    return left;
  };
  return {
    create() {
      sweep();
      while (live.size >= options.max) {
        const oldest = live.keys().next();
        if (oldest.done === true) break;
        live.delete(oldest.value);
      }
      const id = randomBytes(32).toString('hex');
      live.set(id, now() + options.ttl);
      return id;
    },
    valid: (cookieHeader) => remaining(cookieHeader) !== undefined,
    remaining,
    cookie(id) {
      return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${String(Math.floor(options.ttl / 1000))}`;
    },
    size() {
      sweep();
      return live.size;
    },
  };
}

/**
 * The value of cookie `name` in a `Cookie` header, or undefined.
 *
 * @example
 * ```ts
 * cookieValue('a=1; tagstream_session=ab12', 'tagstream_session'); // 'ab12'
 * ```
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
