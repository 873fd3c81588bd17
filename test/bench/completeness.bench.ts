/**
 * Completeness delay (issue 15, item 6), measured with the completeness API: the Docker and
 * Kubernetes collectors declare what they cover (`covers`), so the tagger expects both for every
 * `container_id://` entity, asks the Kubernetes collector at a container's first report, and says
 * when a container is complete.
 *
 * On the real parts — a private dockerd (test/services/docker.ts) and the Kubernetes test API
 * server (test/services/kube-api-server.ts) read by the real @kubernetes/client-node — one tagger
 * runs the Docker collector and the Kubernetes collector of one node. The benchmark starts 50
 * containers (one launched every 20 ms, without waiting for the previous one to start) and
 * measures, per container, from the engine's `start` event as a plain dockerode event listener of
 * the benchmark receives it:
 *
 * - the floor (runtime only): until the tagger holds the Docker collector's tags for
 *   `container_id://<id>` (`container_name:`, which only Docker gives);
 * - complete: until the tagger says the container is complete — an `events$` event with
 *   `complete: true`, or (`query` phase) a `lookup$` answer with `complete: true`, whichever comes
 *   first. It also counts the containers complete without the Kubernetes collector's tags
 *   (`pod_name:`): a final "not found", which this bench should never see.
 *
 * The benchmark is the kubelet: when its listener sees a container's `start` event it adds the
 * container's pod to the test API server at once (`spec.nodeName` the collector's node, a
 * container status `containerID: docker://<id>`), so the API server serves the pod from the
 * moment the container starts.
 *
 * Two consumers, each a phase of its own with its own tagger, collectors and 50 new containers:
 * - `watch`: nobody queries: an `events$({ prefix: 'container_id://', cardinality: 'high' })`
 *   subscriber only (the collectors' streams and the tagger's early asks);
 * - `query`: also a `lookup$(containerId(id), 'high')` at each start event (a fetch on miss from
 *   both collectors), as a log pipeline holding a container's first lines would.
 *
 * After each phase, in the same run: the round trip of one list of the node's pods through the
 * same client (`listPodForAllNamespaces` with the node's field selector), and the ratio
 * p99 complete / (2 x p99 floor + one list round trip) that issue 15 sets at <= 1, with p99
 * complete well under 1 s.
 *
 *   npm run bench -- completeness
 *   BENCH_K8S_PERIOD=1000 BENCH_CONTAINERS=50 BENCH_STAGGER=20 npm run bench -- completeness
 *
 * It skips, printing why, when a private dockerd cannot start here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type Docker from 'dockerode';
import { filter, firstValueFrom, timeout } from 'rxjs';
import type { Subscription } from 'rxjs';
import { containerId, createTagger, silentLogger } from '../../src/index.js';
import type { Tagger } from '../../src/index.js';
import { dockerClient, dockerCollector } from '../../src/collectors/docker/index.js';
import { kubernetesCollector } from '../../src/collectors/kubernetes/index.js';
import { dockerMissingReason, startDockerEngine, TINY_IMAGE } from '../services/docker.js';
import type { DockerEngine } from '../services/docker.js';
import { startKubeApiServer } from '../services/kube-api-server.js';
import type { KubeApiServer } from '../services/kube-api-server.js';
import { report } from './harness.js';

const CONTAINERS = Number(process.env['BENCH_CONTAINERS'] ?? 50);
/** ms between two container launches (a launch does not wait for the previous start). */
const STAGGER = Number(process.env['BENCH_STAGGER'] ?? 20);
/** The Kubernetes collector's list period; default: the library's default (5000 ms). */
const K8S_PERIOD = process.env['BENCH_K8S_PERIOD'] === undefined ? undefined : Number(process.env['BENCH_K8S_PERIOD']);
const NODE = 'bench-node';
const NAMESPACE = 'bench';
const LIST_ROUND_TRIPS = 21;

type Mode = 'watch' | 'query';

interface Sample {
  /** performance.now() when the bench's listener received the engine's `start` event. */
  start?: number;
  /** When the tagger first held the Docker collector's tags. */
  floor?: number;
  /** When the tagger first said the container is complete. */
  complete?: number;
  /** Complete without the Kubernetes collector's tags (a final "not found"). */
  completeWithoutPod?: boolean;
}

