import type { V1Container, V1ContainerStatus, V1EnvVar, V1OwnerReference, V1Pod, V1Service } from '@kubernetes/client-node';
import { containerId, podUid } from '../../tagger/entity-id.js';
import type { TagInfo } from '../../tagger/types.js';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { parseImageReference } from '../shared/image-reference.js';
import { parseJsonTagMap } from '../shared/json-tags.js';
import { applyMetadataAsTags, compileMetadataAsTags } from '../shared/metadata-as-tags.js';
import type { MetadataAsTags } from '../shared/metadata-as-tags.js';
import { addOpenTelemetryServiceTags } from '../shared/opentelemetry-env.js';
import { TagBuilder } from '../shared/tag-builder.js';
import { cronJobOfJob, deploymentOfReplicaSet } from './owner-names.js';

/**
 * Options of {@link extractPodTags}.
 *
 * @example
 * ```ts
 * const options: PodExtractOptions = { source: 'kubelet', services, podLabelsAsTags: { team: 'team' } };
 * ```
 */
export interface PodExtractOptions {
  /** The source written into every TagInfo (default 'kubernetes'). */
  readonly source?: string;
  /** Pod label name (case-insensitive, `*` patterns) -> tag name ('+' prefix: high); `%%label%%` in patterns. */
  readonly podLabelsAsTags?: MetadataAsTags;
  /** Pod annotation name -> tag name, as for labels; `%%annotation%%` in patterns. */
  readonly podAnnotationsAsTags?: MetadataAsTags;
  /**
   * The services to match the pod against (`kube_service`): a service selects the pod when its
   * selector is non-empty, it is in the pod's namespace and every selector label matches.
   */
  readonly services?: readonly V1Service[];
  /** Where malformed annotations and unusable pods are reported (default: silent). */
  readonly logger?: Logger;
}

/** The annotation holding a JSON object of tags (values: strings or lists of strings). */
const AD_TAGS_ANNOTATION = 'ad.datadoghq.com/tags';
/** The annotation holding a JSON object of tags for one container, by its name. */
const containerTagsAnnotation = (container: string): string => `ad.datadoghq.com/${container}.tags`;
/** The prefix kubelets on Docker put before a status `imageID` (kubernetes/kubernetes#95968). */
const DOCKER_IMAGE_ID_PREFIX = 'docker-pullable://';
/** OpenShift's deployment annotations: annotation -> [cardinality, tag name]. */
const OPENSHIFT_ANNOTATIONS: readonly (readonly [string, 'low' | 'orchestrator', string])[] = [
  ['openshift.io/deployment-config.name', 'low', 'oshift_deployment_config'],
  ['openshift.io/deployment.name', 'orchestrator', 'oshift_deployment'],
];
/** The label Argo Rollouts puts on the pods of a rollout's replica sets. */
const ARGO_ROLLOUT_LABEL = 'rollouts-pod-template-hash';
/** The annotation Datadog's pod autoscaler puts on the pods it scales. */
const AUTOSCALER_ID_ANNOTATION = 'autoscaling.datadoghq.com/autoscaler-id';
/** Datadog's admission controller: the remote configuration that mutated the pod. */
const REMOTE_CONFIG_ANNOTATIONS: readonly (readonly [string, string])[] = [
  ['admission.datadoghq.com/rc.id', 'dd_remote_config_id'],
  ['admission.datadoghq.com/rc.rev', 'dd_remote_config_rev'],
];
/** A `,`-separated list of tags not to give the pod (only `kube_service` is read). */
const DISABLE_ANNOTATION = 'tags.datadoghq.com/disable';

/** The part of a container's spec the tag rules read (regular, init or ephemeral). */
type ContainerSpec = Pick<V1Container, 'name' | 'image' | 'env'>;

