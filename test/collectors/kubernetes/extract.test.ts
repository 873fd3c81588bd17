import { readFileSync } from 'node:fs';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { extractPodTags } from '../../../src/collectors/kubernetes/index.js';
import type { PodExtractOptions } from '../../../src/collectors/kubernetes/index.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';

/** Pods and services here are plain JSON, as the API server sends them. */
const asPod = (json: unknown): V1Pod => json as V1Pod;
const asService = (json: unknown): V1Service => json as V1Service;

const fixtureText = readFileSync(new URL('./fixtures/pod-checkout.json', import.meta.url), 'utf8');
/** A fresh copy of the fixture, as plain JSON to change before use. */
const fixtureJson = (): { metadata: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> } =>
  JSON.parse(fixtureText) as { metadata: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> };
const fixture = asPod(fixtureJson());

const POD_ENTITY = 'kubernetes_pod_uid://0c5d2b8e-4f1a-4b7e-9c3d-8a2f6e1b7c90';
const API_ID = '9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d';
const ENVOY_ID = '4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c';
const MIGRATE_ID = '1111aaaa2222bbbb3333cccc4444dddd5555eeee6666ffff7777aaaa8888bbbb';

const services = [
  { metadata: { name: 'checkout', namespace: 'shop' }, spec: { selector: { app: 'checkout' } } },
  { metadata: { name: 'checkout-v2', namespace: 'shop' }, spec: { selector: { 'app.kubernetes.io/name': 'checkout', 'app.kubernetes.io/part-of': 'shop' } } },
  { metadata: { name: 'checkout-canary', namespace: 'shop' }, spec: { selector: { app: 'checkout', track: 'canary' } } },
  { metadata: { name: 'checkout', namespace: 'default' }, spec: { selector: { app: 'checkout' } } },
  { metadata: { name: 'headless-external', namespace: 'shop' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } },
  { metadata: { name: 'empty-selector', namespace: 'shop' }, spec: { selector: {} } },
].map(asService);

function byEntity(infos: readonly TagInfo[], entity: string): TagInfo {
  const info = infos.find((one) => one.entity === entity);
  if (info === undefined) throw new Error(`no TagInfo for ${entity}`);
  return info;
}

const POD_LOW = [
  'kube_namespace:shop',
  'pod_phase:running',
  'kube_ownerref_kind:replicaset',
  'kube_deployment:checkout',
  'persistentvolumeclaim:checkout-data',
  'persistentvolumeclaim:checkout-cache',
  'kube_qos:Burstable',
  'kube_priority_class:business-critical',
  'kube_runtime_class:gvisor',
  'kube_service:checkout',
  'kube_service:checkout-v2',
  'kube_app_name:checkout',
  'kube_app_instance:checkout-prod',
  'kube_app_version:2.14.0',
  'kube_app_component:api',
  'kube_app_part_of:shop',
  'kube_app_managed_by:Helm',
  'env:prod',
  'service:checkout',
  'version:2.14.0',
  'cost-center:cc-42',
  'region:eu-west-1',
  'region:eu-central-1',
];
const POD_ORCHESTRATOR = ['pod_name:checkout-7d9f8c6b5d-x2kqp', 'kube_ownerref_name:checkout-7d9f8c6b5d', 'kube_replica_set:checkout-7d9f8c6b5d'];

