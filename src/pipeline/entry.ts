import { MissingUidError } from './errors.js';

/**
 * The kinds of object a reader emits. `service`, `deployment` and `endpoints` are read like the
 * four core kinds; more can be added without touching the stages, which only look at `uid`.
 *
 * @example
 * ```ts
 * const kind: EntryKind = 'pod';
 * ```
 */
export type EntryKind = 'node' | 'pod' | 'namespace' | 'persistentvolume' | 'service' | 'deployment' | 'endpoints';

/**
 * Every {@link EntryKind}.
 *
 * @example
 * ```ts
 * ENTRY_KINDS.map((kind) => kubernetesReader(kc, kind));
 * ```
 */
export const ENTRY_KINDS: readonly EntryKind[] = Object.freeze([
  'node',
  'pod',
  'namespace',
  'persistentvolume',
  'service',
  'deployment',
  'endpoints',
]);

/**
 * What happened to the object: `add`, `update`, `delete`, or `snapshot` (the object as it is now,
 * re-sent by a periodic resync so that consumers can repair their state).
 *
 * @example
 * ```ts
 * if (entry.change === 'delete') cache.delete(entry.uid);
 * ```
 */
export type EntryChange = 'add' | 'update' | 'delete' | 'snapshot';

/**
 * The metadata of a Kubernetes object in its JSON (wire) form.
 *
 * @example
 * ```ts
 * const meta: KubeObjectMeta = { uid: 'a1', name: 'web-0', resourceVersion: '42' };
 * ```
 */
export interface KubeObjectMeta {
  uid?: string;
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  managedFields?: unknown[];
  [field: string]: unknown;
}

/**
 * A Kubernetes object in its JSON (wire) form, as the API server sends it.
 *
 * @example
 * ```ts
 * const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { uid: 'a1' }, spec: {} };
 * ```
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: KubeObjectMeta;
  [field: string]: unknown;
}

/**
 * One change of one Kubernetes object, as it travels through the pipeline.
 *
 * @example
 * ```ts
 * const entry: Entry = {
 *   uid: 'a1b2', kind: 'pod', change: 'add', source: 'kubernetes', observedAt: Date.now(),
 *   object: { metadata: { uid: 'a1b2', name: 'web-0', namespace: 'default' } },
 * };
 * ```
 */
export interface Entry {
  /** `metadata.uid` of the object: the identity every stage keys on. */
  readonly uid: string;
  readonly kind: EntryKind;
  readonly change: EntryChange;
  /** The object (for a `delete`, its last known state). Stages never mutate it. */
  readonly object: KubeObject;
  /** Who produced the entry (`kubernetes` for {@link kubernetesReader}). */
  readonly source: string;
  /** When the reader emitted it (ms since the epoch): the origin of the lag measure. */
  readonly observedAt: number;
}

/**
 * `namespace/name` (or `name`) of an object, for log lines and errors.
 *
 * @example
 * ```ts
 * objectName({ metadata: { name: 'web-0', namespace: 'default' } }); // 'default/web-0'
 * ```
 */
export function objectName(object: KubeObject): string {
  const name = object.metadata?.name ?? '';
  const namespace = object.metadata?.namespace;
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/**
 * Builds an Entry for an object, or a {@link MissingUidError} when it has no `metadata.uid`
 * (returned, not thrown: the caller counts and logs it, and the stream goes on).
 *
 * @example
 * ```ts
 * const e = toEntry('pod', 'add', pod, 'kubernetes', Date.now());
 * if (e instanceof MissingUidError) logger.warn(e.message);
 * ```
 */
export function toEntry(
  kind: EntryKind,
  change: EntryChange,
  object: KubeObject,
  source: string,
  observedAt: number,
): Entry | MissingUidError {
  const uid = object.metadata?.uid;
  if (typeof uid !== 'string' || uid === '') return new MissingUidError(kind, objectName(object));
  return { uid, kind, change, object, source, observedAt };
}

/**
 * Whether a value is a usable Entry (an object with a non-empty string `uid`, a known change and
 * an object); the pipeline refuses other values with a counted `invalid-entry` error.
 *
 * @example
 * ```ts
 * isEntry({ uid: '', kind: 'pod', change: 'add', object: {} }); // false
 * ```
 */
export function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['uid'] === 'string' &&
    v['uid'] !== '' &&
    typeof v['kind'] === 'string' &&
    (v['change'] === 'add' || v['change'] === 'update' || v['change'] === 'delete' || v['change'] === 'snapshot') &&
    typeof v['object'] === 'object' &&
    v['object'] !== null
  );
}
