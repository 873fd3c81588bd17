import { describe, expect, it } from 'vitest';
import { etcdHostsFromUrl } from '../../src/kvstore/etcd.js';
import { KvConfigError } from '../../src/kvstore/index.js';

describe('etcdHostsFromUrl', () => {
  it('turns a --kvstore URL into etcd endpoints', () => {
    expect(etcdHostsFromUrl('etcd://127.0.0.1:2379')).toEqual(['http://127.0.0.1:2379']);
    expect(etcdHostsFromUrl('etcds://a.example:2380,b.example')).toEqual(['https://a.example:2380', 'https://b.example:2379']);
    expect(etcdHostsFromUrl('etcd://[::1]:2379/')).toEqual(['http://[::1]:2379']);
  });

  it('refuses what is not one with KvConfigError', () => {
    expect(() => etcdHostsFromUrl('http://127.0.0.1:2379')).toThrow(KvConfigError);
    expect(() => etcdHostsFromUrl('etcd://a b:1')).toThrow(/invalid host/);
    expect(() => etcdHostsFromUrl('etcd://')).toThrow(KvConfigError);
  });
});
