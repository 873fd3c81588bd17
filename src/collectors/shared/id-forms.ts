/**
 * The forms of the ids each source knows, as pure checks: a collector's `fetch` looks up an id only
 * in its source's form and answers anything else "not found" without a request.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// What container runtimes name containers with (hex for Docker, containerd and CRI-O): a token,
// never a path or a query.
const RUNTIME_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// ECS `DockerId`: 64 hex digits on EC2, `<32 hex>-<digits>` on Fargate.
const ECS_CONTAINER_ID = /^[0-9a-f]{32,64}(?:-[0-9]{1,20})?$/;

/**
 * True when `uid` is a Kubernetes object uid: a lower-case UUID.
 *
 * @example
 * ```ts
 * isPodUid('0c5d2b8e-4f1a-4b7e-9c3d-8a2f6e1b7c90'); // true
 * isPodUid('../x');                                 // false
 * ```
 */
export function isPodUid(uid: string): boolean {
  return UUID.test(uid);
}

/**
 * True when `id` may be a container runtime's id as a pod's status reports it (after `runtime://`):
 * letters, digits, `_`, `.` and `-`, at most 128, not starting with a punctuation mark.
 *
 * @example
 * ```ts
 * isRuntimeContainerId('9e8d7c6b5a4f'); // true
 * isRuntimeContainerId('a/../b');       // false
 * ```
 */
export function isRuntimeContainerId(id: string): boolean {
  return RUNTIME_ID.test(id);
}

/**
 * True when `id` is an ECS task metadata `DockerId`: 64 hex digits (EC2) or 32 hex digits, a dash
 * and digits (Fargate).
 *
 * @example
 * ```ts
 * isEcsContainerId('cd189a933e5849daa93386466019ab50-2495160603'); // true
 * isEcsContainerId('not-in-this-task');                            // false
 * ```
 */
export function isEcsContainerId(id: string): boolean {
  return ECS_CONTAINER_ID.test(id);
}
