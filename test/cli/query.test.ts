/**
 * `tagstream tag`, `list` and `watch`, in process, against a real IPC server (test/ipc/helpers).
 */
import { link } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { NO_TAGS_EXIT_CODE } from '../../src/cli/query.js';
import { containerId, deleteEntityInfo } from '../../src/index.js';
import { type Fixture, put, startFixture } from '../ipc/helpers.js';
import { fakeIo } from './fake-io.js';

const A = containerId('a');
const B = containerId('b');

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
  put(f, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
});
afterAll(async () => {
  await f.close();
});

function flags(): string[] {
  return ['--socket', f.socketPath, '--token-file', f.tokenFile];
}

async function run(args: string[], env: Record<string, string> = {}) {
  const io = fakeIo(env);
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

/** Waits (bounded) until `read()` satisfies `predicate`. */
async function until(read: () => string, predicate: (text: string) => boolean, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  while (!predicate(read())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms; got:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return read();
}

describe('tagstream tag', () => {
  it('prints the tags one per line, at the asked cardinality, or as JSON', async () => {
    expect(await run(['tag', A, ...flags()])).toEqual({ code: 0, out: 'env:prod\n', err: '' });
    expect((await run(['tag', A, '-c', 'high', ...flags()])).out).toBe('env:prod\npod_name:web-1\ncontainer_name:web\n');
    expect(JSON.parse((await run(['tag', A, '--cardinality', 'orchestrator', '--json', ...flags()])).out)).toEqual({ entity: A, cardinality: 'orchestrator', tags: ['env:prod', 'pod_name:web-1'] });
  });

  it('says on stderr when there is no tag, and exits 3 (NO_TAGS_EXIT_CODE), --json too', async () => {
    expect(NO_TAGS_EXIT_CODE).toBe(3);
    expect(await run(['tag', containerId('unknown'), ...flags()])).toEqual({ code: 3, out: '', err: `no low tags for ${containerId('unknown')}\n` });
    expect(await run(['tag', containerId('unknown'), '--json', ...flags()])).toEqual({ code: 3, out: `${JSON.stringify({ entity: containerId('unknown'), cardinality: 'low', tags: [] })}\n`, err: '' });
  });

  it('finds the agent through TAGSTREAM_SOCKET and TAGSTREAM_TOKEN / TAGSTREAM_TOKEN_FILE', async () => {
    expect((await run(['tag', A], { TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN: f.token })).out).toBe('env:prod\n');
    expect((await run(['tag', A], { TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN_FILE: f.tokenFile })).out).toBe('env:prod\n');
  });

  it('exits 1 with a clear message when the agent is not there or refuses the token', async () => {
    const absent = await run(['tag', A, '--socket', join(f.dir, 'nobody.sock'), '--token', f.token]);
    expect(absent.code).toBe(1);
    expect(absent.err).toBe(`tagstream: tag: no agent at ${join(f.dir, 'nobody.sock')}: start one with \`tagstream agent\`\n`);
    // A socket file nobody listens on (an agent that was killed): no agent there either, not a token error.
    const stale = join(f.dir, 'stale.sock');
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(join(f.dir, 'live.sock'), resolve));
    await link(join(f.dir, 'live.sock'), stale);
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    expect(await run(['tag', A, '--socket', stale, '--token', f.token])).toEqual({ code: 1, out: '', err: `tagstream: tag: no agent at ${stale}: start one with \`tagstream agent\`\n` });
    const refused = await run(['tag', A, '--socket', f.socketPath, '--token', 'wrong-token-wrong-token']);
    expect(refused).toMatchObject({ code: 1, out: '' });
    expect(refused.err).toContain('refused the token (401)');
    expect(refused.err).not.toContain('wrong-token-wrong-token');
  });
});

describe('tagstream list', () => {
  it('lists entities with sources and tags by level, readable or as JSON, filtered by prefix', async () => {
    const readable = await run(['list', ...flags()]);
    expect(readable).toEqual({
      code: 0,
      out: `${A}  (static)\n  low           env:prod\n  orchestrator  pod_name:web-1\n  high          container_name:web\n1 entity\n`,
      err: '',
    });
    const json = JSON.parse((await run(['list', '--json', ...flags()])).out) as { entities: unknown[] };
    expect(json.entities).toEqual([{ entity: A, sources: ['static'], tags: { low: ['env:prod'], orchestrator: ['env:prod', 'pod_name:web-1'], high: ['env:prod', 'pod_name:web-1', 'container_name:web'] } }]);
    expect((await run(['list', '--prefix', 'kubernetes_pod_uid://', ...flags()])).out).toBe('0 entities\n');
  });
});

describe('tagstream watch', () => {
  it('prints the burst, then each change, until interrupted (exit 0)', async () => {
    const io = fakeIo();
    const done = main(['watch', '--json', '-c', 'high', ...flags()], io);
    await until(io.stdout, (t) => t.includes('"synced"'));
    put(f, B, ['env:qa'], [], []);
    await until(io.stdout, (t) => t.includes(`"entity":"${B}"`));
    f.input.next(deleteEntityInfo(B, 'static'));
    await until(io.stdout, (t) => t.includes('"deleted"'));
    io.signal('SIGINT');
    expect(await done).toBe(0);
    expect(io.stdout().trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { type: 'added', entity: A, tags: ['env:prod', 'pod_name:web-1', 'container_name:web'] },
      { type: 'synced', entities: 1 },
      { type: 'added', entity: B, tags: ['env:qa'] },
      { type: 'deleted', entity: B, tags: [] },
    ]);
  });

  it('prints readable lines', async () => {
    const io = fakeIo({}, { now: () => Date.UTC(2026, 0, 1, 12, 0, 0) });
    const done = main(['watch', '--prefix', A, ...flags()], io);
    await until(io.stdout, (t) => t.includes('synced'));
    io.signal('SIGTERM');
    expect(await done).toBe(0);
    expect(io.stdout()).toBe(`12:00:00 added     ${A}  env:prod\n# 12:00:00 synced: 1 entity; watching for changes (Ctrl-C to stop)\n`);
  });

  it('exits 1 saying the agent went away when the server closes', async () => {
    const other = await startFixture();
    const io = fakeIo();
    const done = main(['watch', '--socket', other.socketPath, '--token-file', other.tokenFile], io);
    await until(io.stdout, (t) => t.includes('synced'));
    await other.close();
    expect(await done).toBe(1);
    expect(io.stderr()).toContain(`tagstream: watch: the agent at unix:${other.socketPath} went away`);
  });

  it('exits 1 when the agent cannot be reached at all', async () => {
    const io = fakeIo();
    expect(await main(['watch', '--socket', join(f.dir, 'nobody.sock'), '--token', f.token], io)).toBe(1);
    expect(io.stderr()).toBe(`tagstream: watch: no agent at ${join(f.dir, 'nobody.sock')}: start one with \`tagstream agent\`\n`);
  });
});