describe('extractPodTags on a real-looking pod owned by a deployment', () => {
  const logger = new RecordingLogger();
  const infos = extractPodTags(fixture, { services, logger });

  it('gives one TagInfo for the pod and one per started container, runtime prefixes stripped', () => {
    expect(infos.map((info) => info.entity)).toEqual([
      POD_ENTITY,
      `container_id://${MIGRATE_ID}`,
      `container_id://${API_ID}`,
      `container_id://${ENVOY_ID}`,
    ]);
    expect(infos.every((info) => info.source === 'kubernetes')).toBe(true);
    expect(logger.records).toEqual([]);
  });

  it('tags the pod', () => {
    const pod = byEntity(infos, POD_ENTITY);
    expect(new Set(pod.lowCardTags)).toEqual(new Set(POD_LOW));
    expect(new Set(pod.orchestratorCardTags)).toEqual(new Set(POD_ORCHESTRATOR));
    expect(pod.highCardTags).toEqual([]);
  });

  it("tags a container with the pod's tags plus its own", () => {
    const api = byEntity(infos, `container_id://${API_ID}`);
    expect(new Set(api.lowCardTags)).toEqual(
      new Set([
        ...POD_LOW,
        'kube_container_name:api',
        'image_name:ghcr.io/example/checkout',
        'short_image:checkout',
        'image_tag:2.14.0',
        'image_id:ghcr.io/example/checkout@sha256:2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c',
        'service:checkout-api',
      ]),
    );
    expect(new Set(api.orchestratorCardTags)).toEqual(new Set(POD_ORCHESTRATOR));
    expect(new Set(api.highCardTags)).toEqual(
      new Set([`container_id:${API_ID}`, 'display_container_name:api_checkout-7d9f8c6b5d-x2kqp']),
    );
  });

  it("takes a container's image from its spec (a digest-pinned image is tagged 'latest', as the Agent's NewContainerImage does)", () => {
    const envoy = byEntity(infos, `container_id://${ENVOY_ID}`);
    expect(envoy.lowCardTags).toContain('image_name:docker.io/envoyproxy/envoy');
    expect(envoy.lowCardTags).toContain('short_image:envoy');
    expect(envoy.lowCardTags.filter((tag) => tag.startsWith('image_tag:'))).toEqual(['image_tag:latest']);
    expect(envoy.lowCardTags).toContain('kube_container_name:envoy');
    expect(envoy.lowCardTags).not.toContain('service:checkout-api');
  });

  it('tags init containers too', () => {
    const migrate = byEntity(infos, `container_id://${MIGRATE_ID}`);
    expect(migrate.lowCardTags).toContain('kube_container_name:migrate');
    expect(migrate.lowCardTags).toContain('image_tag:2.14.0');
    expect(migrate.highCardTags).toContain('display_container_name:migrate_checkout-7d9f8c6b5d-x2kqp');
  });

  it('has no tag twice in any TagInfo', () => {
    for (const info of infos) {
      const all = [...info.lowCardTags, ...info.orchestratorCardTags, ...info.highCardTags];
      expect(new Set(all).size).toBe(all.length);
    }
  });

  it('gives no kube_service when no services are listed', () => {
    const pod = byEntity(extractPodTags(fixture), POD_ENTITY);
    expect(pod.lowCardTags.some((tag) => tag.startsWith('kube_service:'))).toBe(false);
  });

  it('writes the source option into every TagInfo', () => {
    expect(extractPodTags(fixture, { source: 'kubelet' }).map((info) => info.source)).toEqual(Array(4).fill('kubelet'));
  });
});

function podOwnedBy(kind: string, name: string): V1Pod {
  const json = fixtureJson();
  json.metadata['ownerReferences'] = [{ apiVersion: 'apps/v1', kind, name, uid: 'owner-uid', controller: true }];
  return asPod(json);
}

