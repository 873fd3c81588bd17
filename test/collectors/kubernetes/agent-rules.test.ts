import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { extractPodTags } from '../../../src/collectors/kubernetes/index.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';

/*
 * Kubernetes tag rules against the Datadog Agent (DataDog/datadog-agent):
 *   Rules: comp/core/tagger/collectors/workloadmeta_extract.go@0187f031367582ee9ad3bcbce25dc57a952cdf81
 *     (extractTagsFromPodEntity: OpenShift annotations, ad.datadoghq.com/tags;
 *      extractTagsFromPodContainer: image_id, standard tags from the container's variables and
 *      OpenTelemetry's, ad.datadoghq.com/<container>.tags; parseJSONValue)
 *   How a kubelet pod becomes the entities: comp/core/workloadmeta/collectors/internal/kubelet/kubelet.go
 *     @01447f1c8914fa64a15f41c8b0c749f0f613c3a1 (parsePodContainers: imageID without
 *     "docker-pullable://", the image named from the spec with workloadmeta.NewContainerImage,
 *     which tags an untagged image "latest"; extractEnvFromSpec: the spec's env values)
 *   Test cases: comp/core/tagger/collectors/workloadmeta_test.go@0370fdff0005172ddd1b91d51956530dc7924fe0
 *     (TestHandleKubePod, TestParseJSONValue)
 */

const asPod = (json: unknown): V1Pod => json as V1Pod;
const asService = (json: unknown): V1Service => json as V1Service;

function byEntity(infos: readonly TagInfo[], entity: string): TagInfo {
  const info = infos.find((one) => one.entity === entity);
  if (info === undefined) throw new Error(`no TagInfo for ${entity}`);
  return info;
}

/*
 * A real kubelet pod: the kube-proxy pod of the kubelet /pods answer recorded in
 * DataDog/datadog-agent pkg/util/kubernetes/kubelet/testdata/podlist_1.8-2.json
 * @1290fe24fd83ff6961541fb695de3a752cf86cca (items[2]; the command, volumes, tolerations and
 * conditions, which no rule reads, left out).
 */
