import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import fc from 'fast-check';
import {
  batch,
  PipelineTelemetry,
  preprocess,
  REDACTED,
  route,
  Router,
  scrubObject,
  scrubSecrets,
  stripManagedFields,
} from '../../src/pipeline/index.js';
import type { Batch, Entry, KubeObject } from '../../src/pipeline/index.js';

const CONTAINER_KINDS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function pod(env: Record<(typeof CONTAINER_KINDS)[number], unknown[]>, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { uid: 'u1', name: 'web-0', namespace: 'default', ...(annotations === undefined ? {} : { annotations }) },
    spec: {
      containers: [{ name: 'app', image: 'app:1', env: env.containers }],
      initContainers: [{ name: 'init', image: 'init:1', env: env.initContainers }],
      ephemeralContainers: [{ name: 'debug', image: 'busybox', env: env.ephemeralContainers }],
    },
  };
}

const asEntry = (object: KubeObject): Entry => ({
  uid: object.metadata?.uid ?? '',
  kind: 'pod',
  change: 'add',
  object,
  source: 'test',
  observedAt: 0,
});

describe('scrubObject', () => {
  it('redacts every literal env value of every container kind, keeps valueFrom, never mutates', () => {
    const ref = { secretKeyRef: { name: 'db', key: 'password' } };
    const input = deepFreeze(
      pod({
        containers: [{ name: 'PATH', value: '/usr/bin' }, { name: 'DB_PASSWORD', valueFrom: ref }],
        initContainers: [{ name: 'TOKEN', value: 'abc' }],
        ephemeralContainers: [{ name: 'X', value: 'y' }],
      }),
    );
    const before = structuredClone(input);
    const { object, redacted } = scrubObject(input);
    expect(input).toEqual(before);
    expect(redacted).toBe(3);
    const spec = object['spec'] as Record<string, { env: unknown[] }[]>;
    expect(spec['containers']![0]!.env).toEqual([{ name: 'PATH', value: REDACTED }, { name: 'DB_PASSWORD', valueFrom: ref }]);
    expect(spec['initContainers']![0]!.env).toEqual([{ name: 'TOKEN', value: REDACTED }]);
    expect(spec['ephemeralContainers']![0]!.env).toEqual([{ name: 'X', value: REDACTED }]);
  });

  it('in names mode redacts only secret-looking names', () => {
    const input = pod({
      containers: [{ name: 'PATH', value: '/usr/bin' }, { name: 'API_KEY', value: 'k' }, { name: 'db_Password', value: 'p' }],
      initContainers: [{ name: 'GITHUB_TOKEN', value: 't' }],
      ephemeralContainers: [{ name: 'LOG_LEVEL', value: 'debug' }],
    });
    const { object } = scrubObject(input, { mode: 'names' });
    const spec = object['spec'] as Record<string, { env: { name: string; value: string }[] }[]>;
    expect(spec['containers']![0]!.env.map((e) => e.value)).toEqual(['/usr/bin', REDACTED, REDACTED]);
    expect(spec['initContainers']![0]!.env.map((e) => e.value)).toEqual([REDACTED]);
    expect(spec['ephemeralContainers']![0]!.env.map((e) => e.value)).toEqual(['debug']);
  });

  it('scrubs env inside last-applied-configuration and secret-looking annotation keys', () => {
    const applied = pod({ containers: [{ name: 'DB_PASSWORD', value: 'hunter2' }], initContainers: [], ephemeralContainers: [] });
    const input = deepFreeze(
      pod(
        { containers: [], initContainers: [], ephemeralContainers: [] },
        {
          'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(applied),
          'vault.hashicorp.com/agent-inject-token': 'hvs.abc',
          'app.kubernetes.io/team': 'web',
          'example.com/notes': 'not json but mentions "env": hunter3',
        },
      ),
    );
    const { object } = scrubObject(input);
    const annotations = object.metadata!.annotations!;
    expect(JSON.stringify(object)).not.toContain('hunter2');
    expect(JSON.stringify(object)).not.toContain('hunter3');
    expect(JSON.parse(annotations['kubectl.kubernetes.io/last-applied-configuration']!)).toMatchObject({
      spec: { containers: [{ env: [{ name: 'DB_PASSWORD', value: REDACTED }] }] },
    });
    expect(annotations['vault.hashicorp.com/agent-inject-token']).toBe(REDACTED);
    expect(annotations['app.kubernetes.io/team']).toBe('web');
  });

  it('scrubs the pod template of a deployment', () => {
    const deployment: KubeObject = {
      metadata: { uid: 'd1' },
      spec: { template: { spec: { containers: [{ name: 'c', env: [{ name: 'A', value: 'secret-a' }] }] } } },
    };
    expect(JSON.stringify(scrubObject(deployment).object)).not.toContain('secret-a');
  });

  it('returns the very same object when there is nothing to scrub', () => {
    const node: KubeObject = { metadata: { uid: 'n1', name: 'node-1', labels: { a: 'b' } }, status: {} };
    expect(scrubObject(node).object).toBe(node);
  });
});

