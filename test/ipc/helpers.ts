import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import { type TagInfo, type Tagger, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';
import { type ServeTaggerOptions, type TaggerServer, serveTagger } from '../../src/ipc/index.js';

/** A fresh temporary directory, and a function that removes it. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tagstream-ipc-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface Fixture {
  readonly dir: string;
  readonly socketPath: string;
  readonly tokenFile: string;
  readonly token: string;
  readonly tagger: Tagger;
  readonly input: Subject<TagInfo>;
  server: TaggerServer;
  /** Starts a new server on the same socket and token file (after `server.close()`). */
  restart(options?: ServeTaggerOptions): Promise<TaggerServer>;
  close(): Promise<void>;
}

/** A running tagger fed by `input` (source 'static'), served on a socket in a temp dir. */
export async function startFixture(
  options: ServeTaggerOptions = {},
  taggerOptions: { fetch?: (entity: string) => Observable<TagInfo> } = {},
): Promise<Fixture> {
  const { dir, remove } = await tempDir();
  const socketPath = join(dir, 'tagger.sock');
  const tokenFile = join(dir, 'token');
  const input = new Subject<TagInfo>();
  const tagger = createTagger({
    collectors: [streamCollector('static', input, taggerOptions.fetch === undefined ? {} : { fetch: taggerOptions.fetch })],
    pruneInterval: 20,
    logger: silentLogger,
  });
  tagger.start();
  const serve = (extra: ServeTaggerOptions = {}): Promise<TaggerServer> =>
    serveTagger(tagger, { socketPath, tokenFile, logger: silentLogger, ...options, ...extra });
  const server = await serve();
  const token = (await readFile(tokenFile, 'utf8')).trim();
  const fixture: Fixture = {
    dir,
    socketPath,
    tokenFile,
    token,
    tagger,
    input,
    server,
    async restart(extra) {
      fixture.server = await serve(extra);
      return fixture.server;
    },
    async close() {
      await fixture.server.close();
      tagger.stop();
      await remove();
    },
  };
  return fixture;
}

/** Sends TagInfo for `entity` from source 'static'. */
export function put(fixture: Pick<Fixture, 'input'>, entity: string, low: string[], orchestrator: string[] = [], high: string[] = []): void {
  fixture.input.next(tagInfo({ entity, source: 'static', low, orchestrator, high }));
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One GET over the socket; `token: null` sends no Authorization header. */
export function get(socketPath: string, path: string, token: string | null, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'GET', agent: false, headers: { ...headers, ...(token === null ? {} : { authorization: `Bearer ${token}` }) } },
      (res) => {
        collect(res).then((body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }), reject);
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${path} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A request in any method, with a body. */
export function send(socketPath: string, method: string, path: string, token: string | null, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method, agent: false, headers: token === null ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        collect(res).then((text) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }), reject);
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${method} ${path} within 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/**
 * Raw bytes over the socket; resolves with everything the server wrote before it closed, or went
 * quiet for 300 ms after writing something (a stream), or `timeout`.
 */
export function raw(socketPath: string, bytes: string | Buffer, timeout = 3000, options: { keepOpen?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      clearTimeout(quiet);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeout);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(quiet);
      quiet = setTimeout(done, 300);
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
    socket.on('connect', () => {
      if (options.keepOpen === true) socket.write(bytes);
      else socket.end(bytes);
    });
  });
}

/** An open event stream: its lines as parsed JSON, read one by one with a bounded wait. */
export class StreamReader {
  readonly lines: unknown[] = [];
  status = 0;
  ended = false;
  private partial = '';
  private waiters: (() => void)[] = [];
  private readonly req;

  constructor(socketPath: string, path: string, token: string) {
    this.req = request({ socketPath, path, method: 'GET', agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const parts = (this.partial + chunk).split('\n');
        this.partial = parts.pop() ?? '';
        for (const part of parts) if (part.length > 0) this.lines.push(JSON.parse(part));
        this.wake();
      });
      res.on('end', () => {
        this.ended = true;
        this.wake();
      });
      res.on('error', () => {
        this.ended = true;
        this.wake();
      });
    });
    this.req.on('error', () => {
      this.ended = true;
      this.wake();
    });
    this.req.end();
  }

  /** Waits (at most `timeout` ms) until `predicate` holds of the lines read so far. */
  async until(predicate: (lines: unknown[]) => boolean, timeout = 5000): Promise<unknown[]> {
    const deadline = Date.now() + timeout;
    while (!predicate(this.lines)) {
      if (this.ended) throw new Error(`the stream ended before the condition held; lines: ${JSON.stringify(this.lines).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; lines: ${JSON.stringify(this.lines).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines;
  }

  async untilEnded(timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the stream did not end');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.req.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Polls `condition` every 10 ms, at most `timeout` ms. */
export async function waitFor(condition: () => boolean, timeout = 5000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Events of a stream, without keep-alives. */
export function events(lines: unknown[]): { type: string; entity?: string; tags?: string[]; levels?: unknown }[] {
  return (lines as { type: string }[]).filter((l) => l.type !== 'keepalive');
}
