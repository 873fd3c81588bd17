import { InvalidEntityIdError } from './errors.js';

/** The entity id prefixes tagstream's collectors produce. */
export const EntityIdPrefix = Object.freeze({
  Container: 'container_id',
  KubernetesPod: 'kubernetes_pod_uid',
  EcsTask: 'ecs_task',
  Internal: 'internal',
} as const);

/**
 * The longest entity id accepted, in UTF-16 code units (4 KiB of ASCII). Longer ids are refused by
 * the store (a counted rejection) and by every query.
 */
export const MAX_ENTITY_ID_LENGTH = 4096;

/** The id of the host-wide entity, for tags that apply to everything on the host. */
export const GLOBAL_ENTITY_ID = 'internal://global-entity-id';

const SEPARATOR = '://';

/** An entity id taken apart: `container_id://abc` is `{ prefix: 'container_id', id: 'abc' }`. */
export interface ParsedEntityId {
  readonly prefix: string;
  readonly id: string;
}

function build(prefix: string, id: string): string {
  if (id.length === 0) throw new InvalidEntityIdError(`${prefix}${SEPARATOR}`, 'the id part is empty');
  return `${prefix}${SEPARATOR}${id}`;
}

/**
 * The entity id of a container.
 *
 * @example
 * ```ts
 * containerId('3f4a9c'); // 'container_id://3f4a9c'
 * ```
 */
export function containerId(id: string): string {
  return build(EntityIdPrefix.Container, id);
}

/**
 * The entity id of a Kubernetes pod, by uid.
 *
 * @example
 * ```ts
 * podUid('0c5d...'); // 'kubernetes_pod_uid://0c5d...'
 * ```
 */
export function podUid(uid: string): string {
  return build(EntityIdPrefix.KubernetesPod, uid);
}

/**
 * The entity id of an ECS task, by task id (the last part of its ARN).
 *
 * @example
 * ```ts
 * ecsTask('4d5f'); // 'ecs_task://4d5f'
 * ```
 */
export function ecsTask(id: string): string {
  return build(EntityIdPrefix.EcsTask, id);
}

/**
 * Splits an entity id into its prefix and id; throws {@link InvalidEntityIdError} when it is not
 * of the form `prefix://id` with both parts non-empty.
 *
 * @example
 * ```ts
 * parseEntityId('container_id://3f4a'); // { prefix: 'container_id', id: '3f4a' }
 * ```
 */
export function parseEntityId(entity: string): ParsedEntityId {
  const at = entity.indexOf(SEPARATOR);
  if (at <= 0) throw new InvalidEntityIdError(entity, 'expected prefix://id');
  const id = entity.slice(at + SEPARATOR.length);
  if (id.length === 0) throw new InvalidEntityIdError(entity, 'the id part is empty');
  return { prefix: entity.slice(0, at), id };
}

/** True when `entity` has the form `prefix://id`. */
export function isEntityId(entity: string): boolean {
  const at = entity.indexOf(SEPARATOR);
  return at > 0 && at + SEPARATOR.length < entity.length;
}

// Printable as Python's str.isprintable() says, so that the Python client refuses the same ids:
// letters, marks, numbers, punctuation, symbols and the ASCII space (no controls, no lone surrogates).
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;
// The common case first, cheaper: every id tagstream's collectors build is printable ASCII.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * The typed error an entity id from outside deserves, or `undefined` when it may be asked for: it
 * must be a string `prefix://id` of at most {@link MAX_ENTITY_ID_LENGTH} printable characters.
 * Every query boundary (`tag()`, `tags$()`, IPC, the CLI) checks it; what a collector's `fetch` may
 * send to its source is the collector's own, stricter check.
 *
 * @example
 * ```ts
 * checkEntityId('container_id://3f4a'); // undefined
 * checkEntityId('container_id://a\nb'); // InvalidEntityIdError: a character is not printable
 * ```
 */
export function checkEntityId(entity: unknown): InvalidEntityIdError | undefined {
  if (typeof entity !== 'string') return new InvalidEntityIdError(String(entity), 'expected a string prefix://id');
  if (entity.length > MAX_ENTITY_ID_LENGTH) {
    return new InvalidEntityIdError(entity, `longer than ${MAX_ENTITY_ID_LENGTH} characters (${entity.length})`);
  }
  if (!isEntityId(entity)) return new InvalidEntityIdError(entity, 'expected prefix://id');
  if (!PRINTABLE_ASCII.test(entity) && !PRINTABLE.test(entity)) return new InvalidEntityIdError(entity, 'a character is not printable');
  return undefined;
}
