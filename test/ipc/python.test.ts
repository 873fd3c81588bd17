import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type Server, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerId } from '../../src/index.js';
import { type Fixture, put, startFixture, tempDir } from './helpers.js';

const MODULE_DIR = fileURLToPath(new URL('../../src/ipc/python/', import.meta.url));
const A = containerId('a');

/** Runs `get_tags(*args)` in python3 with `env`; resolves with what it printed (JSON). */
function pyGetTags(env: Record<string, string>, args: string): Promise<unknown> {
  const script = `import json, tagger\nprint(json.dumps(tagger.get_tags(${args})))`;
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
