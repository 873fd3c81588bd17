/**
 * Starts a private etcd (Debian package `etcd-server`) for the suites that need a real one: a
 * single member on free loopback ports, in a temporary data directory, stopped by the suite.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, missingServer } from './availability.js';

export interface EtcdServer {
  /** The client URL, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** Stops etcd (SIGTERM) and waits for it to exit; the data directory stays, for `start()`. */
  halt(): Promise<void>;
  /** Starts it again after `halt()` or `kill()`, on the same ports and data. */
  start(): Promise<void>;
  /** Stops it and starts it again (same ports, same data). */
  restart(): Promise<void>;
  /** SIGKILL: a crash. `start()` brings it back. */
  kill(): Promise<void>;
  /** SIGSTOP: etcd stalls with its connections open (no error reaches a client). `resume()` ends it. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Stops it (SIGKILL), deletes its data and starts it empty on the same ports: etcd that lost its data. */
  wipe(): Promise<void>;
  /** Stops it for good and removes its data. */
  stop(): Promise<void>;
}

/** True when `etcd` is on the PATH. */
export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Why etcd suites cannot run here, or undefined when they can. Under CI a missing etcd is a
 * failure (this throws); elsewhere the suite is skipped with this reason printed.
 */
export function etcdUnavailableReason(): string | undefined {
  if (etcdAvailable()) return undefined;
  return missingServer('etcd', 'etcd is not installed (Debian packages etcd-server and etcd-client)', 'bash test/services/install.sh etcd-server etcd-client');
}

function healthy(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/health`, { timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        resolve(res.statusCode === 200 && body.includes('true'));
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(false);
    });
    req.end();
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => { resolve(); }));
}

/**
 * Starts etcd on free loopback ports.
 *
 * @example
 * ```ts
 * const etcd = await startEtcd();
 * const backend = etcdBackend({ hosts: etcd.endpoint });
 * // ...
 * await etcd.stop();
 * ```
 */
export async function startEtcd(): Promise<EtcdServer> {
  const port = await freePort();
  const peer = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-etcd-'));
  const endpoint = `http://127.0.0.1:${port}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const args = [
    '--name', 'tagstream-test',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `tagstream-test=${peerUrl}`,
    '--initial-cluster-state', 'new',
    '--log-level', 'error',
  ];
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn('etcd', args, { stdio: 'ignore' });
    child = proc;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`etcd exited with code ${proc.exitCode}`);
      if (await healthy(endpoint)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`etcd did not become healthy on ${endpoint} within 20 s`);
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined) return;
    proc.kill(signal);
    proc.kill('SIGCONT'); // a paused etcd handles the signal only once it runs
    await exited(proc);
  };
  await launch();
  return {
    endpoint,
    halt: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async start() {
      if (child === undefined) await launch();
    },
    async restart() {
      await halt('SIGTERM');
      await launch();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async wipe() {
      await halt('SIGKILL');
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      await launch();
    },
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One member of an {@link EtcdCluster}. */
export interface EtcdMember {
  readonly name: string;
  /** Its client URL. */
  readonly endpoint: string;
  /** SIGKILL: a crash. `start()` brings it back with its data. */
  kill(): Promise<void>;
  /** Starts it again after `kill()` (it rejoins the cluster). */
  start(): Promise<void>;
  /** True while its process runs. */
  running(): boolean;
}

/** A three-member etcd cluster on loopback, started by {@link startEtcdCluster}. */
export interface EtcdCluster {
  /** Every member's client URL. */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  /** The member that is leader now (asked of the running members), or undefined without one. */
  leader(): Promise<EtcdMember | undefined>;
  /** Stops every member and removes their data. */
  stop(): Promise<void>;
}

interface StatusResponse {
  readonly header?: { readonly member_id?: string };
  readonly leader?: string;
}

function status(endpoint: string): Promise<StatusResponse | undefined> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/v3/maintenance/status`, { method: 'POST', timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as StatusResponse);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(undefined);
    });
    req.end('{}');
  });
}

/**
 * Starts a three-member etcd cluster on free loopback ports (each member with its own name, data
 * directory, client and peer port; one `--initial-cluster`), and waits until it has a leader.
 *
 * @example
 * ```ts
 * const cluster = await startEtcdCluster();
 * const backend = etcdBackend({ hosts: [...cluster.endpoints] });
 * await (await cluster.leader())?.kill();
 * ```
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-etcd-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), peer: await freePort() })));
  const names = ports.map((_, i) => `n${i + 1}`);
  const initialCluster = ports.map((p, i) => `${names[i] ?? ''}=http://127.0.0.1:${p.peer}`).join(',');
  const token = `tagstream-${process.pid}-${Date.now()}`;
  const members = ports.map((p, i): EtcdMember & { launch(): Promise<void>; halt(): Promise<void> } => {
    const name = names[i] ?? `n${i + 1}`;
    const endpoint = `http://127.0.0.1:${p.client}`;
    const peerUrl = `http://127.0.0.1:${p.peer}`;
    const args = [
      '--name', name,
      '--data-dir', join(dir, name),
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      '--log-level', 'error',
    ];
    let child: ChildProcess | undefined;
    const member = {
      name,
      endpoint,
      running: () => child !== undefined,
      async launch() {
        child = spawn('etcd', args, { stdio: 'ignore' });
        await Promise.resolve();
      },
      async halt() {
        const proc = child;
        child = undefined;
        if (proc === undefined) return;
        proc.kill('SIGKILL');
        await exited(proc);
      },
      kill: async () => member.halt(),
      async start() {
        if (child !== undefined) return;
        await member.launch();
        const deadline = Date.now() + 20_000;
        while (!(await healthy(endpoint))) {
          if (Date.now() > deadline) throw new Error(`etcd member ${name} did not become healthy within 20 s`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    };
    return member;
  });
  // A member is healthy only once the cluster has a leader: start all, then wait for each.
  await Promise.all(members.map(async (m) => m.launch()));
  const deadline = Date.now() + 30_000;
  for (const m of members) {
    while (!(await healthy(m.endpoint))) {
      if (Date.now() > deadline) {
        await Promise.all(members.map(async (x) => x.halt()));
        throw new Error(`etcd cluster member ${m.name} did not become healthy within 30 s`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    endpoints: members.map((m) => m.endpoint),
    members,
    async leader() {
      for (const m of members) {
        if (!m.running()) continue;
        const s = await status(m.endpoint);
        if (s?.leader === undefined || s.leader === '0') continue;
        for (const other of members) {
          if (!other.running()) continue;
          const o = await status(other.endpoint);
          if (o?.header?.member_id === s.leader) return other;
        }
      }
      return undefined;
    },
    async stop() {
      await Promise.all(members.map(async (m) => m.halt()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