/** Container variables read as unified service tags: variable -> tag name. */
const STANDARD_ENV: readonly (readonly [string, string])[] = [
  ['DD_ENV', 'env'],
  ['DD_SERVICE', 'service'],
  ['DD_VERSION', 'version'],
];
/** The prefix of the unified service tag labels. */
const STANDARD_LABEL_PREFIX = 'tags.datadoghq.com/';
const UNIFIED_SERVICE_TAGS = ['env', 'service', 'version'] as const;

const APP_LABELS: readonly (readonly [string, string])[] = [
  ['app.kubernetes.io/name', 'kube_app_name'],
  ['app.kubernetes.io/instance', 'kube_app_instance'],
  ['app.kubernetes.io/version', 'kube_app_version'],
  ['app.kubernetes.io/component', 'kube_app_component'],
  ['app.kubernetes.io/part-of', 'kube_app_part_of'],
  ['app.kubernetes.io/managed-by', 'kube_app_managed_by'],
];

function addOwnerTags(tags: TagBuilder, owner: V1OwnerReference, labels: Readonly<Record<string, string>>): void {
  tags.addLow('kube_ownerref_kind', owner.kind.toLowerCase());
  tags.addOrchestrator('kube_ownerref_name', owner.name);
  switch (owner.kind) {
    case 'DaemonSet':
      tags.addLow('kube_daemon_set', owner.name);
      break;
    case 'StatefulSet':
      tags.addLow('kube_stateful_set', owner.name);
      break;
    case 'ReplicationController':
      tags.addLow('kube_replication_controller', owner.name);
      break;
    case 'Deployment':
      tags.addLow('kube_deployment', owner.name);
      break;
    case 'Job': {
      const cronJob = cronJobOfJob(owner.name);
      if (cronJob === undefined) {
        tags.addLow('kube_job', owner.name);
      } else {
        tags.addOrchestrator('kube_job', owner.name);
        tags.addLow('kube_cronjob', cronJob);
      }
      break;
    }
    case 'ReplicaSet': {
      const deployment = deploymentOfReplicaSet(owner.name);
      if (deployment === undefined) {
        tags.addLow('kube_replica_set', owner.name);
      } else {
        tags.addOrchestrator('kube_replica_set', owner.name);
        tags.addLow('kube_deployment', deployment);
        // An Argo Rollout's replica sets carry this label instead of pod-template-hash.
        if ((labels[ARGO_ROLLOUT_LABEL] ?? '') !== '') tags.addLow('kube_argo_rollout', deployment);
      }
      break;
    }
    default:
      break;
  }
}

/**
 * True when `service` selects `pod`: a non-empty selector, the same namespace, and every selector
 * label present on the pod with the same value.
 *
 * @example
 * ```ts
 * serviceSelectsPod({ metadata: { namespace: 'shop' }, spec: { selector: { app: 'cart' } } }, pod);
 * ```
 */
export function serviceSelectsPod(service: V1Service, pod: V1Pod): boolean {
  const selector = service.spec?.selector ?? {};
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  if ((service.metadata?.namespace ?? 'default') !== (pod.metadata?.namespace ?? 'default')) return false;
  const labels = pod.metadata?.labels ?? {};
  return entries.every(([name, value]) => labels[name] === value);
}

/** The container id without its runtime prefix (`containerd://abc` -> `abc`). */
function stripRuntime(id: string): string {
  const at = id.indexOf('://');
  return at === -1 ? id : id.slice(at + 3);
}

/** Adds the tags of a JSON annotation (an object of strings or lists); reports what it skips. */
function addJsonAnnotationTags(
  tags: TagBuilder,
  annotations: Readonly<Record<string, string>>,
  annotation: string,
  logger: Logger,
  fields: Readonly<Record<string, unknown>>,
): void {
  const raw = annotations[annotation];
  if (raw === undefined) return;
  const parsed = parseJsonTagMap(raw);
  for (const [tagName, value] of parsed.entries) tags.addAuto(tagName, value);
  for (const problem of parsed.problems) {
    logger.warn(`kubernetes: malformed annotation ${annotation}: ${problem}`, { ...fields, annotation });
  }
}

