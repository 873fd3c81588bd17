import type { ContainerAction } from './reconcile.js';

/**
 * One container event of the Docker event stream, as the collector uses it.
 *
 * @example
 * ```ts
 * const event: ContainerEvent = { action: 'die', id: '5c53…', time: 1_763_765_399 };
 * ```
 */
export interface ContainerEvent {
  readonly action: ContainerAction;
  /** The container id. */
  readonly id: string;
  /** When the daemon saw it, in whole seconds since the epoch (the daemon's clock). */
  readonly time: number;
}

const ACTIONS: ReadonlySet<string> = new Set<ContainerAction>(['start', 'die', 'destroy', 'rename']);

/**
 * The container events the collector asks the daemon for (`GET /events` filters).
 *
 * @example
 * ```ts
 * const stream = await docker.getEvents({ filters: CONTAINER_EVENT_FILTERS });
 * ```
 */
export const CONTAINER_EVENT_FILTERS = Object.freeze({
  type: ['container' as const],
  event: ['start', 'die', 'destroy', 'rename'],
});

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/**
 * Reads one decoded message of the Docker event stream: a container `start`, `die`, `destroy`
 * or `rename` event, or `undefined` for anything else (another type or action, a malformed
 * message). Reads `Type`/`Action`/`Actor.ID` (API ≥ 1.22), falling back to `status`/`id`.
 *
 * @example
 * ```ts
 * parseContainerEvent({ Type: 'container', Action: 'start', Actor: { ID: 'abc' }, time: 1700000000 });
 * // { action: 'start', id: 'abc', time: 1700000000 }
 * parseContainerEvent({ Type: 'network', Action: 'connect' }); // undefined
 * ```
 */
export function parseContainerEvent(message: unknown): ContainerEvent | undefined {
  const type = field(message, 'Type') ?? 'container';
  const action = field(message, 'Action') ?? field(message, 'status');
  const id = field(field(message, 'Actor'), 'ID') ?? field(message, 'id');
  const time = field(message, 'time');
  if (type !== 'container' || typeof action !== 'string' || !ACTIONS.has(action)) return undefined;
  if (typeof id !== 'string' || id.length === 0) return undefined;
  return { action: action as ContainerAction, id, time: typeof time === 'number' && Number.isFinite(time) ? Math.floor(time) : 0 };
}
