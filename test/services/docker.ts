/**
 * Starts a private Docker engine (Debian package docker.io) for the suites that need a real one:
 * `dockerd` on a unix socket in a temporary directory, without networking or overlay storage
 * (`--bridge=none --iptables=false --storage-driver=vfs`), with a tiny local image `tiny:1.0`
 * (busybox from the Debian package busybox-static, as /bin/busybox, /bin/sh and /bin/sleep).
 * Installs nothing: CI runs `bash test/services/install.sh docker.io busybox-static` first.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { underCi } from './availability.js';

/** The image every test container runs. */
export const TINY_IMAGE = 'tiny:1.0';

const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];

/** Where busybox-static put busybox, if it is installed. */
function busyboxPath(): string | undefined {
  return BUSYBOX_PATHS.find((path) => existsSync(path));
}

/** True when `dockerd` is on the PATH. */
export function dockerdAvailable(): boolean {
  return spawnSync('dockerd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why a private Docker engine cannot start here (a missing package, not root), or undefined. */
export function dockerMissingReason(): string | undefined {
  if (!dockerdAvailable()) return 'dockerd is not installed (Debian package docker.io)';
  if (busyboxPath() === undefined) return 'busybox is not installed (Debian package busybox-static)';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'a private dockerd needs root';
  return undefined;
}


/**
 * Whether a Docker suite should be skipped: outside CI, when the engine cannot start here (the
 * reason is printed). Under CI it never skips: the suite's `beforeAll` calls
 * {@link requireDockerEngine}, which fails it.
 */
export function skipDockerSuite(): boolean {
  const reason = dockerMissingReason();
  if (reason === undefined || underCi()) return false;
  console.warn(`skipping the Docker suites: ${reason}`);
  return true;
}

/** Throws when the engine cannot start here (for a suite's `beforeAll` under CI). */
export function requireDockerEngine(): void {
  const reason = dockerMissingReason();
  if (reason !== undefined) throw new Error(`${reason}: CI must install it (bash test/services/install.sh docker.io busybox-static)`);
}

/** Options of {@link DockerEngine.run}. */
export interface RunOptions {
  readonly name?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly env?: readonly string[];
  /** The image (a reference or an image id). Default `tiny:1.0`. */
  readonly image?: string;
  /** Restart policy 'always': the daemon starts it again after a restart. */
  readonly restartAlways?: boolean;
}

/** A private Docker engine. */
export interface DockerEngine {
  /** The daemon's unix socket. */
  readonly socketPath: string;
  /** A dockerode client on the socket (for the test's own actions). */
  readonly docker: Docker;
  /** The id of `tiny:1.0` (`sha256:…`). */
  readonly imageId: string;
  /** Creates and starts a container running `sleep 3600`, network 'none'; its id. */
  run(options?: RunOptions): Promise<string>;
  /** The ids of the running containers, as `docker ps` lists them. */
  runningIds(): Promise<string[]>;
  /** Stops the daemon (SIGTERM; containers are stopped) and keeps its data. */
  stop(): Promise<void>;
  /** Starts the daemon again on the same socket and data root. */
  start(): Promise<void>;
  /** Stops the daemon and removes its directory. */
  destroy(): Promise<void>;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitReady(docker: Docker, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with code ${child.exitCode}; see ${log}`);
    try {
      await docker.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`dockerd did not answer within 60 s; see ${log}`);
}

function buildRootfsTar(dir: string): string {
  const busybox = busyboxPath();
  if (busybox === undefined) throw new Error('busybox is not installed (Debian package busybox-static)');
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
  symlinkSync('busybox', join(rootfs, 'bin', 'sh'));
  symlinkSync('busybox', join(rootfs, 'bin', 'sleep'));
  const tar = join(dir, 'rootfs.tar');
  const result = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.'], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('tar failed to pack the tiny image');
  return tar;
}

async function importTiny(docker: Docker, tar: string): Promise<string> {
  const [repo, tag] = TINY_IMAGE.split(':');
  const progress = await docker.importImage(tar, { repo, tag });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(progress, (error: Error | null) => {
      if (error === null) resolve();
      else reject(error);
    });
  });
  return (await docker.getImage(TINY_IMAGE).inspect()).Id;
}

/**
 * Starts a private dockerd in a temporary directory and imports `tiny:1.0` into it.
 *
 * @example
 * ```ts
 * const engine = await startDockerEngine();
 * const id = await engine.run({ labels: { team: 'core' } });
 * await engine.destroy();
 * ```
 */
export async function startDockerEngine(): Promise<DockerEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-docker-'));
  const socketPath = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  const args = [
    '--host', `unix://${socketPath}`,
    '--data-root', join(dir, 'data'),
    '--exec-root', join(dir, 'exec'),
    '--pidfile', join(dir, 'docker.pid'),
    '--iptables=false', '--ip6tables=false', '--bridge=none', '--storage-driver=vfs',
    '--shutdown-timeout=2',
  ];
  const docker = new Docker({ socketPath });
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const out = openSync(log, 'a');
    try {
      child = spawn('dockerd', args, { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    await waitReady(docker, child, log);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    running.kill('SIGTERM');
    if (!(await exited(running, 30_000))) {
      running.kill('SIGKILL');
      await exited(running, 5_000);
    }
  };

  try {
    await start();
    const imageId = await importTiny(docker, buildRootfsTar(dir));
    return {
      socketPath,
      docker,
      imageId,
      async run(options: RunOptions = {}) {
        const container = await docker.createContainer({
          Image: options.image ?? TINY_IMAGE,
          Cmd: ['/bin/sleep', '3600'],
          // `sleep` as PID 1 ignores SIGTERM: have the daemon kill it after 1 s, not 10.
          StopTimeout: 1,
          ...(options.name === undefined ? {} : { name: options.name }),
          Labels: { ...options.labels },
          Env: [...(options.env ?? [])],
          HostConfig: {
            NetworkMode: 'none',
            ...(options.restartAlways === true ? { RestartPolicy: { Name: 'always' } } : {}),
          },
        });
        await container.start();
        return container.id;
      },
      async runningIds() {
        return (await docker.listContainers()).map((c) => c.Id);
      },
      stop,
      start,
      async destroy() {
        await stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
