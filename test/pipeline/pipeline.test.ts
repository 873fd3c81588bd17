import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { concat, from, lastValueFrom, NEVER, of, Subject, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  kubernetesReader,
  ndjsonProcessor,
  pipeline,
  REDACTED,
  stripManagedFields,
} from '../../src/pipeline/index.js';
import type { Batch, Entry, KubeObject } from '../../src/pipeline/index.js';
import { silentLogger } from '../../src/util/logger.js';
import type { Logger, LogFields } from '../../src/util/logger.js';
import { startKubeApiServer } from '../services/kube-api-server.js';
import { entry, uids } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tagstream-pipeline-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function recordingLogger(): Logger & { warnings: [string, LogFields | undefined][] } {
  const warnings: [string, LogFields | undefined][] = [];
  return { ...silentLogger, warnings, warn: (m, f) => void warnings.push([m, f]) };
}

const secretPod = (uid: string, secret: string): Entry => ({
  ...entry(uid),
  object: {
    metadata: { uid, name: uid, managedFields: [{ manager: 'kubectl' }] },
    spec: {
      containers: [{ name: 'a', env: [{ name: 'A', value: `${secret}-c` }] }],
      initContainers: [{ name: 'b', env: [{ name: 'B', value: `${secret}-i` }] }],
      ephemeralContainers: [{ name: 'c', env: [{ name: 'C', value: `${secret}-e` }] }],
    },
  },
});

describe('pipeline', () => {
  it('wires readers -> scrub -> preprocess -> batch -> route, with telemetry', async () => {
    const logger = recordingLogger();
    const file = join(dir, 'out.ndjson');
    const seen: Record<string, string[]> = { fn: [], observer: [] };
    const p = pipeline({
      readers: [
        from([secretPod('p1', 'hunter'), secretPod('p2', 'hunter')]),
        from([entry('n1', 'add', '', 'node'), { uid: '', kind: 'node', change: 'add', object: {} } as Entry, entry('n2', 'add', '', 'node')]),
      ],
      preprocessors: [stripManagedFields, (e) => (e.uid === 'n2' ? null : e)],
      batch: { maxItems: 2, maxTime: 50 },
      processors: {
        fn: (b) => void seen['fn']!.push(uids(b)),
        observer: { next: (b: Batch) => seen['observer']!.push(uids(b)) },
        ndjson: { processor: ndjsonProcessor(file, { flags: 'w' }), overflow: 'block', buffer: 2 },
      },
      logger,
    });
    const batches = await lastValueFrom(p.run$.pipe(toArray()));
    expect(batches.map(uids)).toEqual(['p1p2', 'n1']);
    expect(seen).toEqual({ fn: ['p1p2', 'n1'], observer: ['p1p2', 'n1'] });
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Entry);
    expect(lines.map((l) => l.uid)).toEqual(['p1', 'p2', 'n1']);
    expect(readFileSync(file, 'utf8')).not.toContain('hunter');
    expect(readFileSync(file, 'utf8')).toContain(REDACTED);
    expect(lines[0]!.object.metadata?.managedFields).toBeUndefined();
    const t = p.telemetry.snapshot();
    expect(t.entriesIn).toEqual({ pod: 2, node: 2 });
    expect(t.scrubbed).toBe(6);
    expect(t.dropped).toEqual({ 'invalid-entry': 1, 'preprocess-filtered': 1 });
    expect(t.batches).toEqual({ count: 2, entries: 3, max: 2 });
    expect(t.batchesDelivered).toEqual({ fn: 2, observer: 2, ndjson: 2 });
    expect(logger.warnings.some(([m]) => m.includes('not an entry'))).toBe(true);
  });

  it('stop() ends the readers, flushes the held entries and completes', async () => {
    const live = new Subject<Entry>();
    const got: string[] = [];
    const p = pipeline({
      readers: [concat(of(entry('a')), NEVER), live],
      batch: { maxItems: 100, maxTime: 60_000 },
      processors: { p: (b) => void got.push(uids(b)) },
      logger: silentLogger,
    });
    const done = lastValueFrom(p.run$.pipe(toArray()));
    live.next(entry('b'));
    p.stop();
    p.stop(); // idempotent
    await expect(done).resolves.toHaveLength(1);
    expect(got).toEqual(['ab']);
  });

  it('measures lag from the reader to each processor on the pipeline\'s clock', () => {
    const scheduler = new TestScheduler((a, b) => {
      expect(a).toEqual(b);
    });
    scheduler.run(({ cold }) => {
      const p = pipeline({
        readers: [cold('a 9ms |', { a: { ...entry('a'), observedAt: 0 } })],
        batch: { maxItems: 10, maxTime: 7 },
        processors: { p: () => undefined },
        logger: silentLogger,
        scheduler,
      });
      p.run$.subscribe();
      scheduler.flush();
      expect(p.telemetry.snapshot().lagMs).toEqual({ last: 7, max: 7 });
    });
  });

  it('end to end from the API server: no secret of any container kind reaches any processor', async () => {
    const server = await startKubeApiServer();
    try {
      const secrets: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const s = (k: string) => {
          const v = `s3cr3t-${k}-${i}-${Math.random().toString(36).slice(2)}`;
          secrets.push(v);
          return v;
        };
        const spec = {
          containers: [{ name: 'app', env: [{ name: 'PATH', value: s('c') }, { name: 'DB', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } }] }],
          initContainers: [{ name: 'init', env: [{ name: 'X', value: s('i') }] }],
          ephemeralContainers: [{ name: 'dbg', env: [{ name: 'Y', value: s('e') }] }],
        };
        const applied: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}` }, spec };
        server.create('pod', {
          metadata: { name: `p${i}`, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(applied) } },
          spec,
        });
      }
      const kc = new KubeConfig();
      kc.loadFromFile(server.writeKubeconfig(dir));
      const file = join(dir, 'e2e.ndjson');
      const chunks: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk.toString());
          cb();
        },
      });
      const received: string[] = [];
      const p = pipeline({
        readers: [kubernetesReader(kc, 'pod', { pageSize: 2 })],
        batch: { maxItems: 3, maxTime: 20 },
        processors: {
          json: (b) => void received.push(JSON.stringify(b)),
          stream: ndjsonProcessor(sink),
          file: { processor: ndjsonProcessor(file, { flags: 'w' }), overflow: 'block' },
        },
        logger: silentLogger,
      });
      const done = lastValueFrom(p.run$.pipe(toArray()));
      // wait until the five pods went through, then stop
      for (let i = 0; i < 200 && (p.telemetry.snapshot().batches.entries < 5 || chunks.length < 2); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      p.stop();
      await done;
      const everything = [received.join('\n'), chunks.join(''), readFileSync(file, 'utf8')];
      expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(5);
      for (const out of everything) {
        expect(out).toContain('secretKeyRef'); // valueFrom kept
        for (const s of secrets) expect(out).not.toContain(s);
      }
    } finally {
      await server.close();
    }
  });
});