const hasDocker = (tags: readonly string[]): boolean => tags.some((t) => t.startsWith('container_name:'));
const hasKubernetes = (tags: readonly string[]): boolean => tags.some((t) => t.startsWith('pod_name:'));

/** Nearest-rank percentile of sorted values (with 50 samples, p99 is the largest). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1]!;
}

interface Stats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly n: number;
}

function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN, n: sorted.length };
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

/** The pod the kubelet would report for a container just started: its status names the Docker id. */
function podOf(index: number, mode: Mode, id: string): Parameters<KubeApiServer['create']>[1] {
  return {
    metadata: { name: `${mode}-pod-${index}`, namespace: NAMESPACE, labels: { app: 'completeness-bench' } },
    spec: { nodeName: NODE, containers: [{ name: 'app', image: TINY_IMAGE }] },
    status: {
      phase: 'Running',
      qosClass: 'BestEffort',
      containerStatuses: [
        {
          name: 'app',
          image: TINY_IMAGE,
          imageID: '',
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: new Date().toISOString() } },
          containerID: `docker://${id}`,
        },
      ],
    },
  };
}

/**
 * The engine's container events, read by a plain dockerode listener (no library code): calls
 * `onStart(id, name, timeNano)` for each `start`, the moment its line is parsed.
 */
async function listenStarts(docker: Docker, onStart: (id: string, name: string, timeNano: number) => void): Promise<() => void> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['start'] } })) as NodeJS.ReadableStream & { destroy(): void };
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (line.length === 0) continue;
      const event = JSON.parse(line) as { Action?: string; id?: string; timeNano?: number; Actor?: { ID?: string; Attributes?: { name?: string } } };
      const id = event.Actor?.ID ?? event.id;
      if (event.Action === 'start' && id !== undefined) onStart(id, event.Actor?.Attributes?.name ?? '', event.timeNano ?? 0);
    }
  });
  stream.on('error', () => undefined);
  return () => {
    stream.destroy();
  };
}

