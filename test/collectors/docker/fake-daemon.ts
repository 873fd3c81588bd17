/**
 * A fake Docker daemon: a real HTTP server on a unix socket answering the few Engine API calls
 * the collector makes (`GET /events`, `GET /containers/json`, `GET /containers/{id}/json`,
 * `GET /images/{id}/json`), for the real dockerode to talk to. Unlike a real dockerd, it can be
 * told to fail a container inspect on demand.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';

/** What one container inspect answers: a status and a JSON body. */
export interface FakeInspectAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface FakeDockerDaemon {
  readonly socketPath: string;
  /** The ids `GET /containers/json` lists. */
  listed: string[];
  /** Per container id, what its next inspects answer, in order; once used up, {@link running}. */
  readonly script: Map<string, FakeInspectAnswer[]>;
  /** The paths requested so far (without the query), in order. */
  readonly requests: string[];
  /** Sends a container event to every open event stream. */
  event(action: 'start' | 'die' | 'destroy' | 'rename', id: string): void;
  close(): Promise<void>;
}

/** The inspect document of a running container named `name`, from image `tiny:1.0`. */
export function running(id: string, name: string): FakeInspectAnswer {
  return {
    status: 200,
    body: { Id: id, Name: `/${name}`, State: { Status: 'running', Running: true }, Config: { Image: 'tiny:1.0', Env: ['DD_ENV=test'], Labels: {} } },
  };
}

/** A daemon error, as dockerd sends it (`{"message": …}`). */
export function daemonError(status: number, message: string): FakeInspectAnswer {
  return { status, body: { message } };
}

function send(response: ServerResponse, answer: FakeInspectAnswer): void {
  response.writeHead(answer.status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(answer.body));
}

/** Starts the fake daemon on `socketPath`. */
export async function startFakeDockerDaemon(socketPath: string): Promise<FakeDockerDaemon> {
  const streams = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    // dockerode prefixes the path with `/v1.xx` when given a version.
    const path = (request.url ?? '').split('?')[0]?.replace(/^\/v\d+\.\d+/, '') ?? '';
    daemon.requests.push(path);
    if (path === '/events') {
      response.writeHead(200, { 'content-type': 'application/json', date: new Date().toUTCString() });
      response.flushHeaders();
      streams.add(response);
      response.on('close', () => streams.delete(response));
      return;
    }
    if (path === '/containers/json') {
      send(response, { status: 200, body: daemon.listed.map((Id) => ({ Id, State: 'running' })) });
      return;
    }
    const inspect = /^\/containers\/([^/]+)\/json$/.exec(path);
    if (inspect?.[1] !== undefined) {
      const id = inspect[1];
      send(response, daemon.script.get(id)?.shift() ?? running(id, `${id.slice(0, 8)}-name`));
      return;
    }
    send(response, daemonError(404, `page not found: ${path}`));
  });
  const daemon: FakeDockerDaemon = {
    socketPath,
    listed: [],
    script: new Map(),
    requests: [],
    event(action, id) {
      const line = `${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id, Attributes: {} }, time: Math.floor(Date.now() / 1000) })}\n`;
      for (const stream of streams) stream.write(line);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const stream of streams) stream.destroy();
        server.closeAllConnections();
        server.close((error) => {
          if (error === undefined) resolve();
          else reject(error);
        });
      }),
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      resolve();
    });
  });
  return daemon;
}
