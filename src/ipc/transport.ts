import { type Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { Observable, mergeMap } from 'rxjs';
import type { IpcEndpoint } from './endpoint.js';
import { IpcConnectionError, IpcResponseError } from './errors.js';
import { type StreamLine, parseStreamLine } from './protocol.js';

/** The longest stream line or answer body a client takes (a broken server cannot fill its memory). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Options of {@link getJson}. */
export interface GetJsonOptions {
  /** Abandon the request after this many milliseconds. */
  readonly timeout: number;
  /** A keep-alive agent to reuse connections. Default: a fresh connection per request. */
  readonly agent?: Agent;
}

/**
 * `GET path` on the server, answered with JSON: emits the parsed body and completes. Errors with
 * {@link IpcResponseError} for a non-200 answer and {@link IpcConnectionError} when the server
 * cannot be reached, is too slow, or does not answer JSON. Lazy: each subscription is one request.
 *
 * @example
 * ```ts
 * getJson<TagsResponse>(endpoint, tagsPath('container_id://a', 'low'), { timeout: 2000 }).subscribe(console.log);
 * ```
 */
export function getJson<T>(endpoint: IpcEndpoint, path: string, options: GetJsonOptions): Observable<T> {
  return endpoint.token$.pipe(
    mergeMap(
      (token) =>
        new Observable<T>((subscriber) => {
          // node:http's callback API has no Observable form; this is the adapter.
          const req = open(endpoint, path, token, options.agent);
          req.setTimeout(options.timeout, () => {
            req.destroy(new IpcConnectionError(path, `no answer within ${options.timeout} ms`));
          });
          req.on('error', (error) => {
            subscriber.error(error instanceof IpcConnectionError ? error : new IpcConnectionError(path, describe(error), { cause: error }));
          });
          req.on('response', (res) => {
            readBody(res, (error, body) => {
              if (error !== undefined) {
                subscriber.error(new IpcConnectionError(path, describe(error), { cause: error }));
                return;
              }
              if (res.statusCode !== 200) {
                subscriber.error(responseError(path, res.statusCode ?? 0, body));
                return;
              }
              let value: T;
              try {
                value = JSON.parse(body) as T;
              } catch (cause) {
                subscriber.error(new IpcConnectionError(path, 'the answer is not JSON', { cause }));
                return;
              }
              subscriber.next(value);
              subscriber.complete();
            });
          });
          req.end();
          return () => {
            if (!req.destroyed) req.destroy();
          };
        }),
    ),
  );
}

/** Options of {@link streamLines}. */
export interface StreamLinesOptions {
  /** Error when nothing (not even a keep-alive) arrives for this many milliseconds. */
  readonly idleTimeout: number;
  /** Let the process exit while only this stream is open. Default: false. */
  readonly unref?: boolean;
}

/**
 * `GET path` as a stream of NDJSON protocol lines: emits each line, completes when the server ends
 * the stream, errors with {@link IpcResponseError} for a non-200 answer and {@link IpcConnectionError}
 * when the connection fails, goes silent for `idleTimeout`, or carries a line that is not the protocol.
 *
 * @example
 * ```ts
 * streamLines(endpoint, eventsPath({ cardinality: 'high' }), { idleTimeout: 45_000 }).subscribe(console.log);
 * ```
 */
export function streamLines(endpoint: IpcEndpoint, path: string, options: StreamLinesOptions): Observable<StreamLine> {
  return endpoint.token$.pipe(
    mergeMap(
      (token) =>
        new Observable<StreamLine>((subscriber) => {
          // node:http's callback API has no Observable form; this is the adapter.
          const req = open(endpoint, path, token, undefined);
          const fail = (error: unknown): void => {
            subscriber.error(error instanceof IpcConnectionError || error instanceof IpcResponseError ? error : new IpcConnectionError(path, describe(error), { cause: error }));
          };
          req.setTimeout(options.idleTimeout, () => {
            req.destroy(new IpcConnectionError(path, `the stream was silent for ${options.idleTimeout} ms`));
          });
          if (options.unref === true) {
            req.on('socket', (socket) => {
              socket.unref();
            });
          }
          req.on('error', fail);
          req.on('response', (res) => {
            if (res.statusCode !== 200) {
              readBody(res, (error, body) => {
                fail(error ?? responseError(path, res.statusCode ?? 0, body));
              });
              return;
            }
            const decoder = new StringDecoder('utf8');
            let partial = '';
            res.on('data', (chunk: Buffer) => {
              const text = partial + decoder.write(chunk);
              const lines = text.split('\n');
              partial = lines.pop() ?? '';
              if (partial.length > MAX_BODY_BYTES) {
                req.destroy(new IpcConnectionError(path, `a stream line is longer than ${MAX_BODY_BYTES} bytes`));
                return;
              }
              for (const text of lines) {
                if (text.length === 0) continue;
                const line = parseStreamLine(text);
                if (line === undefined) {
                  req.destroy(new IpcConnectionError(path, 'the server sent a line that is not the protocol'));
                  return;
                }
                subscriber.next(line);
                if (subscriber.closed) return;
              }
            });
            res.on('end', () => {
              subscriber.complete();
            });
            res.on('error', fail);
            res.on('aborted', () => {
              fail(new IpcConnectionError(path, 'the connection was cut'));
            });
          });
          req.end();
          return () => {
            if (!req.destroyed) req.destroy();
          };
        }),
    ),
  );
}

function open(endpoint: IpcEndpoint, path: string, token: string, agent: Agent | undefined): ClientRequest {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json, application/x-ndjson' };
  const where = 'socketPath' in endpoint.target ? { socketPath: endpoint.target.socketPath } : { host: endpoint.target.host, port: endpoint.target.port };
  return request({ ...where, path, method: 'GET', headers, agent: agent ?? false });
}

function readBody(res: IncomingMessage, done: (error: Error | undefined, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (error: Error | undefined): void => {
    if (finished) return;
    finished = true;
    done(error, error === undefined ? Buffer.concat(chunks).toString('utf8') : '');
  };
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      res.destroy();
      finish(new Error(`the answer is longer than ${MAX_BODY_BYTES} bytes`));
      return;
    }
    chunks.push(chunk);
  });
  res.on('end', () => {
    finish(undefined);
  });
  res.on('error', finish);
  res.on('aborted', () => {
    finish(new Error('the connection was cut'));
  });
}

function responseError(path: string, status: number, body: string): IpcResponseError {
  let code: string | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    message = undefined;
  }
  return new IpcResponseError(path, status, code, message);
}

function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error instanceof Error ? `${error.code} (${error.message})` : error.code;
  }
  return error instanceof Error ? error.message : String(error);
}