const kubeProxy = asPod({
  metadata: {
    name: 'kube-proxy-rnd5q',
    generateName: 'kube-proxy-',
    namespace: 'kube-system',
    selfLink: '/api/v1/namespaces/kube-system/pods/kube-proxy-rnd5q',
    uid: 'e42b42ec-0749-11e8-a2b8-000c29dea4f6',
    resourceVersion: '179',
    creationTimestamp: '2018-02-01T12:17:37Z',
    labels: { app: 'kube-proxy', 'controller-revision-hash': '3354300778', 'pod-template-generation': '1' },
    annotations: {
      'kubernetes.io/config.seen': '2018-02-01T13:17:37.687761954+01:00',
      'kubernetes.io/config.source': 'api',
    },
    ownerReferences: [
      {
        apiVersion: 'extensions/v1beta1',
        kind: 'DaemonSet',
        name: 'kube-proxy',
        uid: 'e3007274-0749-11e8-a2b8-000c29dea4f6',
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  },
  spec: {
    containers: [
      {
        name: 'kube-proxy',
        image: 'gcr.io/google_containers/hyperkube:v1.8.3',
        resources: {},
        imagePullPolicy: 'IfNotPresent',
        securityContext: { privileged: true },
      },
    ],
    restartPolicy: 'Always',
    serviceAccountName: 'default',
    nodeName: 'my-node-name',
    hostNetwork: true,
  },
  status: {
    phase: 'Running',
    hostIP: '192.168.128.141',
    podIP: '192.168.128.141',
    startTime: '2018-02-01T12:17:37Z',
    containerStatuses: [
      {
        name: 'kube-proxy',
        state: { running: { startedAt: '2018-02-01T12:17:38Z' } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: 'gcr.io/google_containers/hyperkube:v1.8.3',
        imageID:
          'docker-pullable://gcr.io/google_containers/hyperkube@sha256:2fbd3d9ace56ac3ec2775f64f5ec5e6551ab30c5e25cc0c2633f33b15b8ca542',
        containerID: 'docker://b3e4cd65204e04d1a2d4b7683cae2f59b2075700f033a6b09890bd0d3fecf6b6',
      },
    ],
    qosClass: 'BestEffort',
  },
});

describe('extractPodTags on a real kubelet pod (podlist_1.8-2.json, kube-proxy)', () => {
  const infos = extractPodTags(kubeProxy);
  const container = byEntity(infos, 'container_id://b3e4cd65204e04d1a2d4b7683cae2f59b2075700f033a6b09890bd0d3fecf6b6');

  it('gives image_id from the status imageID, without the docker-pullable:// prefix', () => {
    expect(new Set(container.lowCardTags)).toEqual(
      new Set([
        'kube_namespace:kube-system',
        'pod_phase:running',
        'kube_ownerref_kind:daemonset',
        'kube_daemon_set:kube-proxy',
        'kube_qos:BestEffort',
        'kube_container_name:kube-proxy',
        'image_name:gcr.io/google_containers/hyperkube',
        'short_image:hyperkube',
        'image_tag:v1.8.3',
        'image_id:gcr.io/google_containers/hyperkube@sha256:2fbd3d9ace56ac3ec2775f64f5ec5e6551ab30c5e25cc0c2633f33b15b8ca542',
      ]),
    );
    expect(new Set(container.orchestratorCardTags)).toEqual(new Set(['pod_name:kube-proxy-rnd5q', 'kube_ownerref_name:kube-proxy']));
  });

  it('keeps image_id off the pod itself', () => {
    const pod = byEntity(infos, 'kubernetes_pod_uid://e42b42ec-0749-11e8-a2b8-000c29dea4f6');
    expect(pod.lowCardTags.some((tag) => tag.startsWith('image_'))).toBe(false);
  });
});

/* The Agent test's pod and container (TestHandleKubePod), as the kubelet would list them. */
const podName = 'datadog-agent-foobar';
const podNamespace = 'default';
const containerName = 'agent';
const containerId = 'foobarquux';
const env = 'production';
const svc = 'datadog-agent';
const version = '7.32.0';
const agentImageId = 'datadog/agent@sha256:a63d3f66fb2f69d955d4f2ca0b229385537a77872ffc04290acae65aed5317d2';

function agentPod(options: {
  env?: readonly { name: string; value?: string }[];
  annotations?: Record<string, string>;
  image?: string;
}): V1Pod {
  return asPod({
    metadata: { name: podName, namespace: podNamespace, uid: 'foobar', annotations: options.annotations ?? {} },
    spec: { containers: [{ name: containerName, image: options.image ?? 'datadog/agent', env: options.env ?? [] }] },
    status: {
      containerStatuses: [
        { name: containerName, image: 'datadog/agent:latest', imageID: agentImageId, containerID: `containerd://${containerId}` },
      ],
    },
  });
}

function containerLow(pod: V1Pod, logger?: RecordingLogger): Set<string> {
  return new Set(byEntity(extractPodTags(pod, logger === undefined ? {} : { logger }), `container_id://${containerId}`).lowCardTags);
}

const imageTags = [`image_id:${agentImageId}`, 'image_name:datadog/agent', 'image_tag:latest', 'short_image:agent'];
const standardTags = [`env:${env}`, `service:${svc}`, `version:${version}`];

describe('extractPodTags against the Agent test cases (TestHandleKubePod)', () => {
  it('pod with fully formed container, standard tags from env (DD_ENV / DD_SERVICE / DD_VERSION in the spec)', () => {
    const pod = agentPod({
      env: [
        { name: 'DD_ENV', value: env },
        { name: 'DD_SERVICE', value: svc },
        { name: 'DD_VERSION', value: version },
      ],
    });
    expect(containerLow(pod)).toEqual(
      new Set([`kube_namespace:${podNamespace}`, `kube_container_name:${containerName}`, ...imageTags, ...standardTags]),
    );
    // Standard tags of a container stay on the container.
    const podInfo = byEntity(extractPodTags(pod), 'kubernetes_pod_uid://foobar');
    expect(podInfo.lowCardTags).toEqual([`kube_namespace:${podNamespace}`]);
  });

  it('pod with fully formed container, standard tags from env with opentelemetry sdk', () => {
    const pod = agentPod({
      env: [
        { name: 'OTEL_SERVICE_NAME', value: svc },
        { name: 'OTEL_RESOURCE_ATTRIBUTES', value: `service.name=${svc},service.version=${version},deployment.environment=${env}` },
      ],
    });
    expect(containerLow(pod)).toEqual(
      new Set([`kube_namespace:${podNamespace}`, `kube_container_name:${containerName}`, ...imageTags, ...standardTags]),
    );
  });

  it('resolves $(VAR) references to earlier variables as the kubelet does (extractEnvFromSpec)', () => {
    const pod = agentPod({
      env: [
        { name: 'APP_VERSION', value: version },
        { name: 'DD_VERSION', value: '$(APP_VERSION)' },
        { name: 'DD_SERVICE', value: '$$(APP_VERSION)' },
        { name: 'DD_ENV', value: '$(UNDEFINED)' },
      ],
    });
    const low = containerLow(pod);
    expect(low).toContain(`version:${version}`);
    expect(low).toContain('service:$(APP_VERSION)');
    expect(low).toContain('env:$(UNDEFINED)');
    expect([...low].some((tag) => tag.startsWith('APP_VERSION'))).toBe(false);
  });

  it('pod from openshift deployment', () => {
    const pod = asPod({
      metadata: {
        name: podName,
        namespace: podNamespace,
        uid: 'foobar',
        annotations: {
          'openshift.io/deployment-config.latest-version': '1',
          'openshift.io/deployment-config.name': 'gitlab-ce',
          'openshift.io/deployment.name': 'gitlab-ce-1',
        },
      },
    });
    const [info] = extractPodTags(pod);
    expect(new Set(info?.orchestratorCardTags)).toEqual(new Set([`pod_name:${podName}`, 'oshift_deployment:gitlab-ce-1']));
    expect(new Set(info?.lowCardTags)).toEqual(new Set([`kube_namespace:${podNamespace}`, 'oshift_deployment_config:gitlab-ce']));
  });
});

describe('extractPodTags: Datadog annotations and labels (TestHandleKubePod)', () => {
  const pod = (metadata: Record<string, unknown>): V1Pod =>
    asPod({ metadata: { name: podName, namespace: podNamespace, uid: 'foobar', ...metadata } });
  const podInfo = (one: V1Pod, services: Parameters<typeof extractPodTags>[1] = {}): TagInfo => {
    const [info] = extractPodTags(one, services);
    if (info === undefined) throw new Error('no pod TagInfo');
    return info;
  };

  it('pod with admission + remote config annotations', () => {
    const info = podInfo(pod({ annotations: { 'admission.datadoghq.com/rc.id': 'id', 'admission.datadoghq.com/rc.rev': '123' } }));
    expect(new Set(info.lowCardTags)).toEqual(new Set([`kube_namespace:${podNamespace}`, 'dd_remote_config_id:id', 'dd_remote_config_rev:123']));
  });

  it('datadog autoscaling tag', () => {
    const info = podInfo(pod({ annotations: { 'autoscaling.datadoghq.com/autoscaler-id': 'datadogpodautoscaler' } }));
    expect(new Set(info.lowCardTags)).toEqual(new Set([`kube_namespace:${podNamespace}`, 'kube_autoscaler_kind:datadogpodautoscaler']));
  });

  it('disable kube_service', () => {
    const services = ['service1', 'service2'].map((name) =>
      asService({ metadata: { name, namespace: podNamespace }, spec: { selector: { app: 'agent' } } }),
    );
    const labels = { app: 'agent' };
    expect(podInfo(pod({ labels }), { services }).lowCardTags).toEqual(
      expect.arrayContaining(['kube_service:service1', 'kube_service:service2']),
    );
    const disabled = podInfo(pod({ labels, annotations: { 'tags.datadoghq.com/disable': 'kube_service' } }), { services });
    expect(new Set(disabled.lowCardTags)).toEqual(new Set([`kube_namespace:${podNamespace}`]));
  });

  it('pod owned by replicaset that belongs to a deployment, with the Argo Rollout label', () => {
    const info = podInfo(
      pod({
        labels: { 'rollouts-pod-template-hash': '490794276' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'some_deployment-bcd2', uid: 'rs-uid' }],
      }),
    );
    expect(new Set(info.lowCardTags)).toEqual(
      new Set([
        `kube_namespace:${podNamespace}`,
        'kube_ownerref_kind:replicaset',
        'kube_deployment:some_deployment',
        'kube_argo_rollout:some_deployment',
      ]),
    );
    // The Agent tags kube_replica_set low; tagstream keeps it at orchestrator (docs/collectors.md,
    // "Differences from the Datadog Agent").
    expect(new Set(info.orchestratorCardTags)).toEqual(
      new Set([`pod_name:${podName}`, 'kube_ownerref_name:some_deployment-bcd2', 'kube_replica_set:some_deployment-bcd2']),
    );
  });
});

describe('extractPodTags: ad.datadoghq.com/<container>.tags (parseJSONValue cases of TestParseJSONValue)', () => {
  it.each<[string, string, readonly string[]]>([
    ['strings and arrays', '{"key1": "val1", "key2": ["val2"]}', ['key1:val1', 'key2:val2']],
    ['arrays only', '{"key1": ["val1", "val11"], "key2": ["val2", "val22"]}', ['key1:val1', 'key1:val11', 'key2:val2', 'key2:val22']],
    ['strings only', '{"key1": "val1", "key2": "val2"}', ['key1:val1', 'key2:val2']],
  ])('%s: one tag per value, on that container only', (_name, value, expected) => {
    const pod = agentPod({ annotations: { [`ad.datadoghq.com/${containerName}.tags`]: value } });
    const infos = extractPodTags(pod);
    const low = new Set(byEntity(infos, `container_id://${containerId}`).lowCardTags);
    for (const tag of expected) expect(low).toContain(tag);
    expect(byEntity(infos, 'kubernetes_pod_uid://foobar').lowCardTags.some((tag) => tag.startsWith('key'))).toBe(false);
  });

  it('beside the pod-level ad.datadoghq.com/tags, with "+" names at high', () => {
    const pod = agentPod({
      annotations: {
        'ad.datadoghq.com/tags': '{"pod_template_version": "1.0.0"}',
        [`ad.datadoghq.com/${containerName}.tags`]: '{"team": "agent", "+build": "1234"}',
        'ad.datadoghq.com/other.tags': '{"team": "other"}',
      },
    });
    const infos = extractPodTags(pod);
    const container = byEntity(infos, `container_id://${containerId}`);
    expect(container.lowCardTags).toContain('pod_template_version:1.0.0');
    expect(container.lowCardTags).toContain('team:agent');
    expect(container.lowCardTags).not.toContain('team:other');
    expect(container.highCardTags).toContain('build:1234');
    expect(byEntity(infos, 'kubernetes_pod_uid://foobar').lowCardTags).toContain('pod_template_version:1.0.0');
  });

  it('writes numbers and booleans of a list as text (Go fmt.Sprint), and reports what it skips', () => {
    const logger = new RecordingLogger();
    const pod = agentPod({ annotations: { [`ad.datadoghq.com/${containerName}.tags`]: '{"port": [80, 443], "canary": [true], "bad": 42, "nested": [{"a": 1}]}' } });
    const low = containerLow(pod, logger);
    expect(low).toContain('port:80');
    expect(low).toContain('port:443');
    expect(low).toContain('canary:true');
    expect([...low].some((tag) => tag.startsWith('bad:') || tag.startsWith('nested:'))).toBe(false);
    expect(logger.at('warn')).toHaveLength(2);
    expect(logger.at('warn')[0]?.fields).toMatchObject({ annotation: `ad.datadoghq.com/${containerName}.tags`, container: containerName });
  });

  it('invalid JSON: nothing from it, reported once', () => {
    const logger = new RecordingLogger();
    const low = containerLow(agentPod({ annotations: { [`ad.datadoghq.com/${containerName}.tags`]: '{key}' } }), logger);
    expect(low).toEqual(new Set([`kube_namespace:${podNamespace}`, `kube_container_name:${containerName}`, ...imageTags]));
    expect(logger.at('warn')).toHaveLength(1);
  });
});
