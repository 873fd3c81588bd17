import { createHash } from 'node:crypto';
import { CoordinatorError } from './errors.js';
import type { LogStreamDescriptor } from './types.js';

/**
 * A stream's state as the coordinator keeps it: the collector sends its own view in
 * `registerStream` and gets the coordinator's back.
 */
export interface LogStreamState {
  readonly project: string;
  /** `prefix/+/name`. */
  readonly path: string;
  /** The coordinator's id for the stream (set in answers). */
  readonly id?: string;
  readonly protoVersion: string;
  /** The prefix secret the stream was registered with. */
  readonly secret: Uint8Array;
  /** The stream's last index, or -1 while it is not known. */
  readonly terminalIndex: number;
  /** The stream is archived: it takes no more entries. */
  readonly archived: boolean;
  /** The stream is purged: it takes no more entries. */
  readonly purged: boolean;
}

/** A request to record a stream's terminal index. */
export interface TerminateRequest {
  readonly project: string;
  readonly path: string;
  readonly id?: string;
  readonly secret: Uint8Array;
  /** At least 0. */
  readonly terminalIndex: number;
}

/**
 * The coordinator port: the service that owns the registry of log streams. An implementation
 * rejects with an error whose `transient` property is true where a retry may succeed (see
 * {@link CoordinatorError}); any other rejection is taken as permanent.
 *
 * @example
 * ```ts
 * const coordinator: Coordinator = memoryCoordinator();
 * const state = await coordinator.registerStream(request, descriptor);
 * ```
 */
export interface Coordinator {
  /**
   * Registers the stream if it is new (with `state`'s secret and terminal index) and answers its
   * state, which for a known stream is the one registered first.
   */
  registerStream(state: LogStreamState, descriptor: LogStreamDescriptor): Promise<LogStreamState>;
  /** Records the stream's terminal index. */
  terminateStream(request: TerminateRequest): Promise<void>;
}

/** What {@link memoryCoordinator} holds about one stream. */
export interface RegisteredStream {
  readonly state: LogStreamState;
  readonly descriptor: LogStreamDescriptor;
}

/** An in-memory coordinator for one process, with a view of what it holds for tests and tools. */
export interface MemoryCoordinator extends Coordinator {
  /** The stream registered at (project, path), if any. */
  stream(project: string, path: string): RegisteredStream | undefined;
  /** Every registered stream. */
  streams(): RegisteredStream[];
  /**
   * Sets a stream's state outright (registering it when new): to mark it archived or purged, or
   * to seed a test.
   */
  put(state: LogStreamState, descriptor?: LogStreamDescriptor): void;
}

function keyOf(project: string, path: string): string {
  return `${project}\u0000${path}`;
}

/** The coordinator id of a stream: a hash of its project and path. */
export function streamId(project: string, path: string): string {
  return createHash('sha256').update(keyOf(project, path)).digest('hex');
}

const EMPTY_DESCRIPTOR: LogStreamDescriptor = Object.freeze({
  prefix: '',
  name: '',
  streamType: 0,
  contentType: '',
  tags: Object.freeze({}),
  binaryFileExt: '',
});

/**
 * An in-memory {@link Coordinator} for a single process: the first registration of a stream
 * wins; a terminate sets the terminal index once (a different one later is refused, permanent).
 *
 * @example
 * ```ts
 * const coordinator = memoryCoordinator();
 * const collector = createLogCollector({ coordinator, storage: memoryStorage() });
 * ```
 */
export function memoryCoordinator(): MemoryCoordinator {
  const streams = new Map<string, RegisteredStream>();
  return {
    registerStream(state, descriptor) {
      const key = keyOf(state.project, state.path);
      let known = streams.get(key);
      if (known === undefined) {
        // Kept after this call returns: copy the secret, which may be a view into the caller's
        // receive buffer (a transport may reuse it for the next message).
        known = { state: { ...state, secret: state.secret.slice(), id: streamId(state.project, state.path) }, descriptor };
        streams.set(key, known);
      }
      return Promise.resolve(known.state);
    },
    terminateStream(request) {
      const key = keyOf(request.project, request.path);
      const known = streams.get(key);
      if (request.terminalIndex < 0) {
        return Promise.reject(new CoordinatorError('terminate', 'terminal index must be >= 0', { transient: false }));
      }
      if (known === undefined) {
        return Promise.reject(
          new CoordinatorError('terminate', `no such stream: ${request.path}`, { transient: false }),
        );
      }
      const current = known.state.terminalIndex;
      if (current >= 0 && current !== request.terminalIndex) {
        return Promise.reject(
          new CoordinatorError('terminate', `incompatible terminal indexes: ${request.terminalIndex} != ${current}`, {
            transient: false,
          }),
        );
      }
      streams.set(key, { ...known, state: { ...known.state, terminalIndex: request.terminalIndex } });
      return Promise.resolve();
    },
    stream: (project, path) => streams.get(keyOf(project, path)),
    streams: () => [...streams.values()],
    put(state, descriptor) {
      const key = keyOf(state.project, state.path);
      streams.set(key, {
        state: { ...state, secret: state.secret.slice(), id: state.id ?? streamId(state.project, state.path) },
        descriptor: descriptor ?? streams.get(key)?.descriptor ?? EMPTY_DESCRIPTOR,
      });
    },
  };
}
