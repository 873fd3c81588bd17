/**
 * The web page's server over real HTTP on loopback, with a real Tagger: what it serves, to whom,
 * with which headers; the login (same-origin only, constant-time token, throttled, an HttpOnly
 * SameSite=Strict cookie); the event stream's frames. The browser's side is in agent.web.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { Subject, of } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteEntityInfo, streamCollector, tagInfo } from '../../src/tagger/stream-collector.js';
import { createTagger } from '../../src/tagger/tagger.js';
import type { Tagger } from '../../src/tagger/contract.js';
import type { TagInfo } from '../../src/tagger/types.js';
import type { LogFields, Logger } from '../../src/util/logger.js';
import { WebOptionError } from '../../src/web/errors.js';
import { WEB_CSP, type WebPageServer, serveWebPage } from '../../src/web/server.js';
import type { WebStatus } from '../../src/web/types.js';

const TOKEN = 'a'.repeat(24) + '0123456789abcdef0123456789abcdef';

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** One request over loopback, any Host and method (fetch would not let the Host be set). */
function call(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: options.method ?? 'GET', headers: { host: target.host, ...options.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Reads an event stream until `until` holds for the frames read; then closes it. */
function readStream(url: string, cookie: string, until: (frames: { event: string; data: unknown }[]) => boolean): Promise<{ event: string; data: unknown }[]> {
  const target = new URL('/api/events', url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, headers: { host: target.host, cookie } }, (res) => {
      const frames: { event: string; data: unknown }[] = [];
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) frames.push({ event, data: JSON.parse(data) });
          end = text.indexOf('\n\n');
        }
        if (until(frames)) {
          req.destroy();
          resolve(frames);
        }
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const at = (message: string, fields?: LogFields): void => {
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, debug: at, info: at, warn: at, error: at };
}

const STATUS: WebStatus = { time: 0, version: '9.9.9', address: 'unix:/run/a.sock', collectors: [{ name: 'docker', state: 'connected', reason: 'socket', entities: 1 }], entities: 1, entitiesBySource: { docker: 1 } };

describe('the web page server', () => {
  let dir: string;
  let tokenFile: string;
  let updates: Subject<TagInfo>;
  let tagger: Tagger;
  let page: WebPageServer;
  let logger: ReturnType<typeof recordingLogger>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagstream-web-'));
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    updates = new Subject<TagInfo>();
    tagger = createTagger({ collectors: [streamCollector('docker', updates)], pruneInterval: 20 });
    tagger.start();
    updates.next(tagInfo({ entity: 'container_id://aaa', source: 'docker', low: ['team:core'], high: ['container_name:a'] }));
    logger = recordingLogger();
    const metrics = new Registry();
    new Gauge({ name: 'web_test_gauge', help: 'A gauge of the test registry.', registers: [metrics] });
    page = await serveWebPage({ tagger, status$: of(STATUS), metrics, tokenFile, logger, batchWindow: 20 });
  });

  afterEach(async () => {
    await page.close();
    tagger.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function login(): Promise<string> {
    const answer = await call(page.url, '/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: page.url.replace(/\/$/, ''), 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ token: TOKEN }).toString(),
    });
    expect(answer.status).toBe(303);
    const cookie = answer.headers['set-cookie']?.[0] ?? '';
    return cookie.split(';')[0] ?? '';
  }

  it('listens on loopback, and refuses another address unless told to', async () => {
    expect(page.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await expect(serveWebPage({ tagger, status$: of(STATUS), metrics: new Registry(), tokenFile, host: '0.0.0.0', port: 0 })).rejects.toBeInstanceOf(WebOptionError);
    const open = await serveWebPage({ tagger, status$: of(STATUS), metrics: new Registry(), tokenFile, host: '0.0.0.0', port: 0, insecureBind: true, logger });
    await open.close();
    expect(logger.lines.some((l) => l.includes('which is not loopback'))).toBe(true);
  });

  it('serves the login form without a session, and nothing else but the style sheet', async () => {
    const root = await call(page.url, '/');
    expect(root.status).toBe(401);
    expect(root.body).toContain('<form method="post" action="/login"');
    expect(root.body).not.toContain('<script');
    for (const path of ['/app.js', '/api/status', '/api/events', '/metrics']) expect((await call(page.url, path)).status, path).toBe(401);
    expect((await call(page.url, '/app.css')).status).toBe(200);
    expect((await call(page.url, '/nothing')).status).toBe(404);
    expect((await call(page.url, '/?token=' + TOKEN)).status).toBe(401); // a token in a URL logs nobody in
  });

  it('puts the security headers on every answer', async () => {
    const cookie = await login();
    for (const [path, headers] of [['/', {}], ['/app.js', { cookie }], ['/nothing', {}], ['/app.css', {}]] as const) {
      const answer = await call(page.url, path, { headers });
      expect(answer.headers['content-security-policy'], path).toBe(WEB_CSP);
      expect(answer.headers['x-content-type-options'], path).toBe('nosniff');
      expect(answer.headers['referrer-policy'], path).toBe('no-referrer');
      expect(answer.headers['cache-control'], path).toBe('no-store');
      expect(answer.headers['x-frame-options'], path).toBe('DENY');
    }
  });

  it('answers 405 to every method but GET (POST for /login), and 421 to another Host', async () => {
    const cookie = await login();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
      const answer = await call(page.url, '/api/status', { method, headers: { cookie } });
      expect(answer.status, method).toBe(405);
      expect(answer.headers.allow).toBe('GET');
    }
    expect((await call(page.url, '/login')).status).toBe(405);
    const rebound = await call(page.url, '/', { headers: { host: `attacker.example:${new URL(page.url).port}`, cookie } });
    expect(rebound.status).toBe(421);
  });

  it('logs in only with the token, from this page, and sets an HttpOnly SameSite=Strict cookie', async () => {
    const form = (token: string, headers: Record<string, string>): Promise<Answer> =>
      call(page.url, '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token }).toString() });
    const own = page.url.replace(/\/$/, '');
    expect((await form(TOKEN, { 'sec-fetch-site': 'cross-site', origin: 'null' })).status).toBe(403);
    expect((await form(TOKEN, { origin: 'http://attacker.example' })).status).toBe(403);
    expect((await call(page.url, '/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) })).status).toBe(415);
    const wrong = await form('b'.repeat(64), { origin: own });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const right = await form(TOKEN, { origin: own, 'sec-fetch-site': 'same-origin' });
    expect(right.status).toBe(303);
    expect(right.headers.location).toBe('/');
    const cookie = right.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toMatch(/^tagstream_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0] ?? '';
    const status = await call(page.url, '/api/status', { headers: { cookie: session } });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toEqual(STATUS);
    expect((await call(page.url, '/api/status', { headers: { cookie: 'tagstream_session=' + 'c'.repeat(64) } })).status).toBe(401);
    // Nothing logged holds the token.
    expect(logger.lines.join('\n')).not.toContain(TOKEN);
    expect(logger.lines.some((l) => l.includes('wrong token'))).toBe(true);
  });

  it('answers 429 after five wrong tokens within the window, even to the right one', async () => {
    const form = (token: string): Promise<Answer> =>
      call(page.url, '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString() });
    for (let i = 0; i < 5; i += 1) expect((await form(`wrong-${String(i)}-${'x'.repeat(20)}`)).status).toBe(401);
    expect((await form(TOKEN)).status).toBe(429);
  });

  it('streams the status, a snapshot with each source\'s tags, then the changes', async () => {
    const cookie = await login();
    const frames = readStream(page.url, cookie, (f) => f.some((x) => x.event === 'changes' && JSON.stringify(x.data).includes('"deleted":true')));
    // Let the stream start, then change the store.
    await new Promise((resolve) => setTimeout(resolve, 100));
    updates.next(tagInfo({ entity: 'container_id://bbb', source: 'docker', low: ['team:web'] }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    updates.next(deleteEntityInfo('container_id://aaa', 'docker'));
    const read = await frames;
    expect(read[0]).toEqual({ event: 'snapshot', data: { entities: [expect.objectContaining({ entity: 'container_id://aaa', sources: ['docker'], tags: { low: ['team:core'], orchestrator: ['team:core'], high: ['team:core', 'container_name:a'] } })] } });
    const snapshot = read[0]?.data as { entities: { bySource: { source: string; low: string[]; high: string[] }[] }[] };
    expect(snapshot.entities[0]?.bySource[0]).toMatchObject({ source: 'docker', low: ['team:core'], high: ['container_name:a'] });
    expect(read[1]).toEqual({ event: 'status', data: STATUS });
    const changes = read.filter((f) => f.event === 'changes').flatMap((f) => f.data as unknown[]);
    expect(changes).toEqual([
      expect.objectContaining({ entity: 'container_id://bbb', deleted: false, listing: expect.objectContaining({ tags: { low: ['team:web'], orchestrator: ['team:web'], high: ['team:web'] } }) }),
      { entity: 'container_id://aaa', deleted: true },
    ]);
  });

  it('ends a page\'s event stream when its session ends', async () => {
    const short = await serveWebPage({ tagger, status$: of(STATUS), metrics: new Registry(), tokenFile, sessionTtl: 1000 });
    try {
      const answer = await call(short.url, '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: TOKEN }).toString() });
      const cookie = answer.headers['set-cookie']?.[0]?.split(';')[0] ?? '';
      const target = new URL('/api/events', short.url);
      const opened = Date.now();
      const ended = await new Promise<number>((resolve, reject) => {
        const req = request({ host: target.hostname, port: target.port, path: target.pathname, headers: { host: target.host, cookie } }, (res) => {
          expect(res.statusCode).toBe(200);
          res.resume();
          res.on('end', () => {
            resolve(Date.now());
          });
        });
        req.on('error', reject);
        req.end();
      });
      expect(ended - opened).toBeGreaterThan(800);
      expect(ended - opened).toBeLessThan(3000);
      expect((await call(short.url, '/api/events', { headers: { cookie } })).status).toBe(401);
    } finally {
      await short.close();
    }
  });

  it('serves the metrics registry to a logged-in page', async () => {
    const cookie = await login();
    const answer = await call(page.url, '/metrics', { headers: { cookie } });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/plain');
    expect(answer.body).toContain('# HELP web_test_gauge');
  });
});
