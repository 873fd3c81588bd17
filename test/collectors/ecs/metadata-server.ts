import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake endpoint answers to one request: a status and a body, or nothing at all. */
export type MetadataAnswer = { readonly status: number; readonly body: string; readonly delayMs?: number } | 'hang';

/** A real HTTP server standing in for the ECS task metadata endpoint v4. */
export interface MetadataServer {
  /** The value of `ECS_CONTAINER_METADATA_URI_V4` for it. */
  readonly uri: string;
  /** The paths requested so far, in order. */
  readonly requests: string[];
  /** How many requests the client gave up on (closed before the answer). */
  readonly aborted: () => number;
  /** Changes what the server answers from now on. */
  answer(respond: (path: string) => MetadataAnswer): void;
  close(): Promise<void>;
}

/** Starts the fake endpoint on a free local port. */
export async function startMetadataServer(respond: (path: string) => MetadataAnswer): Promise<MetadataServer> {
  let current = respond;
  let aborted = 0;
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const path = request.url ?? '';
    requests.push(path);
    response.on('close', () => {
      if (!response.writableFinished) aborted += 1;
    });
    const answer = current(path);
    if (answer === 'hang') return;
    const send = (): void => {
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(answer.body);
    };
    if (answer.delayMs === undefined) send();
    else setTimeout(send, answer.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    uri: `http://127.0.0.1:${port}/v4/0c5d2b8e-2495160603`,
    requests,
    aborted: () => aborted,
    answer(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => {
          if (error === undefined) resolve();
          else reject(error);
        });
      }),
  };
}
