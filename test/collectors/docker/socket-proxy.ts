/**
 * A unix-socket proxy in front of a Docker daemon whose connection can be cut: the collector
 * under test talks through it, the test keeps talking to the daemon directly. Cutting it breaks
 * every open connection (the event stream ends) and refuses new ones, as when a daemon goes away;
 * restoring it lets connections through again.
 */
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface SocketProxy {
  readonly socketPath: string;
  /** Breaks every open connection and refuses new ones until {@link restore}. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startSocketProxy(target: string, socketPath: string): Promise<SocketProxy> {
  let refusing = false;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection(target);
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      resolve();
    });
  });
  return {
    socketPath,
    cut() {
      refusing = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    restore() {
      refusing = false;
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => { resolve(); }));
    },
  };
}
