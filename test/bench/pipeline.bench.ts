/**
 * The pipeline's startup burst: 200,000 pods plus 150,000 nodes (the first list of a large
 * cluster) through scrubSecrets, batch (1000 entries) and route to three processors — a counter,
 * an index by uid, and an NDJSON serializer writing to nowhere. Each figure is printed beside a
 * plain loop doing the same work in the same process (the same scrub function, a Map batch with
 * the same dedupe rule, direct calls to the same three processors), with the ratio.
 *
 *   node --expose-gc --import tsx test/bench/pipeline.bench.ts
 *   BENCH_PODS=20000 BENCH_NODES=15000 npx tsx test/bench/pipeline.bench.ts   # a quick run
 *
 * Peak memory is the largest heapUsed seen while the burst runs (sampled every 1000 entries),
 * minus heapUsed before it, after a gc when --expose-gc is given. The objects are generated on the
 * fly, so it measures what each side retains, not the input.
 */
import { performance } from 'node:perf_hooks';
import { from, lastValueFrom, tap } from 'rxjs';
import { batch, mergeChange, route, Router, scrubObject, scrubSecrets } from '../../src/pipeline/index.js';
import type { Batch, Entry, KubeObject } from '../../src/pipeline/index.js';

const PODS = Number(process.env['BENCH_PODS'] ?? 200_000);
const NODES = Number(process.env['BENCH_NODES'] ?? 150_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const MAX_ITEMS = 1000;

const gc = (globalThis as { gc?: () => void }).gc;

function pod(i: number): KubeObject {
  const env = [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    { name: 'API_TOKEN', value: `token-${i}` },
    { name: 'REGION', value: 'eu-west-1' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      uid: `pod-${i}`,
      name: `web-${i}`,
      namespace: `ns-${i % 50}`,
      resourceVersion: String(1000 + i),
      labels: { app: 'web', tier: 'frontend', 'pod-template-hash': '5d8f7c' },
      annotations: { 'prometheus.io/scrape': 'true' },
    },
    spec: {
      nodeName: `node-${i % 5000}`,
      containers: [
        { name: 'app', image: 'registry.example.com/web:1.2.3', env },
        { name: 'sidecar', image: 'registry.example.com/proxy:2.0', env: env.slice(0, 2) },
      ],
      initContainers: [{ name: 'migrate', image: 'registry.example.com/migrate:1', env: env.slice(2) }],
    },
    status: { phase: 'Running', podIP: `10.0.${(i >> 8) & 255}.${i & 255}` },
  };
}

function node(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      uid: `node-${i}`,
      name: `node-${i}`,
      resourceVersion: String(500_000 + i),
      labels: {
        'kubernetes.io/hostname': `node-${i}`,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'm5.large',
        'topology.kubernetes.io/zone': `eu-west-1${'abc'[i % 3] ?? 'a'}`,
      },
    },
    spec: { podCIDR: `10.${i >> 8}.${i & 255}.0/24` },
    status: { capacity: { cpu: '2', memory: '8Gi', pods: '110' }, nodeInfo: { kubeletVersion: 'v1.30.1' } },
  };
}

function* burst(): Generator<Entry> {
  for (let i = 0; i < PODS; i += 1) yield { uid: `pod-${i}`, kind: 'pod', change: 'add', object: pod(i), source: 'bench', observedAt: 0 };
  for (let i = 0; i < NODES; i += 1) yield { uid: `node-${i}`, kind: 'node', change: 'add', object: node(i), source: 'bench', observedAt: 0 };
}

/** Whether the third processor serializes NDJSON (heavy) or only sums sizes (light). */
let heavy = true;

/** The three processors, the same for both sides; `sink` keeps the results alive. */
function processors() {
  const sink = { count: 0, bytes: 0, index: new Map<string, string>() };
  return {
    sink,
    count: (b: Batch): void => {
      sink.count += b.length;
    },
    index: (b: Batch): void => {
      for (const e of b) sink.index.set(e.uid, e.object.metadata?.resourceVersion ?? '');
    },
    ndjson: (b: Batch): void => {
      if (!heavy) {
        sink.bytes += b.length;
        return;
      }
      let text = '';
      for (const e of b) text += `${JSON.stringify(e)}\n`;
      sink.bytes += text.length;
    },
  };
}

