/**
 * The reading side of the sync benchmark (test/bench/ipc.bench.ts), run in a child process so that
 * the benchmark's process measures the server's memory alone. At each message it syncs once and
 * answers with the number of entities it holds:
 * - `remote`: a remote tagger (`createTaggerClient`) until it is connected;
 * - `plain`: a plain reader of an NDJSON dump: it parses each line into a Map until the end.
 */
import { request } from 'node:http';
import { silentLogger } from '../../src/index.js';
import { createTaggerClient } from '../../src/ipc/index.js';

/** What the benchmark asks for. */
export interface SyncOrder {
  readonly kind: 'remote' | 'plain';
  readonly socketPath: string;
  readonly tokenFile: string;
  readonly token: string;
  readonly entities: number;
}

function remote(order: SyncOrder): Promise<number> {
  return new Promise((resolve) => {
    const client = createTaggerClient({ socketPath: order.socketPath, tokenFile: order.tokenFile, logger: silentLogger });
    const subscription = client.state$.subscribe((state) => {
      if (state.status !== 'connected') return;
      queueMicrotask(() => {
        subscription.unsubscribe();
        client.stop();
        resolve(state.entities);
      });
    });
    client.start();
  });
}

function plain(order: SyncOrder): Promise<number> {
  return new Promise((resolve, reject) => {
    const mirror = new Map<string, unknown>();
    const req = request({ socketPath: order.socketPath, path: '/', agent: false, headers: { authorization: `Bearer ${order.token}` } }, (res) => {
      res.setEncoding('utf8');
      let partial = '';
      res.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const parsed = JSON.parse(line) as { type: string; entity?: string; tags?: unknown };
          if (parsed.type === 'added' && parsed.entity !== undefined) mirror.set(parsed.entity, parsed.tags);
        }
      });
      res.on('end', () => resolve(mirror.size));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

process.on('message', (order: SyncOrder) => {
  void (order.kind === 'remote' ? remote(order) : plain(order)).then(
    (entities) => process.send?.({ entities }),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
process.send?.({ ready: true });
