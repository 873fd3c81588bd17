/**
 * Issue 11, item 3: the socket is the agent's own. Real agents (child processes, some as another
 * user), real sockets, real files owned by `nobody`; the clients are the CLI and Python's get_tags.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, killAll, runCli, spawnCli } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const PYTHON_DIR = join(ROOT, 'src', 'ipc', 'python');
/** `nobody`: a real other user. */
const NOBODY = 65_534;
const NOTHING = ['--disable', 'docker,kubernetes,ecs'];
const SECRET = 'the-real-token-the-real-token-0123';

let base: string;
/** A temp dir every user may write (tsx keeps its cache there), as /tmp. */
let sharedTmp: string;
const others: ChildProcess[] = [];
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tagstream-safety-'));
  // Others may pass through (as through /tmp), not write.
  await chmod(base, 0o755);
  sharedTmp = await dirWith('tmp', 0o1777);
});
afterAll(async () => {
  killAll();
  for (const c of others) c.kill('SIGKILL');
  await rm(base, { recursive: true, force: true });
});

/** A fresh directory under the test's base, with `mode` (and owner). */
async function dirWith(name: string, mode: number, owner = 0): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir);
  await chmod(dir, mode);
  if (owner !== 0) await chown(dir, owner, owner);
  return dir;
}

/** `tagstream args...` as `nobody`; its exit code, stdout and stderr. */
function runCliAs(uid: number, args: readonly string[], env: Readonly<Record<string, string>>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      uid,
      gid: uid,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base, TMPDIR: sharedTmp, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    others.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * An impostor: `nobody` listening on `path` (mode 0777), reporting each connection and what it
 * receives on stdout.
 */
async function impostor(path: string): Promise<{ readonly heard: () => string; readonly stop: () => void }> {
  const script = `
    const net = require('node:net'); const fs = require('node:fs');
    const server = net.createServer((c) => { process.stdout.write('connection\\n'); c.on('data', (d) => process.stdout.write(d.toString())); });
    server.listen(process.argv[1], () => { fs.chmodSync(process.argv[1], 0o777); process.stdout.write('listening\\n'); });`;
  const child = spawn(process.execPath, ['-e', script, path], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
  others.push(child);
  let heard = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: string) => {
      heard += c;
      if (heard.includes('listening')) resolve();
    });
    child.once('exit', () => reject(new Error('the impostor exited')));
  });
  return { heard: () => heard.replace('listening\n', ''), stop: () => child.kill('SIGKILL') };
}

function pyGetTags(env: Record<string, string>): Promise<{ tags: unknown; stderr: string }> {
  const script = `import json, tagger\nprint(json.dumps(tagger.get_tags("container_id://a", "low")))`;
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: PYTHON_DIR, ...env }, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`python3 failed: ${error.message}\n${stderr}`));
      else resolve({ tags: JSON.parse(stdout), stderr });
    });
  });
}

