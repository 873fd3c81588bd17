/**
 * Short ids over the real IPC server, the `tagstream tag` command (a child process) and Python's
 * `get_tags`: a tagger whose collector declares `container_id://` short ids (as the Docker
 * collector does) and holds two containers whose ids share their first 12 digits, so that the
 * short id `docker ps` would print begins both.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Subject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmbiguousEntityIdError, type TagInfo, type Tagger, containerId, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';
import { type TaggerServer, createTaggerClient, serveTagger, tagsPath } from '../../src/ipc/index.js';
import { runCli } from '../cli/helpers.js';
import { get, tempDir } from './helpers.js';

const PYTHON_DIR = fileURLToPath(new URL('../../src/ipc/python/', import.meta.url));
const SHARED = 'abcdef012345';
const A = containerId(`${SHARED}${'1'.repeat(52)}`);
const B = containerId(`${SHARED}${'2'.repeat(52)}`);

/** get_tags(entity, 'high') in python3 with the `tagstream` logger on stderr: what it printed, and stderr. */
function pyGetTags(env: Record<string, string>, entity: string): Promise<{ tags: unknown; stderr: string }> {
  const script = 'import json, logging, sys, tagger\nlogging.basicConfig()\nprint(json.dumps(tagger.get_tags(sys.argv[1], "high")))';
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script, entity], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: PYTHON_DIR, ...env }, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`python3 failed: ${error.message}\n${stderr}`));
      else resolve({ tags: JSON.parse(stdout), stderr });
    });
  });
}

describe('short and malformed entity ids over IPC, the CLI and Python', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let tagger: Tagger;
  let server: TaggerServer;
  let socketPath: string;
  let tokenFile: string;
  let token: string;
  let pyEnv: Record<string, string>;

  beforeAll(async () => {
    tmp = await tempDir();
    socketPath = join(tmp.dir, 'tagger.sock');
    tokenFile = join(tmp.dir, 'token');
    const input = new Subject<TagInfo>();
    const collector = { ...streamCollector('static', input), shortIds: { prefix: 'container_id', isShort: (id: string) => /^[0-9a-f]{12,63}$/.test(id) } };
    tagger = createTagger({ collectors: [collector], logger: silentLogger });
    tagger.start();
    input.next(tagInfo({ entity: A, source: 'static', low: ['app:a'] }));
    input.next(tagInfo({ entity: B, source: 'static', low: ['app:b'] }));
    server = await serveTagger(tagger, { socketPath, tokenFile, logger: silentLogger });
    token = (await readFile(tokenFile, 'utf8')).trim();
    pyEnv = { TAGSTREAM_SOCKET: socketPath, TAGSTREAM_TOKEN_FILE: tokenFile };
  });

  afterAll(async () => {
    await server.close();
    tagger.stop();
    await tmp.remove();
  });

  it('a short id that begins one entity answers its tags; one that begins two is a 400 AmbiguousEntityId', async () => {
    const unique = containerId(`${SHARED}1`);
    expect(JSON.parse((await get(socketPath, tagsPath(unique, 'low'), token)).body)).toEqual({ entity: unique, cardinality: 'low', tags: ['app:a'] });
    const ambiguous = await get(socketPath, tagsPath(containerId(SHARED), 'low'), token);
    expect(ambiguous.status).toBe(400);
    expect(JSON.parse(ambiguous.body)).toEqual({ error: { code: 'AmbiguousEntityId', message: expect.stringMatching(/ambiguous entity id .*begins 2 entities/) } });
  });

  it('the remote tagger answers a unique short id through the server, and rejects an ambiguous one with AmbiguousEntityIdError', async () => {
    const client = createTaggerClient({ socketPath, tokenFile, logger: silentLogger });
    client.start();
    try {
      expect(await client.tag(containerId(`${SHARED}2`))).toEqual(['app:b']);
      await expect(client.tag(containerId(SHARED))).rejects.toBeInstanceOf(AmbiguousEntityIdError);
      expect(client.clientTelemetry().directQueryErrors).toBe(0);
    } finally {
      client.stop();
    }
  });

  it('`tagstream tag` answers a unique short id, and exits 2 with the reason for an ambiguous or malformed one', async () => {
    const query = ['--socket', socketPath, '--token-file', tokenFile];
    const unique = await runCli(['tag', containerId(`${SHARED}2`), ...query], {});
    expect(unique).toMatchObject({ code: 0, stdout: 'app:b' });
    const ambiguous = await runCli(['tag', containerId(SHARED), ...query], {});
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/ambiguous entity id "container_id:\/\/abcdef012345": it begins 2 entities/);
    const malformed = await runCli(['tag', 'container_id://a\u0007b', ...query], {});
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/not an entity id \(a character is not printable/);
  }, 60_000);

  it('Python answers a unique short id, and for an ambiguous or malformed one answers [] and logs why', async () => {
    expect((await pyGetTags(pyEnv, containerId(`${SHARED}1`))).tags).toEqual(['app:a']);
    const ambiguous = await pyGetTags(pyEnv, containerId(SHARED));
    expect(ambiguous.tags).toEqual([]);
    expect(ambiguous.stderr).toMatch(/ambiguous entity id/);
    const malformed = await pyGetTags(pyEnv, 'container_id://a\u0007b');
    expect(malformed.tags).toEqual([]);
    expect(malformed.stderr).toMatch(/invalid entity id .*not printable/);
  }, 30_000);
});
