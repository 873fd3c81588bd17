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

/** Every string a JSON parser finds in `value`, following JSON text inside strings (bounded). */
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

describe('scrubObject: annotations as a JSON parser sees them', () => {
  const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
  const withAnnotation = (value: string): KubeObject =>
    deepFreeze({ metadata: { uid: 'u', name: 'p', annotations: { [LAST_APPLIED]: value, 'a.io/team': 'web' } } });
  const applied = pod({ containers: [{ name: 'DB_PASSWORD', value: 'hunter2' }], initContainers: [], ephemeralContainers: [] });
  const leaks = (object: KubeObject, secret: string): boolean =>
    JSON.stringify(object).includes(secret) || parsedStrings(object).some((s) => s.includes(secret));

  it('finds an `\\u0065nv`-escaped key in last-applied-configuration', () => {
    const text = JSON.stringify(applied).replaceAll('"env"', '"\\u0065nv"');
    expect(text).not.toContain('"env"');
    const { object, redacted } = scrubObject(withAnnotation(text));
    expect(leaks(object, 'hunter2')).toBe(false);
    expect(redacted).toBe(1);
    expect(object.metadata?.annotations?.['a.io/team']).toBe('web');
  });

  it('redacts env given as a map inside a JSON annotation, by name in names mode', () => {
    const text = JSON.stringify({ spec: { containers: [{ env: { DB_PASSWORD: 'hunter2', PATH: '/usr/bin' } }] } });
    const all = scrubObject(withAnnotation(text));
    expect(leaks(all.object, 'hunter2')).toBe(false);
    expect(leaks(all.object, '/usr/bin')).toBe(false);
    expect(all.redacted).toBe(2);
    const names = scrubObject(withAnnotation(text), { mode: 'names' });
    expect(leaks(names.object, 'hunter2')).toBe(false);
    expect(JSON.parse(names.object.metadata?.annotations?.[LAST_APPLIED] ?? '')).toEqual({
      spec: { containers: [{ env: { DB_PASSWORD: REDACTED, PATH: '/usr/bin' } }] },
    });
  });

  it('follows JSON held in a JSON string, and a JSON string annotation', () => {
    const nested = JSON.stringify({ note: 'x', config: JSON.stringify({ config: JSON.stringify(applied) }) });
    const a = scrubObject(withAnnotation(nested));
    expect(leaks(a.object, 'hunter2')).toBe(false);
    expect(a.redacted).toBe(1);
    // The result is still JSON, nested as before.
    const outer = JSON.parse(a.object.metadata?.annotations?.[LAST_APPLIED] ?? '') as { note: string; config: string };
    expect(outer.note).toBe('x');
    expect(typeof outer.config).toBe('string');
    const b = scrubObject(withAnnotation(JSON.stringify(JSON.stringify(applied))));
    expect(leaks(b.object, 'hunter2')).toBe(false);
  });

  it('redacts whole what is too deep or too long to follow, and leaves other JSON as it is', () => {
    // 100 levels of arrays, then JSON in a string 10 times (each string level doubles the escapes).
    let deep = `${'['.repeat(100)}${JSON.stringify(applied)}${']'.repeat(100)}`;
    const d = scrubObject(withAnnotation(deep));
    expect(JSON.stringify(d.object)).not.toContain('hunter2');
    expect(d.redacted).toBe(1);
    deep = JSON.stringify(applied);
    for (let i = 0; i < 10; i++) deep = JSON.stringify({ next: deep });
    const s = scrubObject(withAnnotation(deep));
    expect(leaks(s.object, 'hunter2')).toBe(false);
    expect(s.redacted).toBe(1);
    const long = JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024), spec: applied.spec });
    const l = scrubObject(withAnnotation(long));
    expect(l.object.metadata?.annotations?.[LAST_APPLIED]).toBe(REDACTED);
    const plain = withAnnotation(JSON.stringify({ spec: { replicas: 3, note: '[not json', environment: 'prod' } }));
    expect(scrubObject(plain).object).toBe(plain);
  });

  const secret = fc.stringMatching(/^[A-Za-z0-9]{6,16}$/).map((s) => `s3cr3t${s}`);
  const hex = (code: number, upper: boolean): string => {
    const h = code.toString(16).padStart(4, '0');
    return `\\u${upper ? h.toUpperCase() : h}`;
  };
  /** A JSON string literal for `text`, each character escaped as \uXXXX or not, as `escapes` say. */
  const literal = (text: string, escapes: readonly boolean[], upper: boolean): string =>
    `"${Array.from({ length: text.length }, (_, i) =>
      escapes[i % Math.max(1, escapes.length)] === true ? hex(text.charCodeAt(i), upper) : text.charAt(i),
    ).join('')}"`;
  const space = fc.constantFrom('', ' ', '\n  ');
  const wrapper = fc.oneof(
    fc.record({ kind: fc.constant('object' as const), key: fc.constantFrom('spec', 'containers', 'x', 'data', 'config') }),
    fc.record({ kind: fc.constant('array' as const) }),
    fc.record({ kind: fc.constant('string' as const) }),
  );

  it('no encoding of a secret env value survives: escaped keys, lists or maps, JSON in strings, nesting (property)', () => {
    fc.assert(
      fc.property(
        secret,
        fc.constantFrom('DB_PASSWORD', 'TOKEN', 'PATH', 'A'),
        fc.constantFrom('list', 'map', 'pairs', 'list-text', 'map-text'),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        fc.array(wrapper, { maxLength: 5 }),
        space,
        (value, name, shape, keyEscapes, upper, valueEscapes, wrappers, ws) => {
          const valueText = literal(value, valueEscapes, upper);
          const nameText = JSON.stringify(name);
          const shapes: Record<typeof shape, string> = {
            list: `[{"name":${ws}${nameText},${ws}"value":${ws}${valueText}}]`,
            map: `{${nameText}:${ws}${valueText}}`,
            pairs: `[${literal(`${name}=${value}`, valueEscapes, upper)}]`,
            'list-text': JSON.stringify(`[{"name":${nameText},"value":${valueText}}]`),
            'map-text': JSON.stringify(`{${nameText}:${valueText}}`),
          };
          let text = `{${ws}${literal('env', keyEscapes, upper)}:${ws}${shapes[shape]}}`;
          for (const w of wrappers) {
            if (w.kind === 'object') text = `{"${w.key}":${ws}${text}}`;
            else if (w.kind === 'array') text = `[${text}]`;
            else text = JSON.stringify(text);
          }
          const input = withAnnotation(text);
          // The input does hold the secret, as a parser sees it.
          expect(parsedStrings(input).some((s) => s.includes(value))).toBe(true);
          const { object, redacted } = scrubObject(input);
          expect(leaks(object, value)).toBe(false);
          expect(redacted).toBeGreaterThanOrEqual(1);
          expect(object.metadata?.annotations?.['a.io/team']).toBe('web');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves JSON without env alone, the very same object (property)', () => {
    const noEnv = (v: unknown): boolean =>
      typeof v !== 'object' || v === null || Object.entries(v).every(([k, x]) => k.toLowerCase() !== 'env' && noEnv(x));
    fc.assert(
      fc.property(fc.jsonValue().filter(noEnv), (doc) => {
        const input = withAnnotation(JSON.stringify(doc));
        expect(scrubObject(input).object).toBe(input);
      }),
      { numRuns: 200 },
    );
  });
});