/**
 * The values of a container's `env` as the kubelet resolves literal values: `$(NAME)` is
 * replaced by an earlier variable's value (left as is when there is none), `$$` is a `$`.
 * Variables from `valueFrom` (config maps, secrets, the downward API) have no value here.
 */
function containerEnv(env: readonly V1EnvVar[] | undefined): Map<string, string> {
  const vars = new Map<string, string>();
  for (const variable of env ?? []) {
    if (typeof variable.name !== 'string') continue;
    const value = typeof variable.value === 'string' ? variable.value : '';
    vars.set(
      variable.name,
      value.replace(/\$\$|\$\(([^)]*)\)/g, (match, ref: string | undefined) =>
        ref === undefined ? '$' : (vars.get(ref) ?? match),
      ),
    );
  }
  return vars;
}

/** The status `imageID` without the `docker-pullable://` prefix of kubelets on Docker. */
function imageId(status: V1ContainerStatus): string {
  const id = typeof status.imageID === 'string' ? status.imageID : '';
  return id.startsWith(DOCKER_IMAGE_ID_PREFIX) ? id.slice(DOCKER_IMAGE_ID_PREFIX.length) : id;
}

function podTags(pod: V1Pod, options: PodExtractOptions, logger: Logger, uid: string): TagBuilder {
  const tags = new TagBuilder();
  const metadata = pod.metadata;
  const spec = pod.spec;
  const labels = metadata?.labels ?? {};
  const annotations = metadata?.annotations ?? {};
  const name = metadata?.name ?? '';
  const namespace = metadata?.namespace ?? '';

  tags.addLow('kube_namespace', namespace);
  tags.addLow('pod_phase', (pod.status?.phase ?? '').toLowerCase());
  tags.addOrchestrator('pod_name', name);
  for (const owner of metadata?.ownerReferences ?? []) addOwnerTags(tags, owner, labels);
  for (const volume of spec?.volumes ?? []) {
    tags.addLow('persistentvolumeclaim', volume.persistentVolumeClaim?.claimName ?? '');
  }
  tags.addLow('kube_qos', pod.status?.qosClass ?? '');
  tags.addLow('kube_priority_class', spec?.priorityClassName ?? '');
  tags.addLow('kube_runtime_class', spec?.runtimeClassName ?? '');
  const kubeServiceDisabled = (annotations[DISABLE_ANNOTATION] ?? '').split(',').includes('kube_service');
  for (const service of kubeServiceDisabled ? [] : (options.services ?? [])) {
    if (serviceSelectsPod(service, pod)) tags.addLow('kube_service', service.metadata?.name ?? '');
  }
  if ((annotations[AUTOSCALER_ID_ANNOTATION] ?? '') !== '') tags.addLow('kube_autoscaler_kind', 'datadogpodautoscaler');
  for (const [annotation, tagName] of REMOTE_CONFIG_ANNOTATIONS) tags.addLow(tagName, annotations[annotation] ?? '');
  for (const [label, tagName] of APP_LABELS) tags.addLow(tagName, labels[label] ?? '');
  for (const tagName of UNIFIED_SERVICE_TAGS) tags.addLow(tagName, labels[`${STANDARD_LABEL_PREFIX}${tagName}`] ?? '');

  addJsonAnnotationTags(tags, annotations, AD_TAGS_ANNOTATION, logger, { podUid: uid, pod: name, namespace });
  for (const [annotation, cardinality, tagName] of OPENSHIFT_ANNOTATIONS) {
    tags.add(cardinality, tagName, annotations[annotation] ?? '');
  }

  const labelsAsTags = compileMetadataAsTags(options.podLabelsAsTags, 'label', logger);
  for (const [label, value] of Object.entries(labels)) applyMetadataAsTags(tags, label, value, labelsAsTags);
  const annotationsAsTags = compileMetadataAsTags(options.podAnnotationsAsTags, 'annotation', logger);
  for (const [annotation, value] of Object.entries(annotations)) {
    applyMetadataAsTags(tags, annotation, value, annotationsAsTags);
  }
  return tags;
}