interface Figure {
  ms: number;
  peakMb: number;
  check: number;
}

function sampler(): { sample: () => void; peakMb: () => number } {
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  return {
    sample: () => {
      const used = process.memoryUsage().heapUsed;
      if (used > peak) peak = used;
    },
    peakMb: () => (peak - base) / 2 ** 20,
  };
}

/** A plain loop: scrub, a Map batch with the dedupe rule, direct calls. */
function plain(): Figure {
  gc?.();
  const mem = sampler();
  const p = processors();
  const start = performance.now();
  let held = new Map<string, Entry>();
  let n = 0;
  const flush = (): void => {
    if (held.size === 0) return;
    const b = [...held.values()];
    held = new Map();
    p.count(b);
    p.index(b);
    p.ndjson(b);
  };
  for (const entry of burst()) {
    const { object } = scrubObject(entry.object);
    const scrubbed = object === entry.object ? entry : { ...entry, object };
    held.set(scrubbed.uid, mergeChange(held.get(scrubbed.uid), scrubbed));
    if (held.size >= MAX_ITEMS) flush();
    if (++n % 1000 === 0) mem.sample();
  }
  flush();
  const ms = performance.now() - start;
  mem.sample();
  return { ms, peakMb: mem.peakMb(), check: p.sink.count + p.sink.index.size };
}

/** The pipeline: scrubSecrets -> batch -> route to three registered processors. */
async function ours(): Promise<Figure> {
  gc?.();
  const mem = sampler();
  const p = processors();
  const router = new Router();
  router.register('count', p.count, { overflow: 'block' });
  router.register('index', p.index, { overflow: 'block' });
  router.register('ndjson', p.ndjson, { overflow: 'block' });
  let n = 0;
  const start = performance.now();
  await lastValueFrom(
    from(burst()).pipe(
      tap(() => {
        if (++n % 1000 === 0) mem.sample();
      }),
      scrubSecrets(),
      batch({ maxItems: MAX_ITEMS, maxTime: 1000 }),
      route(router),
    ),
    { defaultValue: undefined },
  );
  const ms = performance.now() - start;
  mem.sample();
  return { ms, peakMb: mem.peakMb(), check: p.sink.count + p.sink.index.size };
}

const fmt = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function scenario(label: string): Promise<void> {
  const total = PODS + NODES;
  const base: Figure[] = [];
  const mine: Figure[] = [];
  for (let r = 0; r < RUNS; r += 1) {
    base.push(plain());
    mine.push(await ours());
  }
  const best = (xs: Figure[]): Figure => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const maxPeak = (xs: Figure[]): number => Math.max(...xs.map((x) => x.peakMb));
  const b = best(base);
  const o = best(mine);
  if (b.check !== o.check || b.check !== total * 2) throw new Error(`the two sides disagree: ${b.check} vs ${o.check}`);
  console.log(`\n${label}`);
  console.log(`  plain loop : ${fmt(b.ms)} ms (${fmt(total / (b.ms / 1000))} entries/s), peak heap +${fmt(maxPeak(base), 1)} MiB`);
  console.log(`  pipeline   : ${fmt(o.ms)} ms (${fmt(total / (o.ms / 1000))} entries/s), peak heap +${fmt(maxPeak(mine), 1)} MiB`);
  console.log(
    `  ratio      : time x${fmt(o.ms / b.ms, 2)}, peak heap x${fmt(maxPeak(mine) / Math.max(1, maxPeak(base)), 2)} (best of ${RUNS} runs for time, worst for memory)`,
  );
}

async function main(): Promise<void> {
  console.log(`pipeline burst: ${fmt(PODS)} pods + ${fmt(NODES)} nodes = ${fmt(PODS + NODES)} entries, batches of ${MAX_ITEMS}, 3 processors`);
  if (gc === undefined) console.log('(run with node --expose-gc --import tsx for steadier memory figures)');
  heavy = true;
  await scenario('processors: counter, uid index, NDJSON serializer (JSON.stringify of every entry)');
  heavy = false;
  await scenario('processors: counter, uid index, size counter (the pipeline\'s own overhead shows)');
}

await main();
