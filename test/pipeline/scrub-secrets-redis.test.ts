/**
 * What a processor stores in a real Redis, after scrubSecrets: no secret env value, however the
 * annotation that holds it is encoded (escaped keys, env maps, JSON inside JSON strings).
 */
import { Redis } from 'ioredis';
import { from, lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { batch, route, Router, scrubSecrets } from '../../src/pipeline/index.js';
import type { Entry, KubeObject } from '../../src/pipeline/index.js';
import { redisUnavailableReason, startRedis } from '../services/redis.js';

const unavailable = redisUnavailableReason();

/** Every string a JSON parser finds in `text`, following JSON inside strings. */
function parsedStrings(value: unknown, depth = 0): string[] {
  if (depth > 64) return [];
  if (typeof value === 'string') {
    try {
      const inner: unknown = JSON.parse(value);
      if (typeof inner === 'object' || typeof inner === 'string') return [value, ...parsedStrings(inner, depth + 1)];
    } catch {
      // plain text
    }
    return [value];
  }
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap((v) => parsedStrings(v, depth + 1));
  return [];
}

describe.skipIf(unavailable !== undefined)('scrubSecrets before a processor that stores in Redis', () => {
  it('stores no secret env value from annotations, whatever their JSON encoding', async () => {
    const server = await startRedis();
    const client = new Redis(server.url);
    try {
      const secrets = ['s3cr3tEscapedKey', 's3cr3tEnvMap', 's3cr3tNestedString'];
      const applied = (value: string): unknown => ({
        kind: 'Pod',
        spec: { containers: [{ name: 'app', env: [{ name: 'DB_PASSWORD', value }] }] },
      });
      const annotations: Record<string, string>[] = [
        { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(applied(secrets[0]!)).replace('"env"', '"\\u0065nv"') },
        { 'example.com/config': JSON.stringify({ containers: [{ env: { DB_PASSWORD: secrets[1] } }] }) },
        { 'example.com/wrapped': JSON.stringify({ inner: JSON.stringify({ config: JSON.stringify(applied(secrets[2]!)) }) }) },
      ];
      const entries: Entry[] = annotations.map((a, i) => {
        const object: KubeObject = { kind: 'Pod', metadata: { uid: `u${i}`, name: `p${i}`, annotations: a } };
        return { uid: `u${i}`, kind: 'pod', change: 'add', object, source: 'test', observedAt: 0 };
      });
      // The input does hold each secret, as a parser sees it.
      for (const s of secrets) expect(parsedStrings(JSON.stringify(entries)).some((x) => x.includes(s))).toBe(true);

      const router = new Router();
      router.register('redis', (b) => client.rpush('objects', ...b.map((e) => JSON.stringify(e.object))), { overflow: 'block' });
      await lastValueFrom(from(entries).pipe(scrubSecrets(), batch({ maxItems: 2, maxTime: 10 }), route(router)), {
        defaultValue: undefined,
      });

      const stored = await client.lrange('objects', 0, -1);
      expect(stored).toHaveLength(3);
      const strings = stored.flatMap((s) => parsedStrings(s));
      for (const s of secrets) {
        expect(stored.some((x) => x.includes(s))).toBe(false);
        expect(strings.some((x) => x.includes(s))).toBe(false);
      }
    } finally {
      client.disconnect();
      await server.stop();
    }
  }, 60_000);
});