describe('extractPodTags: owner tags', () => {
  it.each<[string, string, string[], string[]]>([
    ['DaemonSet', 'node-exporter', ['kube_ownerref_kind:daemonset', 'kube_daemon_set:node-exporter'], []],
    ['StatefulSet', 'postgres', ['kube_ownerref_kind:statefulset', 'kube_stateful_set:postgres'], []],
    ['ReplicationController', 'legacy-web', ['kube_ownerref_kind:replicationcontroller', 'kube_replication_controller:legacy-web'], []],
    ['Job', 'nightly-report-28930680', ['kube_ownerref_kind:job', 'kube_cronjob:nightly-report'], ['kube_job:nightly-report-28930680']],
    ['Job', 'report-v2-123', ['kube_ownerref_kind:job', 'kube_cronjob:report-v2'], ['kube_job:report-v2-123']],
    ['Job', 'backfill-12', ['kube_ownerref_kind:job', 'kube_job:backfill-12'], []],
    ['Job', 'migrate-db', ['kube_ownerref_kind:job', 'kube_job:migrate-db'], []],
    ['Job', 'migrate-20240514a', ['kube_ownerref_kind:job', 'kube_job:migrate-20240514a'], []],
    ['ReplicaSet', 'checkout-7d9f8c6b5d', ['kube_ownerref_kind:replicaset', 'kube_deployment:checkout'], ['kube_replica_set:checkout-7d9f8c6b5d']],
    ['ReplicaSet', 'web-bcd', ['kube_ownerref_kind:replicaset', 'kube_deployment:web'], ['kube_replica_set:web-bcd']],
    ['ReplicaSet', 'legacy-api-3847261950', ['kube_ownerref_kind:replicaset', 'kube_deployment:legacy-api'], ['kube_replica_set:legacy-api-3847261950']],
    ['ReplicaSet', 'old-7', ['kube_ownerref_kind:replicaset', 'kube_deployment:old'], ['kube_replica_set:old-7']],
    ['ReplicaSet', 'web-bc', ['kube_ownerref_kind:replicaset', 'kube_replica_set:web-bc'], []],
    ['ReplicaSet', 'web-v1a2b', ['kube_ownerref_kind:replicaset', 'kube_replica_set:web-v1a2b'], []],
    ['ReplicaSet', 'standalone', ['kube_ownerref_kind:replicaset', 'kube_replica_set:standalone'], []],
    ['Node', 'ip-10-0-3-17', ['kube_ownerref_kind:node'], []],
  ])('%s %s', (kind, name, low, orchestrator) => {
    const pod = byEntity(extractPodTags(podOwnedBy(kind, name)), POD_ENTITY);
    const ownerLow = pod.lowCardTags.filter((tag) => /^kube_(ownerref_kind|daemon_set|stateful_set|replication_controller|job|cronjob|replica_set|deployment):/.test(tag));
    expect(new Set(ownerLow)).toEqual(new Set(low));
    expect(new Set(pod.orchestratorCardTags)).toEqual(new Set([`pod_name:checkout-7d9f8c6b5d-x2kqp`, `kube_ownerref_name:${name}`, ...orchestrator]));
  });

  it('gives no owner tags to a pod without owners', () => {
    const json = fixtureJson();
    delete json.metadata['ownerReferences'];
    const pod = byEntity(extractPodTags(asPod(json)), POD_ENTITY);
    expect([...pod.lowCardTags, ...pod.orchestratorCardTags].filter((tag) => tag.startsWith('kube_ownerref'))).toEqual([]);
  });
});

describe('extractPodTags: pod fields', () => {
  it('lower-cases the phase', () => {
    const json = fixtureJson();
    json.status['phase'] = 'Pending';
    expect(byEntity(extractPodTags(asPod(json)), POD_ENTITY).lowCardTags).toContain('pod_phase:pending');
  });

  it('leaves out tags whose field is absent', () => {
    const json = fixtureJson();
    delete json.spec['priorityClassName'];
    delete json.spec['runtimeClassName'];
    delete json.spec['volumes'];
    delete json.status['qosClass'];
    const low = byEntity(extractPodTags(asPod(json)), POD_ENTITY).lowCardTags;
    expect(low.filter((tag) => /^(kube_priority_class|kube_runtime_class|kube_qos|persistentvolumeclaim):/.test(tag))).toEqual([]);
  });

  it('tags a container whose status lacks its name and image without throwing', () => {
    const json = fixtureJson();
    const statuses = json.status['containerStatuses'] as Record<string, unknown>[];
    const first = statuses[0] as Record<string, unknown>;
    delete first['image'];
    delete first['name'];
    const id = String(first['containerID']).replace(/^[a-z]+:\/\//, '');
    const infos = extractPodTags(asPod(json));
    const container = byEntity(infos, `container_id://${id}`);
    expect(container.highCardTags).toContain(`container_id:${id}`);
    expect(container.lowCardTags.filter((t) => /^(image_name|short_image|kube_container_name):/.test(t))).toEqual([]);
  });

  it('gives nothing for a pod without a uid, and says so in the log', () => {
    const json = fixtureJson();
    delete json.metadata['uid'];
    const logger = new RecordingLogger();
    expect(extractPodTags(asPod(json), { logger })).toEqual([]);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]?.fields).toMatchObject({ pod: 'checkout-7d9f8c6b5d-x2kqp', namespace: 'shop' });
  });

  it('selects services only in the pod namespace with a non-empty, fully matching selector', () => {
    const low = byEntity(extractPodTags(fixture, { services }), POD_ENTITY).lowCardTags;
    expect(low.filter((tag) => tag.startsWith('kube_service:'))).toEqual(['kube_service:checkout', 'kube_service:checkout-v2']);
  });
});

function podWithAnnotations(annotations: Record<string, string>): V1Pod {
  const json = fixtureJson();
  json.metadata['annotations'] = annotations;
  return asPod(json);
}

