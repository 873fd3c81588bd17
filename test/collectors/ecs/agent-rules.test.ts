import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ecsCollector, extractEcsContainerTags, extractEcsTags, readTaskMetadata } from '../../../src/collectors/ecs/index.js';
import type { EcsTaskMetadata } from '../../../src/collectors/ecs/index.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { EC2_CURL_ID, FARGATE_CURL_ID, taskDocument } from './fixtures.js';
import { startMetadataServer } from './metadata-server.js';
import type { MetadataServer } from './metadata-server.js';

/*
 * ECS tag rules against the Datadog Agent (DataDog/datadog-agent):
 *   Rules: comp/core/tagger/collectors/workloadmeta_extract.go@0187f031367582ee9ad3bcbce25dc57a952cdf81
 *     (handleECSTask: ecs_service lower-cased; availability_zone and availability-zone on Fargate
 *      only; resource tags through addResourceTags; handleContainer for Fargate containers)
 *     comp/core/tagger/collectors/ecs_common.go@46d9244c96c1be37f000211b543b04523851859c
 *     (addResourceTags: keys starting with "aws:" dropped, keys and values lower-cased)
 *     comp/core/workloadmeta/collectors/util/ecs_util.go@06d145c3eb4a4665b3b6c55527321699996e732c
 *     (ParseV4Task / ParseV4TaskContainers: a Fargate container is built from the task document,
 *      name = DockerName, image = NewContainerImage(ImageID, Image), runtime ECS Fargate, so no
 *      docker_image; LaunchType "FARGATE" in any case, anything else EC2)
 *     NewContainerImage (comp/core/workloadmeta/def/types.go): an untagged image is "latest".
 *   Test cases: comp/core/tagger/collectors/workloadmeta_test.go@0370fdff0005172ddd1b91d51956530dc7924fe0
 *     (TestHandleECSTask: "basic ECS EC2 task", "basic ECS Fargate task")
 *   Documents: hand-made variants of AWS's task metadata v4 examples, in ./fixtures (see fixtures.ts):
 *     ec2-task.json is AWS's published EC2 /task example (checked: aws-v4-ec2-task.json) plus a
 *     hand-made stopped container; fargate-task.json is hand-made, shaped like AWS's Fargate
 *     example but never checked against it (the published task response could not be retrieved).
 *     The same rules on AWS's published EC2 documents, verbatim: aws-published.test.ts.
 *     https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-examples.html
 *     https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate-examples.html
 */

function read(document: unknown): EcsTaskMetadata {
  const task = readTaskMetadata(document);
  if (task === undefined) throw new Error('not a task document');
  return task;
}

function byEntity(infos: readonly TagInfo[], entity: string): TagInfo {
  const info = infos.find((one) => one.entity === entity);
  if (info === undefined) throw new Error(`no TagInfo for ${entity}`);
  return info;
}

const zoneTags = (info: TagInfo): string[] => info.lowCardTags.filter((tag) => tag.startsWith('availability'));