/** The round trip of one list of the node's pods through @kubernetes/client-node (median, max). */
async function listRoundTrip(kc: KubeConfig): Promise<{ median: number; max: number; pods: number }> {
  const api = kc.makeApiClient(CoreV1Api);
  const times: number[] = [];
  let pods = 0;
  for (let i = 0; i < LIST_ROUND_TRIPS; i++) {
    const start = performance.now();
    const list = await api.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${NODE}`, limit: 500 });
    times.push(performance.now() - start);
    pods = list.items.length;
  }
  times.shift(); // the first opens the connection
  const s = stats(times);
  return { median: s.p50, max: s.max, pods };
}

interface PhaseResult {
  readonly mode: Mode;
  readonly floor: Stats;
  readonly complete: Stats;
  readonly missing: number;
  readonly startSpread: number;
  readonly eventLag: Stats;
  readonly period: number;
  readonly k8sLists: number;
  /** ms from the first launch until every container was complete (or the deadline). */
  readonly duration: number;
  readonly inspects: number;
  readonly fetchNote: string;
  /** Containers complete 1 s or more after their start event. */
  readonly late: number;
  /** One list of the node through the same client, measured right after the phase. */
  readonly roundTrip: { readonly median: number; readonly max: number; readonly pods: number };
}

async function phase(mode: Mode, engine: DockerEngine, server: KubeApiServer, kc: KubeConfig, started: string[]): Promise<PhaseResult> {
  const docker = dockerCollector({ docker: dockerClient({ socketPath: engine.socketPath }), logger: silentLogger });
  const k8s = kubernetesCollector({ kubeConfig: kc, nodeName: NODE, logger: silentLogger, ...(K8S_PERIOD === undefined ? {} : { period: K8S_PERIOD }) });
  const period = K8S_PERIOD ?? 5000;
  const tagger: Tagger = createTagger({ collectors: [docker, k8s], logger: silentLogger });
  const samples = new Map<string, Sample>();
  const sample = (id: string): Sample => {
    let s = samples.get(id);
    if (s === undefined) {
      s = {};
      samples.set(id, s);
    }
    return s;
  };
  const observe = (id: string, tags: readonly string[], complete: boolean | undefined): void => {
    const s = sample(id);
    const now = performance.now();
    if (s.floor === undefined && hasDocker(tags)) s.floor = now;
    if (s.complete === undefined && complete === true) {
      s.complete = now;
      s.completeWithoutPod = !hasKubernetes(tags);
    }
  };
  const subscriptions: Subscription[] = [];
  const eventLags: number[] = [];
  const prefix = `${mode}-c-`;
  let stopListening: (() => void) | undefined;
  try {
    tagger.start();
    await firstValueFrom(docker.state$.pipe(filter((s) => s.status === 'connected'), timeout(60_000)));
    await firstValueFrom(k8s.state$.pipe(filter((s) => s.status === 'connected'), timeout(60_000)));
    // The containers of an earlier phase are inspected after the Docker collector's list: let that end.
    const coldDeadline = performance.now() + 60_000;
    while ((tagger.telemetry().entitiesBySource['docker'] ?? 0) < started.length && performance.now() < coldDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const listsBefore = k8s.counters.lists;
    const inspectsBefore = docker.counters.inspects;
    const phaseStart = performance.now();

    // Both phases observe the store the same way: the first change that shows Docker's tags, the
    // first event that says complete.
    subscriptions.push(
      tagger.events$({ prefix: 'container_id://', cardinality: 'high', burst: false }).subscribe((event) => {
        if (event.type !== 'deleted') observe(event.entity.slice('container_id://'.length), event.tags, event.complete);
      }),
    );
    stopListening = await listenStarts(engine.docker, (id, name, timeNano) => {
      const now = performance.now();
      if (!name.startsWith(prefix)) return;
      const s = sample(id);
      s.start = now;
      eventLags.push(performance.timeOrigin + now - timeNano / 1e6);
      // The kubelet: the pod of this container is served from now on.
      server.create('pod', podOf(Number(name.slice(prefix.length)), mode, id));
      // The consumer that asks: a live look-up of the container now (fetch on miss from both).
      if (mode === 'query') {
        subscriptions.push(
          tagger.lookup$(containerId(id), 'high').subscribe((answer) => {
            observe(id, answer.tags, answer.complete);
          }),
        );
      }
    });

    const launches: Promise<string>[] = [];
    for (let i = 0; i < CONTAINERS; i++) {
      launches.push(engine.run({ name: `${prefix}${i}`, labels: { 'com.example.bench': 'completeness' } }));
      if (STAGGER > 0) await new Promise((resolve) => setTimeout(resolve, STAGGER));
    }
    const ids = await Promise.all(launches);
    started.push(...ids);

    const deadline = performance.now() + 3 * period + 30_000;
    const done = (): boolean => ids.every((id) => samples.get(id)?.complete !== undefined);
    while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

    const floors: number[] = [];
    const completes: number[] = [];
    const starts: number[] = [];
    let missing = 0;
    let withoutPod = 0;
    for (const id of ids) {
      const s = samples.get(id);
      if (s?.start === undefined || s.floor === undefined || s.complete === undefined) {
        missing += 1;
        continue;
      }
      if (s.completeWithoutPod === true) withoutPod += 1;
      starts.push(s.start);
      floors.push(s.floor - s.start);
      completes.push(s.complete - s.start);
    }
    const lists = k8s.counters.lists - listsBefore;
    const phaseEnd = performance.now();
    const t = tagger.telemetry();
    const fetchNote =
      `tagger fetches ${t.fetches} (not found ${t.fetchNotFound}, errors ${t.fetchErrors}, timeouts ${t.fetchTimeouts}), ` +
      `early asks ${t.completeness.earlyAsks}, re-asks ${t.completeness.reasks}, ` +
      `Kubernetes fetch misses ${k8s.counters.fetchMisses}; ${withoutPod} complete without the pod's tags (a final "not found")`;
    const late = completes.filter((d) => d >= 1000).length;
    const roundTrip = await listRoundTrip(kc);
    return {
      mode,
      floor: stats(floors),
      complete: stats(completes),
      missing,
      startSpread: starts.length === 0 ? 0 : Math.max(...starts) - Math.min(...starts),
      eventLag: stats(eventLags),
      period,
      k8sLists: lists,
      duration: phaseEnd - phaseStart,
      inspects: docker.counters.inspects - inspectsBefore,
      fetchNote,
      late,
      roundTrip,
    };
  } finally {
    stopListening?.();
    for (const s of subscriptions) s.unsubscribe();
    tagger.stop();
  }
}

