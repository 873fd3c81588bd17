import { KvConfigError } from './errors.js';

/**
 * The etcd endpoints of a `--kvstore` URL: `etcd://host:port` (several hosts separated by commas)
 * for plain HTTP, `etcds://host:port` for TLS. Throws `KvConfigError` for anything else.
 *
 * @example
 * ```ts
 * etcdHostsFromUrl('etcd://10.0.0.1:2379,10.0.0.2:2379'); // ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']
 * const backend = etcdBackend({ hosts: etcdHostsFromUrl(options.kvstore) });
 * ```
 */
export function etcdHostsFromUrl(url: string): string[] {
  const match = /^(etcds?):\/\/([^/?#]+)\/?$/.exec(url.trim());
  if (match === null) throw new KvConfigError('kvstore', `must be etcd://host:port[,host:port...] or etcds://..., got ${JSON.stringify(url)}`);
  const scheme = match[1] === 'etcds' ? 'https' : 'http';
  const hosts = (match[2] ?? '').split(',').map((h) => h.trim());
  for (const host of hosts) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(host)) throw new KvConfigError('kvstore', `has an invalid host ${JSON.stringify(host)} in ${JSON.stringify(url)}`);
  }
  return hosts.map((host) => `${scheme}://${/:\d+$/.test(host) ? host : `${host}:2379`}`);
}