describe('ecs_service: the task service name, lower-cased', () => {
  it('AWS EC2 example: ServiceName "MyService" gives ecs_service:myservice', () => {
    const curl = byEntity(extractEcsTags(read(taskDocument('ec2-task'))), `container_id://${EC2_CURL_ID}`);
    expect(curl.lowCardTags.filter((tag) => tag.startsWith('ecs_service:'))).toEqual(['ecs_service:myservice']);
  });

  it('Agent case "basic ECS EC2 task": datadog-agent-service', () => {
    const document = { ...taskDocument('ec2-task'), ServiceName: 'datadog-agent-service' };
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${EC2_CURL_ID}`);
    expect(curl.lowCardTags).toContain('ecs_service:datadog-agent-service');
  });

  it('Fargate example (hand-made, fargate-task.json): no ServiceName, no ecs_service', () => {
    const [curl] = extractEcsTags(read(taskDocument('fargate-task')));
    expect(curl?.lowCardTags.some((tag) => tag.startsWith('ecs_service:'))).toBe(false);
  });
});

describe('availability zone: both spellings on Fargate, none on EC2', () => {
  it('Fargate example (hand-made, fargate-task.json, us-west-2a): availability_zone and availability-zone', () => {
    const curl = byEntity(extractEcsTags(read(taskDocument('fargate-task'))), `container_id://${FARGATE_CURL_ID}`);
    expect(new Set(zoneTags(curl))).toEqual(new Set(['availability_zone:us-west-2a', 'availability-zone:us-west-2a']));
  });

  it('Agent case "basic ECS Fargate task" (us-east-1c), LaunchType in any case', () => {
    const document = { ...taskDocument('fargate-task'), AvailabilityZone: 'us-east-1c', LaunchType: 'fargate' };
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${FARGATE_CURL_ID}`);
    expect(new Set(zoneTags(curl))).toEqual(new Set(['availability_zone:us-east-1c', 'availability-zone:us-east-1c']));
  });

  it('AWS EC2 example: AvailabilityZone us-west-2d is in the document, yet the Agent gives no zone tag', () => {
    const document = taskDocument('ec2-task');
    expect(document['AvailabilityZone']).toBe('us-west-2d');
    for (const info of extractEcsTags(read(document))) expect(zoneTags(info)).toEqual([]);
  });

  it('a document without LaunchType is EC2', () => {
    const document = taskDocument('fargate-task');
    delete document['LaunchType'];
    for (const info of extractEcsTags(read(document))) expect(zoneTags(info)).toEqual([]);
  });
});

describe('task tags (withTags): aws: keys dropped, keys and values lower-cased', () => {
  it('Agent case "basic ECS EC2 task"', () => {
    const document = {
      ...taskDocument('ec2-task'),
      TaskTags: { 'aws:ecs:clusterName': 'ecs-cluster', 'aws:ecs:serviceName': 'datadog-agent', owner_team: 'container-integrations' },
      ContainerInstanceTags: { instance_type: 'g4dn.xlarge' },
    };
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${EC2_CURL_ID}`);
    expect(curl.lowCardTags).toEqual(expect.arrayContaining(['owner_team:container-integrations', 'instance_type:g4dn.xlarge']));
    expect(curl.lowCardTags.some((tag) => tag.startsWith('aws:'))).toBe(false);
    expect(curl.lowCardTags).not.toContain('ecs_service:datadog-agent');
  });

  it('lower-cases keys and values (strings.ToLower in addResourceTags)', () => {
    const document = { ...taskDocument('ec2-task'), TaskTags: { Owner_Team: 'Container-Integrations', 'AWS:Not-Reserved': 'Kept' } };
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${EC2_CURL_ID}`);
    // Only the lower-case "aws:" prefix is AWS's: the Agent's check is case-sensitive.
    expect(curl.lowCardTags).toEqual(expect.arrayContaining(['owner_team:container-integrations', 'aws:not-reserved:kept']));
    expect(curl.lowCardTags.some((tag) => tag.startsWith('Owner_Team') || tag.includes('Container-Integrations'))).toBe(false);
  });
});

describe('extractEcsContainerTags: a Fargate container from the task document', () => {
  it('Fargate example (hand-made, fargate-task.json): container name and id, image_name, short_image, image_tag, image_id', () => {
    const infos = extractEcsContainerTags(read(taskDocument('fargate-task')));
    expect(infos).toHaveLength(1);
    const [curl] = infos;
    expect(curl?.entity).toBe(`container_id://${FARGATE_CURL_ID}`);
    expect(curl?.source).toBe('ecs-container');
    expect(new Set(curl?.highCardTags)).toEqual(new Set(['container_name:curl', `container_id:${FARGATE_CURL_ID}`]));
    expect(new Set(curl?.lowCardTags)).toEqual(
      new Set([
        'image_name:111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest',
        'short_image:curltest',
        'image_tag:latest',
        'image_id:sha256:25f3695bedfb454a50f12d127839a68ad3caf91e451c1da073db34c542c4d2cb',
      ]),
    );
    expect(curl?.orchestratorCardTags).toEqual([]);
  });

  it('container_name is the DockerName (the runtime name), not the task definition name', () => {
    const document = taskDocument('fargate-task');
    const [container] = document.Containers;
    if (container === undefined) throw new Error('no container');
    container['DockerName'] = 'ecs-curltest-3-curl-cca48e8dcadd97805600';
    const [curl] = extractEcsContainerTags(read(document));
    expect(curl?.highCardTags).toContain('container_name:ecs-curltest-3-curl-cca48e8dcadd97805600');
  });

  it("an untagged image is 'latest'; a tagged one keeps its tag; never a docker_image", () => {
    const document = taskDocument('fargate-task');
    const [container] = document.Containers;
    if (container === undefined) throw new Error('no container');
    container['Image'] = 'public.ecr.aws/docker/library/nginx:1.25';
    const [tagged] = extractEcsContainerTags(read(document));
    expect(tagged?.lowCardTags).toContain('image_tag:1.25');
    container['Image'] = 'nginx';
    const [untagged] = extractEcsContainerTags(read(document));
    expect(untagged?.lowCardTags).toContain('image_tag:latest');
    expect(untagged?.lowCardTags.some((tag) => tag.startsWith('docker_image:'))).toBe(false);
  });

  it('gives nothing for an EC2 task: its containers are the Docker collector\'s', () => {
    expect(extractEcsContainerTags(read(taskDocument('ec2-task')))).toEqual([]);
  });
});

describe('ecsCollector on Fargate', () => {
  let server: MetadataServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it("emits each container's own TagInfo (source ecs-container) beside the task's (source ecs)", async () => {
    const body = JSON.stringify(taskDocument('fargate-task'));
    const started = await startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body } : { status: 404, body: '{}' }));
    server = started;
    const ecs = ecsCollector({ metadataUri: started.uri });
    const infos = await lastValueFrom(ecs.fetch(`container_id://${FARGATE_CURL_ID}`).pipe(toArray()));
    expect(infos.map((info) => [info.entity, info.source])).toEqual([
      [`container_id://${FARGATE_CURL_ID}`, 'ecs'],
      [`container_id://${FARGATE_CURL_ID}`, 'ecs-container'],
    ]);
    expect(infos[1]?.highCardTags).toContain('container_name:curl');
    expect(ecs.state).toEqual({ status: 'ready', containers: 1 });
  });

  it('emits only the task TagInfos on EC2', async () => {
    const body = JSON.stringify(taskDocument('ec2-task'));
    const started = await startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body } : { status: 404, body: '{}' }));
    server = started;
    const ecs = ecsCollector({ metadataUri: started.uri });
    const infos = await lastValueFrom(ecs.fetch(`container_id://${EC2_CURL_ID}`).pipe(toArray()));
    expect(new Set(infos.map((info) => info.source))).toEqual(new Set(['ecs']));
  });
});
