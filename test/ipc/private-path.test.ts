/**
 * Issue 11, item 3, through the library: checkPrivatePath, the default socket location, token
 * rotation, and serveTagger / getJson refusing what another user owns or others can write. Real
 * files and sockets; `nobody` (65534) is the other user.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTagger, silentLogger } from '../../src/index.js';
import {
  IpcPermissionError,
  IpcTokenError,
  checkPrivatePath,
  defaultSocketDirectory,
  defaultSocketPath,
  getJson,
  preparePrivateDirectory,
  readOrCreateToken,
  resolveEndpoint,
  serveTagger,
  tagsPath,
} from '../../src/ipc/index.js';
import { startFixture, tempDir } from './helpers.js';

const NOBODY = 65_534;
const TOKEN = 'a-token-for-these-tests-0123456789';

let base: { dir: string; remove: () => Promise<void> };
const children: ChildProcess[] = [];
beforeAll(async () => {
  base = await tempDir();
  await chmod(base.dir, 0o755);
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await base.remove();
});

let count = 0;
async function dir(mode: number, owner = 0): Promise<string> {
  count += 1;
  const path = join(base.dir, `d${count}`);
  await mkdir(path);
  await chmod(path, mode);
  if (owner !== 0) await chown(path, owner, owner);
  return path;
}

async function refusal(promise: Promise<unknown>): Promise<IpcPermissionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof IpcPermissionError)) throw new Error(`expected an IpcPermissionError, got ${String(error)}`);
  return error;
}

describe('checkPrivatePath', () => {
  it('accepts what this user owns and others cannot write, and says whether it exists', async () => {
    const d = await dir(0o700);
    await writeFile(join(d, 'file'), 'x', { mode: 0o600 });
    expect(await checkPrivatePath(join(d, 'file'), 'token file')).toBe(true);
    expect(await checkPrivatePath(join(d, 'missing'), 'socket')).toBe(false);
    expect(await checkPrivatePath(join(d, 'no', 'such', 'dir', 'socket'), 'socket')).toBe(false);
  });

  it('accepts a sticky directory that others can write (as /tmp), not a plain one', async () => {
    const sticky = await dir(0o1777);
    expect(await checkPrivatePath(join(sticky, 'agent.sock'), 'socket')).toBe(false);
    const open = await dir(0o777);
    const error = await refusal(checkPrivatePath(join(open, 'agent.sock'), 'socket'));
    expect(error).toMatchObject({ tag: 'IpcPermission', kind: 'directory', path: open, fix: `chmod go-w ${open}` });
    expect(error.message).toBe(`directory ${open} is writable by group or others (mode 0777): chmod go-w ${open}`);
  });

  it('refuses a file or a directory of another user, anywhere up the path', async () => {
    const theirs = await dir(0o755, NOBODY);
    const error = await refusal(checkPrivatePath(join(theirs, 'agent.sock'), 'socket'));
    expect(error).toMatchObject({ kind: 'directory', path: theirs, fix: `remove it if you do not know who made it, or chown 0 ${theirs}` });
    // A directory of ours below theirs is no better: they can rename it.
    const below = join(theirs, 'mine');
    await mkdir(below, { mode: 0o700 });
    expect((await refusal(checkPrivatePath(join(below, 'token'), 'token file'))).path).toBe(theirs);
    // Their file in our directory.
    const mine = await dir(0o700);
    await writeFile(join(mine, 'token'), TOKEN, { mode: 0o600 });
    await chown(join(mine, 'token'), NOBODY, NOBODY);
    expect(await refusal(checkPrivatePath(join(mine, 'token'), 'token file'))).toMatchObject({ kind: 'token file', path: join(mine, 'token') });
  });

  it('checks what a symbolic link points to', async () => {
    const mine = await dir(0o700);
    await writeFile(join(mine, 'open'), TOKEN);
    await chmod(join(mine, 'open'), 0o646);
    await symlink(join(mine, 'open'), join(mine, 'link'));
    expect(await refusal(checkPrivatePath(join(mine, 'link'), 'token file'))).toMatchObject({ fix: `chmod go-w ${join(mine, 'link')}` });
  });
});

describe('preparePrivateDirectory', () => {
  it('creates a missing directory and its parents with mode 0700', async () => {
    const parent = await dir(0o755);
    const target = join(parent, 'a', 'b');
    await preparePrivateDirectory(target);
    expect((await stat(target)).mode & 0o777).toBe(0o700);
    expect((await stat(join(parent, 'a'))).mode & 0o777).toBe(0o700);
  });

  it('refuses an existing directory that others can write', async () => {
    const open = await dir(0o775);
    expect(await refusal(preparePrivateDirectory(open))).toMatchObject({ path: open, fix: `chmod go-w ${open}` });
  });
});

describe('the default socket', () => {
  it('is in XDG_RUNTIME_DIR, else /run/tagstream for root, else tagstream-<uid> in the temp dir; never the shared temp dir itself', () => {
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/tagstream.sock');
    expect(defaultSocketPath({ TAGSTREAM_SOCKET: '/x.sock' }, 1000)).toBe('/x.sock');
    expect(defaultSocketDirectory(0)).toBe(process.platform === 'linux' ? '/run/tagstream' : expect.stringMatching(/tagstream-0$/));
    expect(defaultSocketPath({}, 1000)).toMatch(/\/tagstream-1000\/tagstream\.sock$/);
  });
});

describe('readOrCreateToken', () => {
  it('keeps a token that is there, or with rotate replaces it by a fresh one', async () => {
    const d = await dir(0o700);
    const file = join(d, 'token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    expect(await readOrCreateToken(file)).toEqual({ token: TOKEN, created: false });
    const rotated = await readOrCreateToken(file, { rotate: true });
    expect(rotated.created).toBe(true);
    expect(rotated.token).not.toBe(TOKEN);
    expect((await readFile(file, 'utf8')).trim()).toBe(rotated.token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('neither reads nor replaces a token file another user owns or others can write', async () => {
    const d = await dir(0o700);
    const theirs = join(d, 'theirs');
    await writeFile(theirs, `${TOKEN}\n`, { mode: 0o600 });
    await chown(theirs, NOBODY, NOBODY);
    await refusal(readOrCreateToken(theirs));
    await refusal(readOrCreateToken(theirs, { rotate: true }));
    expect((await readFile(theirs, 'utf8')).trim()).toBe(TOKEN);
  });
});

describe('serveTagger', () => {
  it('refuses a token file in a directory another user owns, before writing anything', async () => {
    const tagger = createTagger({ collectors: [], logger: silentLogger });
    const mine = await dir(0o700);
    const theirs = await dir(0o755, NOBODY);
    const error = await refusal(serveTagger(tagger, { socketPath: join(mine, 'agent.sock'), tokenFile: join(theirs, 'token'), logger: silentLogger }));
    expect(error.path).toBe(theirs);
    expect(existsSync(join(theirs, 'token'))).toBe(false);
    expect(existsSync(join(mine, 'agent.sock'))).toBe(false);
  });

  it('refused because a live server holds the socket, leaves that server’s token alone (even with rotateToken)', async () => {
    const f = await startFixture();
    try {
      const tagger = createTagger({ collectors: [], logger: silentLogger });
      await expect(serveTagger(tagger, { socketPath: f.socketPath, tokenFile: f.tokenFile, rotateToken: true, logger: silentLogger })).rejects.toThrow('is another server running?');
      expect((await readFile(f.tokenFile, 'utf8')).trim()).toBe(f.token);
    } finally {
      await f.close();
    }
  });

  it('leaves a file that is not a socket where the socket should be', async () => {
    const d = await dir(0o700);
    await writeFile(join(d, 'agent.sock'), 'precious');
    const tagger = createTagger({ collectors: [], logger: silentLogger });
    await expect(serveTagger(tagger, { socketPath: join(d, 'agent.sock'), logger: silentLogger })).rejects.toThrow('is not a socket');
    expect(await readFile(join(d, 'agent.sock'), 'utf8')).toBe('precious');
  });
});

describe('getJson (the client transport)', () => {
  it('never connects to a socket another user listens on, and says what to fix', async () => {
    const shared = await dir(0o1777);
    const path = join(shared, 'tagstream.sock');
    const script = `
      const net = require('node:net'); const fs = require('node:fs');
      net.createServer((c) => { process.stdout.write('connection\\n'); c.on('data', (d) => process.stdout.write(d.toString())); })
        .listen(process.argv[1], () => { fs.chmodSync(process.argv[1], 0o777); process.stdout.write('listening\\n'); });`;
    const impostor = spawn(process.execPath, ['-e', script, path], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(impostor);
    let heard = '';
    impostor.stdout.setEncoding('utf8');
    await new Promise<void>((resolve) => {
      impostor.stdout.on('data', (c: string) => {
        heard += c;
        if (heard.includes('listening')) resolve();
      });
    });
    const endpoint = resolveEndpoint({ socketPath: path, token: TOKEN }, {});
    const error = await refusal(firstValueFrom(getJson(endpoint, tagsPath('container_id://a', 'low'), { timeout: 2000 })));
    expect(error).toMatchObject({ kind: 'socket', path, fix: `remove it if you do not know who made it, or chown 0 ${path}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard).toBe('listening\n');
    impostor.kill('SIGKILL');
  });

  it('reads no token from a file others can write', async () => {
    const f = await startFixture();
    try {
      await chmod(f.tokenFile, 0o622);
      const endpoint = resolveEndpoint({ socketPath: f.socketPath, tokenFile: f.tokenFile }, {});
      const error = await refusal(firstValueFrom(getJson(endpoint, tagsPath('container_id://a', 'low'), { timeout: 2000 })));
      expect(error).toMatchObject({ kind: 'token file', fix: `chmod go-w ${f.tokenFile}` });
      await chmod(f.tokenFile, 0o600);
      await expect(firstValueFrom(getJson(endpoint, tagsPath('container_id://a', 'low'), { timeout: 2000 }))).resolves.toMatchObject({ tags: [] });
    } finally {
      await f.close();
    }
  });

  it('still reports a missing token file as a token error', async () => {
    const d = await dir(0o700);
    const endpoint = resolveEndpoint({ socketPath: join(d, 'agent.sock'), tokenFile: join(d, 'missing') }, {});
    await expect(firstValueFrom(getJson(endpoint, tagsPath('container_id://a', 'low'), { timeout: 2000 }))).rejects.toBeInstanceOf(IpcTokenError);
  });
});
