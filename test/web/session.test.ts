/**
 * The web page's sessions: random ids, an expiry, a bound on how many are held, the cookie's
 * attributes; the token compared by digest.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SESSION_COOKIE, cookieValue, createSessions, tokenMatches } from '../../src/web/session.js';

describe('web sessions', () => {
  it('knows a session until it expires, and nothing else', () => {
    let now = 1000;
    const sessions = createSessions({ ttl: 60_000, max: 4, now: () => now });
    const id = sessions.create();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(sessions.valid(`other=1; ${SESSION_COOKIE}=${id}`)).toBe(true);
    expect(sessions.valid(undefined)).toBe(false);
    expect(sessions.valid(`${SESSION_COOKIE}=${'0'.repeat(64)}`)).toBe(false);
    expect(sessions.valid(`${SESSION_COOKIE}=${id.toUpperCase()}`)).toBe(false);
    now += 59_999;
    expect(sessions.valid(`${SESSION_COOKIE}=${id}`)).toBe(true);
    expect(sessions.remaining(`${SESSION_COOKIE}=${id}`)).toBe(1);
    now += 1;
    expect(sessions.valid(`${SESSION_COOKIE}=${id}`)).toBe(false);
    expect(sessions.size()).toBe(0);
  });

  it('ends the oldest session when a login would hold more than the bound', () => {
    const sessions = createSessions({ ttl: 60_000, max: 2 });
    const [a, b, c] = [sessions.create(), sessions.create(), sessions.create()];
    expect([a, b, c].map((id) => sessions.valid(`${SESSION_COOKIE}=${id}`))).toEqual([false, true, true]);
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('sets an HttpOnly, SameSite=Strict cookie for the whole page that lasts the ttl', () => {
    const sessions = createSessions({ ttl: 3_600_000, max: 2 });
    expect(sessions.cookie('ab')).toBe(`${SESSION_COOKIE}=ab; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600`);
  });

  it('reads one cookie of a Cookie header', () => {
    expect(cookieValue('a=1; b=2', 'b')).toBe('2');
    expect(cookieValue('a=1; ab=2', 'b')).toBeUndefined();
    expect(cookieValue('', 'b')).toBeUndefined();
  });

  it('matches the token only, never an empty one', () => {
    const token = 'f'.repeat(64);
    const digest = createHash('sha256').update(token, 'utf8').digest();
    expect(tokenMatches(digest, token)).toBe(true);
    expect(tokenMatches(digest, `${token}0`)).toBe(false);
    expect(tokenMatches(digest, '')).toBe(false);
    expect(tokenMatches(createHash('sha256').update('', 'utf8').digest(), '')).toBe(false);
  });
});
