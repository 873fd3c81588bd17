/**
 * `tagstream/kvstore/etcd`: the etcd backend of the shared store, apart from `tagstream/kvstore` so
 * that users of the in-memory backend never load etcd3.
 *
 * @packageDocumentation
 */
export { EtcdBackend, etcdBackend } from './etcd-backend.js';
export type { EtcdBackendOptions } from './etcd-backend.js';
export { etcdHostsFromUrl } from './etcd-url.js';
