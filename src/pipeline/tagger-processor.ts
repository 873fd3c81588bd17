import { Subject, concat, defer, from } from 'rxjs';
import type { Observable } from 'rxjs';
import type { V1Pod } from '@kubernetes/client-node';
import { extractPodTags } from '../collectors/kubernetes/extract.js';
import type { PodExtractOptions } from '../collectors/kubernetes/extract.js';
import { podContainerIds } from '../collectors/kubernetes/pod-index.js';
import type { MetadataAsTags } from '../collectors/shared/metadata-as-tags.js';
import { containerId, podUid } from '../tagger/entity-id.js';
import { deleteEntityInfo } from '../tagger/stream-collector.js';
import { SourcePriority } from '../tagger/types.js';
import type { Collector, TagInfo } from '../tagger/types.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';
import type { Batch } from './batch.js';
import type { Entry } from './entry.js';
import type { ProcessorObserver } from './router.js';

/**
 * Options of {@link pipelineCollector}.
 *
 * @example
 * ```ts
 * const options: PipelineCollectorOptions = { nodeName: process.env.NODE_NAME, podLabelsAsTags: { team: 'team' } };
 * ```
 */
export interface PipelineCollectorOptions {
  /** Only pods scheduled on this node give tags (default: every pod the pipeline reads). */
  readonly nodeName?: string;
  /** Pod label -> tag name, as for `extractPodTags`. */
  readonly podLabelsAsTags?: MetadataAsTags;
  /** Pod annotation -> tag name, as for `extractPodTags`. */
  readonly podAnnotationsAsTags?: MetadataAsTags;
  /** The source written into every TagInfo (default 'kubernetes', as the Kubernetes collector). */
  readonly source?: string;
  /** The collector's priority (default `SourcePriority.NodeOrchestrator`, as the Kubernetes collector). */
  readonly priority?: SourcePriority;
  /** Where malformed annotations and the end of the pipeline are reported (default: silent). */
  readonly logger?: Logger;
}

/**
 * What the pipeline collector has done since it was created.
 *
 * @example
 * ```ts
 * const { batches, emitted, deletes }: PipelineCollectorCounters = feed.counters;
 * ```
 */
export interface PipelineCollectorCounters {
  /** Batches received from the router. */
  readonly batches: number;
  /** Pod entries read (every change). */
  readonly podEntries: number;
  /** Entries that were not pods, or pods of another node; skipped. */
  readonly ignored: number;
  /** Pod entries whose resourceVersion was already turned into tags (a resync's snapshot); skipped. */
  readonly unchanged: number;
  /** Pods known now (live, on this node). */
  readonly pods: number;
  /** TagInfos with tags emitted. */
  readonly emitted: number;
  /** Deletes (`deleteEntity`) emitted. */
  readonly deletes: number;
  /** Pods too malformed to read tags from (a container status without an image...); skipped and logged. */
  readonly extractErrors: number;
}

/**
 * A processor that feeds a Tagger, and the collector the Tagger reads it from.
 *
 * @example
 * ```ts
 * const feed: PipelineCollector = pipelineCollector({ nodeName });
 * createTagger({ collectors: [feed.collector] }).start();
 * pipeline({ readers: [kubernetesReader(kc, 'pod')], processors: { tagger: feed.processor } }).run$.subscribe();
 * ```
 */
export interface PipelineCollector {
  /** A stream collector: the TagInfos of the pods the processor received. */
  readonly collector: Collector & { readonly mode: 'stream'; readonly tagInfo$: Observable<TagInfo> };
  /** The processor to register with the pipeline's router. */
  readonly processor: ProcessorObserver & {
    next: (batch: Batch) => void;
    complete: () => void;
    error: (err: unknown) => void;
  };
  /** A snapshot of the counters. */
  readonly counters: PipelineCollectorCounters;
}

interface KnownPod {
  readonly resourceVersion: string;
  readonly infos: readonly TagInfo[];
}

/** Every entity a pod names: the pod and each started container. */
function entitiesOf(uid: string, pod: V1Pod): string[] {
  return [podUid(uid), ...podContainerIds(pod).map(containerId)];
}