function containerTags(
  base: TagBuilder,
  pod: V1Pod,
  status: V1ContainerStatus,
  spec: ContainerSpec | undefined,
  id: string,
  logger: Logger,
): TagBuilder {
  const tags = base.copy();
  const podName = pod.metadata?.name ?? '';
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  // A status from the wire may lack fields its type promises; missing ones give no tags.
  const name: string = typeof status.name === 'string' ? status.name : '';
  tags.addLow('kube_container_name', name);
  tags.addHigh('container_id', id);
  if (podName.length > 0 && name.length > 0) tags.addHigh('display_container_name', `${name}_${podName}`);
  const image = parseImageReference(spec?.image ?? status.image);
  if (image !== undefined) {
    tags.addLow('image_name', image.imageName);
    tags.addLow('short_image', image.shortImage);
    // The Agent's kubelet collector names images with workloadmeta.NewContainerImage: no tag is 'latest'.
    tags.addLow('image_tag', image.imageTag ?? 'latest');
    tags.addLow('image_id', imageId(status));
  }
  if (name.length > 0) {
    for (const tagName of UNIFIED_SERVICE_TAGS) {
      tags.addLow(tagName, labels[`${STANDARD_LABEL_PREFIX}${name}.${tagName}`] ?? '');
    }
  }
  const env = containerEnv(spec?.env);
  for (const [variable, tagName] of STANDARD_ENV) tags.addLow(tagName, env.get(variable) ?? '');
  addOpenTelemetryServiceTags(tags, env);
  if (name.length > 0) {
    addJsonAnnotationTags(tags, annotations, containerTagsAnnotation(name), logger, {
      podUid: pod.metadata?.uid,
      pod: podName,
      namespace: pod.metadata?.namespace,
      container: name,
    });
  }
  return tags;
}

/**
 * The tags of a pod and of each of its started containers: one TagInfo for
 * `kubernetes_pod_uid://<uid>`, then one per container `container_id://<id>` (runtime prefix
 * stripped) carrying the pod's tags plus its own. Containers not started yet (no id) have no
 * entity and are left out. A pod without a uid is reported through `options.logger` and gives
 * nothing; malformed annotations are reported and skipped. It never throws.
 *
 * @example
 * ```ts
 * const infos = extractPodTags(pod, { services, podLabelsAsTags: { team: 'team' } });
 * // [{ entity: 'kubernetes_pod_uid://…', source: 'kubernetes', … }, { entity: 'container_id://…', … }]
 * ```
 */
export function extractPodTags(pod: V1Pod, options: PodExtractOptions = {}): TagInfo[] {
  const logger = options.logger ?? silentLogger;
  const source = options.source ?? 'kubernetes';
  const uid = pod.metadata?.uid ?? '';
  if (uid.length === 0) {
    logger.warn('kubernetes: skipping a pod without a uid', {
      pod: pod.metadata?.name,
      namespace: pod.metadata?.namespace,
    });
    return [];
  }
  const base = podTags(pod, options, logger, uid);
  const infos: TagInfo[] = [base.toTagInfo(podUid(uid), source)];

  const specs = new Map<string, ContainerSpec>();
  for (const container of [
    ...(pod.spec?.initContainers ?? []),
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.ephemeralContainers ?? []),
  ]) {
    specs.set(container.name, container);
  }
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.ephemeralContainerStatuses ?? []),
  ];
  for (const status of statuses) {
    const id = stripRuntime(status.containerID ?? '');
    if (id.length === 0) continue;
    const tags = containerTags(base, pod, status, specs.get(status.name), id, logger);
    infos.push(tags.toTagInfo(containerId(id), source));
  }
  return infos;
}
