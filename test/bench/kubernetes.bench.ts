/**
 * The Kubernetes collector's per-period cost (issue 3): a node of 1,000 pods (3 containers each) is
 * listed every period; 1% of the pods change between two periods. Ours indexes the list, diffs it
 * with the previous one by uid and resourceVersion (`indexPods` + `diffPodLists`) and extracts the
 * tags of the changed pods only; the baseline does what a collector without a diff does: extract
 * and emit every pod's tags every period. Both run the same `extractPodTags`; the figure is the CPU
 * time of one period (the list's HTTP and JSON parsing are the same for both and left out).
 *
 *   npx tsx test/bench/kubernetes.bench.ts
 *   BENCH_PODS=5000 BENCH_CHANGED=0.05 npx tsx test/bench/kubernetes.bench.ts
 */
import type { V1Pod } from '@kubernetes/client-node';
import { diffPodLists, extractPodTags, indexPods } from '../../src/collectors/kubernetes/index.js';
import type { TagInfo } from '../../src/tagger/types.js';
import { best, report, time } from './harness.js';

const PODS = Number(process.env['BENCH_PODS'] ?? 1000);
const CHANGED = Number(process.env['BENCH_CHANGED'] ?? 0.01);
const PERIODS = 20;
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

/** Plain JSON, as the API server sends it. */
const asPod = (json: unknown): V1Pod => json as V1Pod;

function pod(i: number, version: number): V1Pod {
  const containers = ['app', 'sidecar', 'log-shipper'];
  return asPod({
    metadata: {
      uid: `pod-uid-${i}`,
      name: `web-${i}-7d9f8c6b5d-x2kqp`,
      namespace: `ns-${i % 20}`,
      resourceVersion: String(1000 + i * 100 + version),
      labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5d', 'tags.datadoghq.com/env': 'prod', 'tags.datadoghq.com/version': `v${version}` },
      annotations: { 'ad.datadoghq.com/tags': '{"team":"core"}' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8c6b5d', uid: 'rs', controller: true }],
    },
    spec: { nodeName: 'node-a', containers: containers.map((name) => ({ name, image: `registry.example.com/${name}:1.${version}` })) },
    status: {
      phase: 'Running',
      qosClass: 'Burstable',
      containerStatuses: containers.map((name, c) => ({
        name,
        image: `registry.example.com/${name}:1.${version}`,
        imageID: '',
        ready: true,
        restartCount: version,
        containerID: `containerd://${i.toString(16).padStart(8, '0')}${c}${version.toString(16).padStart(4, '0')}`,
      })),
    },
  });
}

/** The lists of PERIODS + 1 periods: each one a fresh array of fresh objects, as a list gives. */
function lists(): V1Pod[][] {
  const versions = new Array<number>(PODS).fill(0);
  const out: V1Pod[][] = [];
  const perPeriod = Math.max(1, Math.round(PODS * CHANGED));
  for (let period = 0; period <= PERIODS; period += 1) {
    if (period > 0) for (let k = 0; k < perPeriod; k += 1) versions[(period * perPeriod + k) % PODS]! += 1;
    out.push(versions.map((v, i) => pod(i, v)));
  }
  return out;
}

let sink = 0;
const consume = (infos: readonly TagInfo[]): void => {
  sink += infos.length;
};

const input = lists();

const ours = best(RUNS, () => {
  let previous = indexPods(input[0]!).index;
  return time(() => {
    for (let period = 1; period <= PERIODS; period += 1) {
      const next = indexPods(input[period]!).index;
      const diff = diffPodLists(previous, next);
      consume(diff.deletedEntities.map((entity) => ({ entity, source: 'kubernetes', lowCardTags: [], orchestratorCardTags: [], highCardTags: [], deleteEntity: true })));
      for (const item of diff.changed) consume(extractPodTags(item.pod));
      previous = next;
    }
  }) / PERIODS;
});

const naive = best(RUNS, () =>
  time(() => {
    for (let period = 1; period <= PERIODS; period += 1) {
      for (const p of input[period]!) consume(extractPodTags(p));
    }
  }) / PERIODS,
);

report(
  `kubernetes collector, one period of ${PODS} pods, ${(CHANGED * 100).toFixed(1)}% changed`,
  { name: 'index + diff + extract changed', value: ours, unit: 'ms' },
  { name: 'extract every pod every period', value: naive, unit: 'ms' },
);
if (sink === 0) console.log('nothing emitted');