describe('scrubSecrets', () => {
  const secret = fc.stringMatching(/^[A-Za-z0-9]{6,20}$/).map((s) => `s3cr3t-${s}`);
  const envVar = fc.record({ name: fc.constantFrom('PATH', 'TOKEN', 'A', 'DB_PASSWORD', 'HOME', 'x'), value: secret });
  const envLists = fc.record({
    containers: fc.array(envVar, { maxLength: 4 }),
    initContainers: fc.array(envVar, { maxLength: 4 }),
    ephemeralContainers: fc.array(envVar, { maxLength: 4 }),
  });

  it('no secret value from a pod spec reaches any processor, for every container kind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(envLists, { minLength: 1, maxLength: 6 }), async (pods) => {
        const objects = pods.map((env, i) => {
          const object = pod(env, {
            'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(pod(env)),
          });
          object.metadata = { ...object.metadata, uid: `u${i}` };
          return deepFreeze(object);
        });
        const secrets = pods.flatMap((env) => CONTAINER_KINDS.flatMap((k) => env[k].map((v) => v.value)));
        const received: string[] = [];
        const router = new Router();
        router.register('observer', { next: (b: Batch) => received.push(JSON.stringify(b)) });
        router.register('fn', (b) => void received.push(JSON.stringify(b)));
        router.register('async', (b) => Promise.resolve(received.push(JSON.stringify(b))), { overflow: 'block' });
        const telemetry = new PipelineTelemetry();
        await lastValueFrom(
          from(objects.map(asEntry)).pipe(
            scrubSecrets({ telemetry }),
            preprocess(stripManagedFields),
            batch({ maxItems: 2, maxTime: 10 }),
            route(router),
            toArray(),
          ),
        );
        expect(received.length).toBe(3 * Math.ceil(objects.length / 2));
        const all = received.join('\n');
        for (const s of secrets) expect(all).not.toContain(s);
        // each value is redacted once in the spec and once in the annotation
        expect(telemetry.snapshot().scrubbed).toBe(secrets.length * 2);
      }),
      { numRuns: 50 },
    );
  });

  it('keeps the caller\'s entries untouched and passes unchanged entries through as they are', async () => {
    const withSecret = deepFreeze(asEntry(pod({ containers: [{ name: 'A', value: 'v' }], initContainers: [], ephemeralContainers: [] })));
    const plain = deepFreeze(asEntry({ metadata: { uid: 'n' } }));
    const out = await lastValueFrom(from([withSecret, plain]).pipe(scrubSecrets(), toArray()));
    expect(out[0]).not.toBe(withSecret);
    expect(out[1]).toBe(plain);
    expect(JSON.stringify(withSecret)).toContain('"value":"v"');
  });
});
