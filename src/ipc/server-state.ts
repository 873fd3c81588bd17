/**
 * The IPC server's state machine: its lifecycle, its event-stream slots and its counters, as a pure
 * reducer. The server (server.ts) holds one {@link ServerState} and replaces it with
 * `reduceServerState(state, event)` at each thing that happens; `telemetry()` is a view of it.
 *
 * ```
 *   starting ──listening──> listening ──closing──> closing
 *       └───────────────────closing──────────────────┘
 * ```
 */
import type { ServerTelemetry } from './server-telemetry.js';

/** Where the server is in its life: before `listen()` succeeds, serving, or closing (for good). */
export type ServerPhase = 'starting' | 'listening' | 'closing';

/** The server's whole state: its phase and its counters (a {@link ServerTelemetry}). */
export interface ServerState extends ServerTelemetry {
  readonly phase: ServerPhase;
}

/** Why the server closed a stream: its reader fell more than the backlog bound behind, or took nothing for the stall timeout. */
export type StreamCut = 'cut' | 'stalled';

/** What a stream writer reports of its stream (a subset of {@link ServerEvent}). */
export type StreamEvent =
  /** `count` lines were queued or written for the reader (keep-alive lines included). */
  | { readonly type: 'lines'; readonly count: number }
  /** The server closes the stream because of its reader (`stream-ended` follows once it is closed). */
  | { readonly type: 'stream-cut'; readonly why: StreamCut }
  /** The stream is over, however it ended, and its slot is free. */
  | { readonly type: 'stream-ended' };

/** What happens to the server. */
export type ServerEvent =
  | { readonly type: 'listening' }
  | { readonly type: 'closing' }
  /** A request answered (or refused) with `status`; `route` is the route's kind, or `none`. */
  | { readonly type: 'answered'; readonly route: string; readonly status: number }
  /** A request without a valid token (it is answered 401 too: see `answered`). */
  | { readonly type: 'unauthorized' }
  /** A connection Node's HTTP parser refused before a request was read. */
  | { readonly type: 'malformed' }
  /** An event stream was admitted (see {@link admitsStream}): it takes a slot and is answered 200. */
  | { readonly type: 'stream-opened' }
  /** An event stream was refused because every slot was taken (it is answered 429 too). */
  | { readonly type: 'stream-refused' }
  /** A tags query with `wait` was admitted (see {@link admitsWait}): it holds a waiting slot until `wait-ended`. */
  | { readonly type: 'wait-started' }
  /** A tags query with `wait` found every waiting slot taken: it is answered without waiting. */
  | { readonly type: 'wait-refused' }
  /** An admitted waiting query is over (answered, its client gone, or the server closing), and its slot is free. */
  | { readonly type: 'wait-ended' }
  | StreamEvent;

/**
 * The state of a server just made: starting, every counter zero.
 *
 * @example
 * ```ts
 * let state = initialServerState();
 * state = reduceServerState(state, { type: 'listening' });
 * ```
 */
export function initialServerState(): ServerState {
  return {
    phase: 'starting',
    requests: {},
    unauthorized: 0,
    malformed: 0,
    openStreams: 0,
    streams: 0,
    streamsRefused: 0,
    streamsCut: 0,
    streamsStalled: 0,
    streamLines: 0,
    waitingQueries: 0,
    queryWaits: 0,
    queryWaitsRefused: 0,
  };
}

/**
 * The server's state after `event`. Pure: the state given is not changed. Once closing, the server
 * stays closing; `listening` then changes nothing.
 *
 * @example
 * ```ts
 * const next = reduceServerState(initialServerState(), { type: 'answered', route: 'tags', status: 200 });
 * next.requests.tags; // { '200': 1 }
 * ```
 */
export function reduceServerState(state: ServerState, event: ServerEvent): ServerState {
  switch (event.type) {
    case 'listening':
      return state.phase === 'starting' ? { ...state, phase: 'listening' } : state;
    case 'closing':
      return state.phase === 'closing' ? state : { ...state, phase: 'closing' };
    case 'answered':
      return { ...state, requests: countRequest(state.requests, event.route, event.status) };
    case 'unauthorized':
      return { ...state, unauthorized: state.unauthorized + 1 };
    case 'malformed':
      return { ...state, malformed: state.malformed + 1 };
    case 'stream-opened':
      return {
        ...state,
        openStreams: state.openStreams + 1,
        streams: state.streams + 1,
        requests: countRequest(state.requests, 'events', 200),
      };
    case 'stream-refused':
      return { ...state, streamsRefused: state.streamsRefused + 1 };
    case 'lines':
      return { ...state, streamLines: state.streamLines + event.count };
    case 'stream-cut':
      return event.why === 'cut' ? { ...state, streamsCut: state.streamsCut + 1 } : { ...state, streamsStalled: state.streamsStalled + 1 };
    case 'stream-ended':
      return { ...state, openStreams: Math.max(0, state.openStreams - 1) };
    case 'wait-started':
      return { ...state, waitingQueries: state.waitingQueries + 1, queryWaits: state.queryWaits + 1 };
    case 'wait-refused':
      return { ...state, queryWaitsRefused: state.queryWaitsRefused + 1 };
    case 'wait-ended':
      return { ...state, waitingQueries: Math.max(0, state.waitingQueries - 1) };
  }
}

/**
 * Whether one more event stream may open: the server is not closing and fewer than `maxStreams`
 * are open.
 *
 * @example
 * ```ts
 * admitsStream({ ...initialServerState(), openStreams: 64 }, 64); // false: answered 429
 * ```
 */
export function admitsStream(state: ServerState, maxStreams: number): boolean {
  return state.phase !== 'closing' && state.openStreams < maxStreams;
}

/**
 * Whether one more tags query may wait for completeness: the server is not closing and fewer than
 * `maxWaitingQueries` wait. One that may not is answered at once (it does not wait).
 *
 * @example
 * ```ts
 * admitsWait({ ...initialServerState(), waitingQueries: 256 }, 256); // false: answered without waiting
 * ```
 */
export function admitsWait(state: ServerState, maxWaitingQueries: number): boolean {
  return state.phase !== 'closing' && state.waitingQueries < maxWaitingQueries;
}

/**
 * The counters of a state, as `telemetry()` hands them out (without the phase). The state is
 * immutable, so the copy shares nothing that changes later.
 *
 * @example
 * ```ts
 * serverTelemetry(state).openStreams;
 * ```
 */
export function serverTelemetry(state: ServerState): ServerTelemetry {
  const { phase: _phase, ...telemetry } = state;
  return telemetry;
}

function countRequest(
  requests: Readonly<Record<string, Readonly<Record<string, number>>>>,
  route: string,
  status: number,
): Readonly<Record<string, Readonly<Record<string, number>>>> {
  const byStatus = requests[route] ?? {};
  const key = String(status);
  return { ...requests, [route]: { ...byStatus, [key]: (byStatus[key] ?? 0) + 1 } };
}