describe('the socket directory', () => {
  it('is created (0700) when --socket names a new directory, before the token is written into it', async () => {
    const dir = join(base, 'fresh', 'run', 'tagstream');
    const socket = join(dir, 'agent.sock');
    const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: base });
    const start = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.event === 'start'));
    expect(start).toMatchObject({ address: `unix:${socket}`, tokenFile: `${socket}.token` });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(`${socket}.token`)).mode & 0o777).toBe(0o600);
    expect(await runCli(['list', '--socket', socket], { HOME: base })).toMatchObject({ code: 0, stdout: '0 entities' });
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  });

  it('is per user and private when XDG_RUNTIME_DIR is unset: $TMPDIR/tagstream-<uid>/ (0700)', async () => {
    const tmp = await dirWith('shared-tmp', 0o1777);
    const agent = spawn(process.execPath, ['--import', 'tsx', MAIN, 'agent', '--json', ...NOTHING], {
      cwd: ROOT,
      uid: NOBODY,
      gid: NOBODY,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    others.push(agent);
    let out = '';
    agent.stdout.setEncoding('utf8');
    const started = new Promise<void>((resolve) => {
      agent.stdout.on('data', (c: string) => {
        out += c;
        if (out.includes('"event":"start"')) resolve();
      });
    });
    await started;
    const dir = join(tmp, `tagstream-${NOBODY}`);
    expect(out).toContain(`"address":"unix:${join(dir, 'tagstream.sock')}"`);
    const info = await stat(dir);
    expect({ uid: info.uid, mode: info.mode & 0o777 }).toEqual({ uid: NOBODY, mode: 0o700 });
    // Python finds the same default.
    const script = 'import tagger; print(tagger._socket_path())';
    const python = await new Promise<string>((resolve, reject) => {
      execFile('python3', ['-c', script], { uid: NOBODY, gid: NOBODY, env: { PATH: '/usr/bin:/bin', PYTHONPATH: PYTHON_DIR, TMPDIR: tmp } }, (error, stdout) => {
        if (error !== null) reject(new Error(`python3 failed: ${error.message}`));
        else resolve(stdout.trim());
      });
    });
    expect(python).toBe(join(dir, 'tagstream.sock'));
    agent.kill('SIGTERM');
  });

  it('is refused, with what to fix, when another user owns it', async () => {
    const dir = await dirWith('theirs', 0o755, NOBODY);
    const socket = join(dir, 'agent.sock');
    const result = await runCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: base }, 8000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${dir} is owned by uid ${NOBODY}`);
    expect(result.stderr).toContain(`chown 0 ${dir}`);
    expect(existsSync(socket)).toBe(false);
  });

  it('is refused, with what to fix, when others can write it', async () => {
    const dir = await dirWith('open', 0o777);
    const socket = join(dir, 'agent.sock');
    const result = await runCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: base }, 8000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`chmod go-w ${dir}`);
    expect(existsSync(socket)).toBe(false);
  });

  it('reports EACCES as a permission problem, not as "in use"', async () => {
    const closed = await dirWith('root-only', 0o755); // root's, and nobody may not create in it
    const mine = await dirWith('nobodys', 0o700, NOBODY);
    const result = await runCliAs(NOBODY, ['agent', '--json', '--socket', join(closed, 'agent.sock'), '--token-file', join(mine, 'token'), ...NOTHING], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`tagstream: agent: cannot serve on ${join(closed, 'agent.sock')}`);
    expect(result.stderr).toContain('EACCES');
    expect(result.stderr).toMatch(/permission/i);
    expect(result.stderr).not.toContain('in use');
  });
});

describe('a socket that another user holds (an impostor in a shared directory)', () => {
  it('is refused by the agent, by tagstream tag/list and by get_tags, and never gets the token', async () => {
    const shared = await dirWith('shared', 0o1777); // as /tmp
    const socket = join(shared, 'tagstream.sock');
    const fake = await impostor(socket);
    try {
      const agent = await runCli(['agent', '--json', '--socket', socket, '--token-file', join(base, 'agent.token'), ...NOTHING], { HOME: base }, 8000);
      expect(agent.code).toBe(1);
      expect(agent.stderr).toContain(`${socket} is owned by uid ${NOBODY}`);
      expect(agent.stderr).not.toContain('in use');

      const env = { HOME: base, TAGSTREAM_SOCKET: socket, TAGSTREAM_TOKEN: SECRET };
      const list = await runCli(['list'], env);
      expect(list.code).toBe(1);
      expect(list.stderr).toContain(`${socket} is owned by uid ${NOBODY}`);
      const tag = await runCli(['tag', 'container_id://a'], env);
      expect(tag.code).toBe(1);

      const python = await pyGetTags({ TAGSTREAM_SOCKET: socket, TAGSTREAM_TOKEN: SECRET });
      expect(python.tags).toEqual([]);
      expect(python.stderr).toContain(`${socket} is owned by uid ${NOBODY}`);

      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(fake.heard()).not.toContain(SECRET);
      expect(fake.heard()).toBe('');
    } finally {
      fake.stop();
    }
  });
});

describe('a token file that is not the user’s own', () => {
  it('is refused by the agent, the CLI and get_tags when another user owns it or others can write it', async () => {
    const dir = await dirWith('tokens', 0o700);
    const theirs = join(dir, 'theirs.token');
    const open = join(dir, 'open.token');
    await writeFile(theirs, `${SECRET}\n`, { mode: 0o600 });
    await chown(theirs, NOBODY, NOBODY);
    await writeFile(open, `${SECRET}\n`);
    await chmod(open, 0o666);
    const agent = await runCli(['agent', '--json', '--socket', join(dir, 'agent.sock'), '--token-file', theirs, ...NOTHING], { HOME: base }, 8000);
    expect(agent.code).toBe(1);
    expect(agent.stderr).toContain(`${theirs} is owned by uid ${NOBODY}`);
    const agentOpen = await runCli(['agent', '--json', '--socket', join(dir, 'agent.sock'), '--token-file', open, ...NOTHING], { HOME: base }, 8000);
    expect(agentOpen.code).toBe(1);
    expect(agentOpen.stderr).toContain(`chmod go-w ${open}`);

    // A real agent, asked with those files.
    const socket = join(dir, 'real.sock');
    const real = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: base });
    await real.waitForLine((l) => jsonOf(l)?.event === 'start');
    const listed = await runCli(['list', '--socket', socket, '--token-file', open], { HOME: base });
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain(`chmod go-w ${open}`);
    const python = await pyGetTags({ TAGSTREAM_SOCKET: socket, TAGSTREAM_TOKEN_FILE: theirs });
    expect(python.tags).toEqual([]);
    expect(python.stderr).toContain(`${theirs} is owned by uid ${NOBODY}`);
    real.child.kill('SIGTERM');
    expect(await real.exited()).toBe(0);
  });
});

describe('the token and the socket over the agent’s life', () => {
  it('rotates a token left by an agent that crashed', async () => {
    const dir = await dirWith('crashed', 0o700);
    const socket = join(dir, 'agent.sock');
    const stale = 'stale-token-left-by-a-crash-0123456789';
    await writeFile(`${socket}.token`, `${stale}\n`, { mode: 0o600 });
    const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: base });
    await agent.waitForLine((l) => jsonOf(l)?.event === 'start');
    const fresh = (await readFile(`${socket}.token`, 'utf8')).trim();
    expect(fresh).not.toBe(stale);
    expect(fresh).toMatch(/^[0-9a-f]{64}$/);
    const withStale = await runCli(['list', '--socket', socket, '--token', stale], { HOME: base });
    expect(withStale.code).toBe(1);
    expect(withStale.stderr).toContain('refused the token (401)');
    expect(await runCli(['list', '--socket', socket], { HOME: base })).toMatchObject({ code: 0, stdout: '0 entities' });
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    expect(existsSync(`${socket}.token`)).toBe(false);
  });

  it('keeps the token of a token file the user named, and leaves the file on exit', async () => {
    const dir = await dirWith('provisioned', 0o700);
    const socket = join(dir, 'agent.sock');
    const tokenFile = join(dir, 'provisioned.token');
    const provisioned = 'provisioned-token-shared-with-clients-0123';
    await writeFile(tokenFile, `${provisioned}\n`, { mode: 0o600 });
    const agent = spawnCli(['agent', '--json', '--socket', socket, '--token-file', tokenFile, ...NOTHING], { HOME: base });
    await agent.waitForLine((l) => jsonOf(l)?.event === 'start');
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(provisioned);
    expect(await runCli(['list', '--socket', socket, '--token', provisioned], { HOME: base })).toMatchObject({ code: 0, stdout: '0 entities' });
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(provisioned);
  });

  for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) {
    it(`removes the socket and the token on ${signal}, and exits 0`, async () => {
      const socket = join(base, `on-${signal}.sock`);
      const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: base });
      await agent.waitForLine((l) => jsonOf(l)?.event === 'start');
      expect(existsSync(socket) && existsSync(`${socket}.token`)).toBe(true);
      agent.child.kill(signal);
      expect(await agent.exited()).toBe(0);
      expect(jsonOf(agent.lines.at(-1) ?? '')).toMatchObject({ event: 'stop', signal });
      expect(existsSync(socket)).toBe(false);
      expect(existsSync(`${socket}.token`)).toBe(false);
    });
  }
});

describe('--env-as-tag with a glob (issue 11, item 5)', () => {
  it('warns in the agent log that every matching variable, secrets included, becomes a tag', async () => {
    const socket = join(base, 'glob.sock');
    const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING, '--env-as-tag', '*=env_%%env%%', '--env-as-tag', 'DD_VERSION=version'], { HOME: base });
    const warning = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.event === 'log' && jsonOf(l)?.level === 'warn'));
    expect(String(warning?.message)).toMatch(/secret/i);
    expect(warning).toMatchObject({ fields: { patterns: ['*'] } });
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  });

  it('does not warn for exact names', async () => {
    const socket = join(base, 'exact.sock');
    const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING, '--env-as-tag', 'DD_VERSION=version'], { HOME: base });
    await agent.waitForLine((l) => jsonOf(l)?.event === 'start');
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    expect(agent.lines.filter((l) => jsonOf(l)?.event === 'log')).toEqual([]);
  });
});
