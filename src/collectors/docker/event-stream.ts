import { StringDecoder } from 'node:string_decoder';
import { Observable, catchError, concat, defer, finalize, from, of, switchMap, throwError } from 'rxjs';
import type Dockerode from 'dockerode';
import { CONTAINER_EVENT_FILTERS } from './container-event.js';
import { DockerCollectorError } from './errors.js';

/**
 * What the event stream delivers: `open` once the daemon answered (with the daemon's clock from
 * the `Date` header, in seconds, when it sent one), then one item per line: a decoded message or a
 * line that is not JSON.
 *
 * @example
 * ```ts
 * openEventStream(docker, undefined).subscribe((item) => {
 *   if (item.type === 'message') console.log(item.value);
 * });
 * ```
 */
export type EventStreamItem =
  | { readonly type: 'open'; readonly daemonTime: number | undefined }
  | { readonly type: 'message'; readonly value: unknown }
  | { readonly type: 'malformed'; readonly line: string };

/**
 * The part of a dockerode client the event stream uses.
 *
 * @example
 * ```ts
 * const source: DockerEventSource = new Docker({ socketPath: '/var/run/docker.sock' });
 * ```
 */
export type DockerEventSource = Pick<Dockerode, 'getEvents'>;

function headerDate(stream: unknown): number | undefined {
  const headers = typeof stream === 'object' && stream !== null ? (stream as { headers?: unknown }).headers : undefined;
  const date = typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>)['date'] : undefined;
  if (typeof date !== 'string') return undefined;
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

function destroy(stream: NodeJS.ReadableStream): void {
  const destroyable = stream as NodeJS.ReadableStream & { destroy?: () => void };
  if (typeof destroyable.destroy === 'function') destroyable.destroy();
}

/** The longest event line kept while waiting for its end (a real event is a few KiB). */
const MAX_LINE = 1 << 20;

/** The lines of a newline-delimited JSON stream; errors with `events-ended` when it ends or breaks. */
function readLines(stream: NodeJS.ReadableStream): Observable<EventStreamItem> {
  return new Observable<EventStreamItem>((subscriber) => {
    const decoder = new StringDecoder('utf8');
    let rest = '';
    const onData = (chunk: Buffer | string): void => {
      rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let newline = rest.indexOf('\n');
      while (newline !== -1) {
        const line = rest.slice(0, newline).trim();
        rest = rest.slice(newline + 1);
        if (line.length > 0) {
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch {
            subscriber.next({ type: 'malformed', line });
            newline = rest.indexOf('\n');
            continue;
          }
          subscriber.next({ type: 'message', value });
        }
        newline = rest.indexOf('\n');
      }
      if (rest.length > MAX_LINE) {
        subscriber.next({ type: 'malformed', line: rest.slice(0, 200) });
        rest = '';
      }
    };
    const onEnd = (): void => {
      subscriber.error(new DockerCollectorError('events-ended', 'the event stream ended'));
    };
    const onError = (error: unknown): void => {
      subscriber.error(new DockerCollectorError('events-ended', 'the event stream broke', undefined, { cause: error }));
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onError);
    return () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      destroy(stream);
    };
  });
}

/**
 * Opens the daemon's event stream of container events (`GET /events`, filtered to container
 * `start`, `die`, `destroy` and `rename`), from `since` (seconds, the daemon's clock) when given.
 * Lazy: nothing is asked until it is subscribed; unsubscribing closes the request. It never
 * completes: it errors with a {@link DockerCollectorError} (`events-unavailable` when it cannot
 * be opened, `events-ended` when it ends or breaks).
 *
 * @example
 * ```ts
 * openEventStream(new Docker(), Math.floor(Date.now() / 1000) - 60).pipe(
 *   filter((item) => item.type === 'message'),
 * ).subscribe((item) => console.log(item.value));
 * ```
 */
export function openEventStream(docker: DockerEventSource, since: number | undefined): Observable<EventStreamItem> {
  return defer(() => {
    const controller = new AbortController();
    const options = {
      filters: { type: [...CONTAINER_EVENT_FILTERS.type], event: [...CONTAINER_EVENT_FILTERS.event] },
      abortSignal: controller.signal,
      ...(since === undefined ? {} : { since }),
    };
    return from(docker.getEvents(options)).pipe(
      catchError((error: unknown) =>
        throwError(() => new DockerCollectorError('events-unavailable', 'could not open the event stream', undefined, { cause: error })),
      ),
      switchMap((stream) => concat(of<EventStreamItem>({ type: 'open', daemonTime: headerDate(stream) }), readLines(stream))),
      finalize(() => {
        controller.abort();
      }),
    );
  });
}