/**
 * The Kubernetes collector variant that takes its pods from the pipeline instead of listing them:
 * a processor turns the pod entries of each batch into TagInfos (`extractPodTags`), pushed by a
 * stream collector. `add`, `update` and `snapshot` entries give the pod's tags (and a delete for
 * each container it no longer runs: a restart gives a container a new id); a `delete` gives a
 * delete for the pod and its containers. An entry whose resourceVersion was already turned into
 * tags (a resync's `snapshot` of an unchanged pod) gives nothing. Entries of other kinds, and with
 * `nodeName` pods of other nodes, are skipped.
 *
 * Pods that vanish between two resyncs need nothing here: the reader itself sends a `delete` for
 * every object a relist or resync no longer shows. The processor does not sweep by snapshot round:
 * a batch does not say where a round ends.
 *
 * The entries reach it scrubbed (`pipeline()` runs `scrubSecrets` first), and `extractPodTags`
 * never reads environment variables: no env value becomes a tag.
 *
 * `collector.tagInfo$` is hot and never fails: each subscriber first gets the TagInfos of every
 * pod known, then every change. It completes when the router closes (the pipeline stopped or its
 * input failed); the tags stay in the Tagger.
 *
 * @example
 * ```ts
 * const feed = pipelineCollector({ nodeName: process.env.NODE_NAME, podLabelsAsTags: { team: 'team' } });
 * const tagger = createTagger({ collectors: [feed.collector] });
 * tagger.start();
 * const p = pipeline({
 *   readers: [kubernetesReader(kc, 'pod', { resync: 3_600_000 })],
 *   processors: { tagger: { processor: feed.processor, overflow: 'block' } },
 * });
 * p.run$.subscribe();
 * await tagger.tag(podUid(uid), 'orchestrator');
 * ```
 */
export function pipelineCollector(options: PipelineCollectorOptions = {}): PipelineCollector {
  const source = options.source ?? 'kubernetes';
  const logger = options.logger ?? silentLogger;
  const nodeName = options.nodeName;
  const extractOptions: PodExtractOptions = {
    source,
    logger,
    ...(options.podLabelsAsTags === undefined ? {} : { podLabelsAsTags: options.podLabelsAsTags }),
    ...(options.podAnnotationsAsTags === undefined ? {} : { podAnnotationsAsTags: options.podAnnotationsAsTags }),
  };
  const known = new Map<string, KnownPod>();
  const updates$ = new Subject<TagInfo>();
  let batches = 0;
  let podEntries = 0;
  let ignored = 0;
  let unchanged = 0;
  let emitted = 0;
  let deletes = 0;
  let extractErrors = 0;

  const emitDeletes = (entities: Iterable<string>): void => {
    for (const entity of entities) {
      deletes += 1;
      updates$.next(deleteEntityInfo(entity, source));
    }
  };

  const forget = (uid: string, pod: V1Pod): void => {
    const gone = new Set(entitiesOf(uid, pod));
    for (const info of known.get(uid)?.infos ?? []) gone.add(info.entity);
    known.delete(uid);
    emitDeletes(gone);
  };

  const apply = (entry: Entry): void => {
    if (entry.kind !== 'pod') {
      ignored += 1;
      return;
    }
    podEntries += 1;
    // the entry's object is the pod in its JSON (wire) form: the same fields as V1Pod
    const pod = entry.object as unknown as V1Pod;
    const before = known.get(entry.uid);
    const elsewhere = nodeName !== undefined && pod.spec?.nodeName !== nodeName;
    if (entry.change === 'delete') {
      if (before === undefined && elsewhere) ignored += 1;
      else forget(entry.uid, pod);
      return;
    }
    if (elsewhere) {
      if (before === undefined) ignored += 1;
      else forget(entry.uid, pod);
      return;
    }
    const resourceVersion = pod.metadata?.resourceVersion ?? '';
    if (before !== undefined && resourceVersion !== '' && before.resourceVersion === resourceVersion) {
      unchanged += 1;
      return;
    }
    let infos: readonly TagInfo[];
    try {
      infos = Object.freeze(extractPodTags(pod, extractOptions));
    } catch (error) {
      // a pod too malformed to read: skipped, counted and logged; the rest of the batch goes on
      extractErrors += 1;
      logger.warn('pipeline collector: skipping a pod whose tags could not be read', { uid: entry.uid, error });
      return;
    }
    if (before !== undefined) {
      const now = new Set(infos.map((info) => info.entity));
      emitDeletes(before.infos.map((info) => info.entity).filter((entity) => !now.has(entity)));
    }
    if (infos.length === 0) {
      known.delete(entry.uid);
      return;
    }
    known.set(entry.uid, { resourceVersion, infos });
    for (const info of infos) {
      emitted += 1;
      updates$.next(info);
    }
  };

  const end = (): void => {
    updates$.complete();
  };

  return {
    collector: {
      source,
      priority: options.priority ?? SourcePriority.NodeOrchestrator,
      mode: 'stream',
      tagInfo$: defer(() => concat(from([...known.values()].flatMap((pod) => pod.infos)), updates$)),
    },
    processor: {
      next: (batch: Batch): void => {
        batches += 1;
        for (const entry of batch) apply(entry);
      },
      complete: end,
      error: (err: unknown): void => {
        logger.warn('pipeline collector: the pipeline failed; no more pod changes reach the tagger', { error: err });
        end();
      },
    },
    get counters(): PipelineCollectorCounters {
      return Object.freeze({ batches, podEntries, ignored, unchanged, pods: known.size, emitted, deletes, extractErrors });
    },
  };
}
