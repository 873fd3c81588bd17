/**
 * Starts a private redis-server (Debian package `redis-server`) for the suites that need a real
 * Redis: on a free loopback port, in a temporary directory, stopped by the suite.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, missingServer } from './availability.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /**
   * Kills the server (SIGKILL: a crash, not a clean shutdown) and starts it again on the same port,
   * after `downFor` ms (default 0) of outage.
   */
  restart(downFor?: number): Promise<void>;
  /** Stops the server process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /**
   * Keep data across restarts: an append-only file synced on every write. Default false
   * (`--save '' --appendonly no`).
   */
  readonly persistent?: boolean;
}

/** True when `redis-server` is on the PATH. */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Why Redis suites cannot run here, or undefined when they can. Under CI a missing server is a
 * failure (the suite throws); elsewhere the suite is skipped with this reason printed.
 */
export function redisUnavailableReason(): string | undefined {
  if (redisServerAvailable()) return undefined;
  return missingServer('Redis', 'redis-server is not installed (Debian package redis-server)', 'bash test/services/install.sh redis-server');
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      done(data.toString().startsWith('+PONG'));
    });
  });
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server did not answer on port ${port} within 10 s`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => { resolve(); }));
}

/**
 * Starts redis-server on a free loopback port.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * const storage = redisStorage({ url: redis.url });
 * // ...
 * await redis.stop();
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-redis-'));
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    ...(options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ];
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitReady(port, child);
    return child;
  };
  let child = await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart(downFor = 0) {
      child.kill('SIGKILL');
      await exited(child);
      if (downFor > 0) await new Promise((r) => setTimeout(r, downFor));
      child = await launch();
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