describe('extractPodTags: the ad.datadoghq.com/tags annotation', () => {
  it('adds low tags from strings and lists of strings', () => {
    const pod = byEntity(extractPodTags(podWithAnnotations({ 'ad.datadoghq.com/tags': '{"team": "payments", "az": ["a", "b"]}' })), POD_ENTITY);
    expect(pod.lowCardTags).toEqual(expect.arrayContaining(['team:payments', 'az:a', 'az:b']));
    expect(pod.highCardTags).toEqual([]);
  });

  it.each([
    ['bad JSON', '{"team": "payments"'],
    ['a list', '["team:payments"]'],
    ['a string', '"team:payments"'],
  ])('%s is reported through the logger and skipped', (_name, value) => {
    const logger = new RecordingLogger();
    const infos = extractPodTags(podWithAnnotations({ 'ad.datadoghq.com/tags': value }), { logger });
    const pod = byEntity(infos, POD_ENTITY);
    expect(pod.lowCardTags).toContain('kube_namespace:shop');
    expect(pod.lowCardTags.some((tag) => tag.includes('payments'))).toBe(false);
    expect(infos).toHaveLength(4);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]?.fields).toMatchObject({ annotation: 'ad.datadoghq.com/tags', pod: 'checkout-7d9f8c6b5d-x2kqp' });
  });

  it('keeps the string values of an object and reports the others', () => {
    const logger = new RecordingLogger();
    const pod = byEntity(
      extractPodTags(podWithAnnotations({ 'ad.datadoghq.com/tags': '{"team": "payments", "tier": 1, "az": ["a", null]}' }), { logger }),
      POD_ENTITY,
    );
    expect(pod.lowCardTags).toEqual(expect.arrayContaining(['team:payments', 'az:a']));
    expect(pod.lowCardTags.some((tag) => tag.startsWith('tier:'))).toBe(false);
    expect(logger.at('warn')).toHaveLength(2);
  });
});

describe('extractPodTags: podLabelsAsTags and podAnnotationsAsTags', () => {
  const cases: [string, PodExtractOptions, { low?: string[]; high?: string[] }][] = [
    ['a label, case-insensitively', { podLabelsAsTags: { team: 'team' } }, { low: ['team:payments'] }],
    ['a label at high with +', { podLabelsAsTags: { TEAM: '+team' } }, { high: ['team:payments'] }],
    [
      'every label with * and %%label%%',
      { podLabelsAsTags: { '*': 'l_%%label%%' } },
      { low: ['l_app:checkout', 'l_pod-template-hash:7d9f8c6b5d', 'l_Team:payments', 'l_app.kubernetes.io/name:checkout'] },
    ],
    ['an annotation, case-insensitively', { podAnnotationsAsTags: { 'example.com/owner': 'owner' } }, { low: ['owner:alice'] }],
    ['an annotation at high with +', { podAnnotationsAsTags: { 'EXAMPLE.COM/OWNER': '+owner' } }, { high: ['owner:alice'] }],
    [
      'every annotation with * and %%annotation%%',
      { podAnnotationsAsTags: { '*': 'a_%%annotation%%' } },
      { low: ['a_Example.com/Owner:alice', 'a_kubectl.kubernetes.io/restartedAt:2024-05-14T09:20:55Z'] },
    ],
  ];
  it.each(cases)('maps %s', (_name, options, expected) => {
    const infos = extractPodTags(fixture, options);
    const pod = byEntity(infos, POD_ENTITY);
    for (const tag of expected.low ?? []) expect(pod.lowCardTags).toContain(tag);
    for (const tag of expected.high ?? []) expect(pod.highCardTags).toContain(tag);
    if (expected.high === undefined) expect(pod.highCardTags).toEqual([]);
    const api = byEntity(infos, `container_id://${API_ID}`);
    for (const tag of [...(expected.low ?? [])]) expect(api.lowCardTags).toContain(tag);
    for (const tag of [...(expected.high ?? [])]) expect(api.highCardTags).toContain(tag);
  });

  it('maps nothing without a mapping', () => {
    const pod = byEntity(extractPodTags(fixture), POD_ENTITY);
    expect(pod.lowCardTags.some((tag) => tag.includes('payments') || tag.includes('alice'))).toBe(false);
  });
});