function print(result: PhaseResult): void {
  const { floor, complete } = result;
  const roundTrip = result.roundTrip.median;
  console.log(
    `${result.mode}: ${complete.n} of ${CONTAINERS} containers complete` +
      (result.missing > 0 ? ` (${result.missing} NOT complete within 3 periods + 30 s)` : '') +
      `; start events spread over ${ms(result.startSpread)}; the listener got each start event ${ms(result.eventLag.p50)} after the engine stamped it (p50, max ${ms(result.eventLag.max)})`,
  );
  console.log(`  runtime only (floor), start event -> Docker tags:   p50 ${ms(floor.p50)}  p99 ${ms(floor.p99)}  max ${ms(floor.max)}`);
  console.log(`  complete (events$ / lookup$ complete: true):         p50 ${ms(complete.p50)}  p99 ${ms(complete.p99)}  max ${ms(complete.max)}`);
  console.log(
    `  Kubernetes collector: period ${result.period} ms; ${result.k8sLists} lists of the node in the ${ms(result.duration)} of the phase (by the period and by fetch on miss); Docker collector: ${result.inspects} inspects; ${result.fetchNote}; ${result.late} containers complete >= 1 s after their start`,
  );
  console.log(
    `  one list of the node (${result.roundTrip.pods} pods) through @kubernetes/client-node, after the phase: median ${ms(roundTrip)}, max ${ms(result.roundTrip.max)} (${LIST_ROUND_TRIPS - 1} lists)`,
  );
  report(
    `completeness (${result.mode}), ${CONTAINERS} containers, p99`,
    { name: 'complete', value: complete.p99, unit: 'ms' },
    { name: '2 x p99 floor + one list round trip', value: 2 * floor.p99 + roundTrip, unit: 'ms' },
    `ratio <= 1 and p99 complete well under 1,000 ms: ${complete.p99 <= 2 * floor.p99 + roundTrip && complete.p99 < 1000 ? 'met' : 'NOT met'}`,
  );
}

async function main(): Promise<void> {
  const missing = dockerMissingReason();
  if (missing !== undefined) {
    console.log(`completeness: skipped (${missing})`);
    return;
  }
  console.log(
    `Completeness delay: private dockerd (vfs) + the Kubernetes test API server, @kubernetes/client-node, Node ${process.version}; ` +
      `${CONTAINERS} containers of ${TINY_IMAGE}, one launched every ${STAGGER} ms (a launch does not wait for the previous start). ` +
      `The bench acts as the kubelet: it adds a container's pod (containerID docker://<id>) to the API server when its own dockerode listener sees the container's start event; ` +
      `delays run from that event.`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-completeness-bench-'));
  let engine: DockerEngine | undefined;
  let server: KubeApiServer | undefined;
  const started: string[] = [];
  try {
    try {
      engine = await startDockerEngine();
    } catch (error) {
      console.log(`completeness: skipped (dockerd did not start: ${error instanceof Error ? error.message : String(error)})`);
      return;
    }
    server = await startKubeApiServer();
    const kc = new KubeConfig();
    kc.loadFromFile(server.writeKubeconfig(dir));

    for (const mode of ['watch', 'query'] as const) print(await phase(mode, engine, server, kc, started));
  } finally {
    if (engine !== undefined) {
      for (const id of started) {
        try {
          await engine.docker.getContainer(id).remove({ force: true });
        } catch {
          // the daemon's destroy below removes what is left
        }
      }
      await engine.destroy();
    }
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
