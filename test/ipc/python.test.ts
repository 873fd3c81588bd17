import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type Server, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Subject, map, timer } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TagInfo, containerId, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';
import { serveTagger } from '../../src/ipc/index.js';
import { type Fixture, put, startFixture, tempDir } from './helpers.js';

const MODULE_DIR = fileURLToPath(new URL('../../src/ipc/python/', import.meta.url));
const A = containerId('a');

/** Runs `get_tags(*args)` in python3 with `env`; resolves with what it printed (JSON). */
function pyGetTags(env: Record<string, string>, args: string): Promise<unknown> {
  return py(env, `tagger.get_tags(${args})`);
}

/** Evaluates `expression` (with `tagger` imported) in python3 with `env`; resolves with its JSON. */
function py(env: Record<string, string>, expression: string): Promise<unknown> {
  const script = `import json, tagger\nprint(json.dumps(${expression}))`;
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      ['-c', script],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: MODULE_DIR, ...env }, timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`python3 failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

function listen(server: Server | ReturnType<typeof createHttpServer>, path: string): Promise<void> {
  return new Promise((resolve) => server.listen(path, resolve));
}

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
  put(f, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
});
afterAll(async () => {
  await f.close();
});

describe('python get_tags (src/ipc/python/tagger.py)', () => {
  it('answers the tags of an entity at each cardinality, by name or constant, with the token from a file or the environment', async () => {
    const env = { TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN_FILE: f.tokenFile };
    expect(await pyGetTags(env, `"${A}", "low"`)).toEqual(['env:prod']);
    expect(await pyGetTags(env, `"${A}"`)).toEqual(['env:prod']);
    expect(await pyGetTags(env, `"${A}", tagger.ORCHESTRATOR`)).toEqual(['env:prod', 'pod_name:web-1']);
    expect(await pyGetTags({ TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN: f.token }, `"${A}", tagger.HIGH`)).toEqual([
      'env:prod',
      'pod_name:web-1',
      'container_name:web',
    ]);
    expect(await pyGetTags({ TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN: f.token }, `"${containerId('unknown')}", "high"`)).toEqual([]);
    // Without a token variable, the token file is the socket path + .token.
    await writeFile(`${f.socketPath}.token`, `${f.token}\n`, { mode: 0o600 });
    expect(await pyGetTags({ TAGSTREAM_SOCKET: f.socketPath }, `"${A}"`)).toEqual(['env:prod']);
  });

  it('returns [] on bad arguments', async () => {
    const env = { TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN: f.token };
    expect(await pyGetTags(env, `"${A}", "HIGH"`)).toEqual([]);
    expect(await pyGetTags(env, `"not-an-entity", "low"`)).toEqual([]);
    expect(await pyGetTags(env, `None, "low"`)).toEqual([]);
  });

  it('returns [] with a wrong token, a missing token file, or no server', async () => {
    expect(await pyGetTags({ TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN: 'wrong-token-wrong-token' }, `"${A}", "low"`)).toEqual([]);
    expect(await pyGetTags({ TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN_FILE: join(f.dir, 'missing') }, `"${A}", "low"`)).toEqual([]);
    expect(await pyGetTags({ TAGSTREAM_SOCKET: join(f.dir, 'nobody.sock'), TAGSTREAM_TOKEN: f.token }, `"${A}", "low"`)).toEqual([]);
  });

  it('returns [] on a timeout and on an answer that is not the protocol', async () => {
    const { dir, remove } = await tempDir();
    // A server that accepts and never answers.
    const silent = createNetServer(() => undefined);
    await listen(silent, join(dir, 'silent.sock'));
    const started = Date.now();
    expect(await pyGetTags({ TAGSTREAM_SOCKET: join(dir, 'silent.sock'), TAGSTREAM_TOKEN: f.token, TAGSTREAM_TIMEOUT: '0.5' }, `"${A}", "low"`)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(8000);
    // Servers answering 200 with something else than {"tags": [strings]}.
    for (const body of ['not json', '{"tags": "env:prod"}', '{"tags": [1, 2]}', '[]']) {
      const liar = createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
      const path = join(dir, 'liar.sock');
      await listen(liar, path);
      expect(await pyGetTags({ TAGSTREAM_SOCKET: path, TAGSTREAM_TOKEN: f.token }, `"${A}", "low"`), body).toEqual([]);
      await new Promise((r) => liar.close(r));
    }
    silent.close();
    await remove();
  });
});

describe('python lookup and get_tags with wait (completeness)', () => {
  it('waits for the entity to be complete, answers incomplete with the missing sources at the deadline, and the unknown on errors', async () => {
    const { dir, remove } = await tempDir();
    const runtime = new Subject<TagInfo>();
    const tagger = createTagger({
      logger: silentLogger,
      completenessRetryDelays: [],
      collectors: [
        streamCollector('runtime', runtime, { priority: 0 }),
        {
          source: 'kubelet',
          priority: 1,
          mode: 'fetch',
          covers: ['container_id'],
          fetch: (entity) => timer(1500).pipe(map(() => tagInfo({ entity, source: 'kubelet', low: ['pod_name:web'] }))),
        },
      ],
    });
    tagger.start();
    const server = await serveTagger(tagger, { socketPath: join(dir, 's.sock'), tokenFile: join(dir, 'token'), logger: silentLogger });
    try {
      const env = { TAGSTREAM_SOCKET: join(dir, 's.sock'), TAGSTREAM_TOKEN_FILE: join(dir, 'token') };
      const B = containerId('b');
      const C = containerId('c');
      // B: a wait far shorter than the kubelet's 1.5 s answer.
      runtime.next(tagInfo({ entity: B, source: 'runtime', low: ['image:redis'] }));
      expect(await py(env, `tagger.lookup("${B}", wait=0.02)`)).toEqual({ tags: ['image:redis'], complete: false, missing: ['kubelet'] });
      // C: a wait long enough (python starts in well under 1.5 s: only the server's wait makes it complete).
      runtime.next(tagInfo({ entity: C, source: 'runtime', low: ['image:nginx'] }));
      const started = Date.now();
      expect(await py(env, `tagger.lookup("${C}", "low", wait=3)`)).toEqual({ tags: ['pod_name:web', 'image:nginx'], complete: true, missing: [] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(await py(env, `tagger.get_tags("${C}", tagger.LOW, wait=1)`)).toEqual(['pod_name:web', 'image:nginx']);
      expect(await py(env, `tagger.lookup("${C}")`)).toEqual({ tags: ['pod_name:web', 'image:nginx'], complete: true, missing: [] });
      // Bad waits and bad ids: the empty answers, never an exception.
      for (const wait of ['-1', '"soon"', 'float("nan")', 'True']) {
        expect(await py(env, `tagger.lookup("${C}", wait=${wait})`), wait).toEqual({ tags: [], complete: false, missing: ['unknown'] });
        expect(await py(env, `tagger.get_tags("${C}", wait=${wait})`), wait).toEqual([]);
      }
      expect(await py(env, `tagger.lookup("nope")`)).toEqual({ tags: [], complete: false, missing: ['unknown'] });
      expect(await py({ ...env, TAGSTREAM_TOKEN: 'wrong-token-wrong-token' }, `tagger.lookup("${C}")`)).toEqual({ tags: [], complete: false, missing: ['unknown'] });
      expect(server.telemetry().requests.tags?.['200']).toBeGreaterThanOrEqual(4);
    } finally {
      await server.close();
      tagger.stop();
      await remove();
    }
  });

  it('against a server older than wait: its tags, with the honest unknown', async () => {
    const { dir, remove } = await tempDir();
    const old = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"entity":"${A}","cardinality":"low","tags":["env:old"]}`);
    });
    const path = join(dir, 'old.sock');
    await listen(old, path);
    try {
      expect(await py({ TAGSTREAM_SOCKET: path, TAGSTREAM_TOKEN: f.token }, `tagger.lookup("${A}", wait=0.1)`)).toEqual({ tags: ['env:old'], complete: false, missing: ['unknown'] });
      expect(await py({ TAGSTREAM_SOCKET: path, TAGSTREAM_TOKEN: f.token }, `tagger.get_tags("${A}", wait=0.1)`)).toEqual(['env:old']);
    } finally {
      await new Promise((r) => old.close(r));
      await remove();
    }
  });
});
