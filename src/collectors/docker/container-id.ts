/**
 * The form of a Docker container id, as the Docker API accepts it in a path: pure checks, so that
 * no other string ever reaches a request.
 */

/** The length of a full container id: 64 hex digits. */
export const CONTAINER_ID_LENGTH = 64;

/** The shortest prefix of a container id that is resolved: the 12 digits `docker ps` prints. */
export const SHORT_CONTAINER_ID_LENGTH = 12;

const CONTAINER_ID = /^[0-9a-f]{12,64}$/;

/**
 * True when `id` is a container id or a prefix of one that may be sent to the Docker API: lower-case
 * hex, 12 to 64 digits. Anything else (a name, a path, an upper-case id) is "not found" without a request.
 *
 * @example
 * ```ts
 * isContainerIdOrPrefix('3f4a9c0e1b2d'); // true
 * isContainerIdOrPrefix('../x');         // false
 * ```
 */
export function isContainerIdOrPrefix(id: string): boolean {
  return CONTAINER_ID.test(id);
}

/**
 * True when `id` is a short container id, a prefix of 12 to 63 hex digits that the daemon or the
 * store resolves to the one container it begins.
 *
 * @example
 * ```ts
 * isShortContainerId('3f4a9c0e1b2d');  // true
 * isShortContainerId('3f'.repeat(32)); // false: a full id
 * ```
 */
export function isShortContainerId(id: string): boolean {
  return id.length < CONTAINER_ID_LENGTH && CONTAINER_ID.test(id);
}
