import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ecsCollector, extractEcsContainerTags, extractEcsTags, readTaskMetadata } from '../../../src/collectors/ecs/index.js';
import type { EcsTaskMetadata } from '../../../src/collectors/ecs/index.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';
import { EC2_CURL_ID, EC2_PAUSE_ID, taskDocument } from './fixtures.js';
import { startMetadataServer } from './metadata-server.js';
import type { MetadataServer } from './metadata-server.js';

/*
 * The ECS rules on AWS's own published task metadata v4 documents, not on hand-made ones.
 *
 * Documents (./fixtures, each copied verbatim from a fenced JSON block; retrieved 2026-11-27):
 *   AWS's documentation source, awsdocs/amazon-ecs-developer-guide, file
 *   doc_source/task-metadata-endpoint-v4.md at commit cf5e581179045c141716e76f394773250168d12c
 *   (2023-04-24, the file's last version before the repository was archived on 2023-06-15):
 *   https://github.com/awsdocs/amazon-ecs-developer-guide/blob/cf5e581179045c141716e76f394773250168d12c/doc_source/task-metadata-endpoint-v4.md
 *   That file was the source of
 *   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4.html;
 *   AWS has since moved its examples to "Amazon ECS task metadata v4 examples",
 *   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-examples.html
 *   (not compared here: the stored copy of that page could not be read past its opening).
 *     aws-v4-ec2-task.json                 "Example task metadata response" (/task)
 *     aws-v4-ec2-task-with-tags.json       "Example task with tags metadata response" (/taskWithTags)
 *     aws-v4-ec2-task-with-tags-error.json "Example task with tags with an error metadata response"
 *   ec2-task.json, used by the other tests, is aws-v4-ec2-task.json plus a hand-made stopped
 *   container. No Fargate document is published here: the task response of AWS's Fargate page
 *   (task-metadata-endpoint-v4-fargate-examples.html) could not be retrieved, and fargate-task.json
 *   is hand-made.
 *
 * Expected tags: what the Datadog Agent gives (DataDog/datadog-agent,
 *   comp/core/tagger/collectors/workloadmeta_extract.go@0187f031367582ee9ad3bcbce25dc57a952cdf81,
 *   handleECSTask, fed by comp/core/workloadmeta/collectors/util/ecs_util.go@06d145c3eb4a4665b3b6c55527321699996e732c,
 *   ParseV4Task), minus the differences listed for ECS in docs/collectors.md ("Differences from the
 *   Datadog Agent": no cluster_arn, service_arn, task_definition_arn, no global entity). On EC2:
 *   task_name and task_family (Family), task_version (Revision), region and aws_account (task
 *   ARN), cluster_name and ecs_cluster_name (Cluster), ecs_service (ServiceName, lower case),
 *   ecs_container_name per container, task_arn (orchestrator); no zone tag (Fargate only), even
 *   though AvailabilityZone is in the document; resource tags (TaskTags, ContainerInstanceTags)
 *   as the Agent gives them with ecs_collect_resource_tags_ec2. Every container the task lists is
 *   tagged, the CNI pause container included (the pause filter is the checks', not the tagger's).
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

const CURL = `container_id://${EC2_CURL_ID}`;
const PAUSE = `container_id://${EC2_PAUSE_ID}`;
const TASK_ARN = 'task_arn:arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c';
const TASK_LOW = [
  'task_name:curltest',
  'task_family:curltest',
  'task_version:26',
  'region:us-west-2',
  'aws_account:111122223333',
  'cluster_name:default',
  'ecs_cluster_name:default',
  'ecs_service:myservice',
];
const RESOURCE_TAGS = ['tag-use:task-metadata-endpoint-test', 'tag_key:tag_value'];

describe('the published documents', () => {
  it('aws-v4-ec2-task.json is the document ec2-task.json was made from, without its stopped container', () => {
    const variant = taskDocument('ec2-task');
    const published = taskDocument('aws-v4-ec2-task');
    expect(variant.Containers.map((container) => container['Name'])).toEqual(['~internal~ecs~pause', 'curl', 'config-init']);
    expect({ ...variant, Containers: variant.Containers.slice(0, 2) }).toEqual(published);
  });

  it('the /taskWithTags examples are the /task example with TaskTags and ContainerInstanceTags, or Errors', () => {
    const { TaskTags, ContainerInstanceTags, ...withTags } = taskDocument('aws-v4-ec2-task-with-tags');
    expect(TaskTags).toEqual({ 'tag-use': 'task-metadata-endpoint-test' });
    expect(ContainerInstanceTags).toEqual({ tag_key: 'tag_value' });
    expect(withTags).toEqual(taskDocument('aws-v4-ec2-task'));
    const { Errors, ...withErrors } = taskDocument('aws-v4-ec2-task-with-tags-error');
    expect(Array.isArray(Errors)).toBe(true);
    expect(withErrors).toEqual(taskDocument('aws-v4-ec2-task'));
  });
});

describe('extractEcsTags on AWS\'s EC2 /task example', () => {
  const logger = new RecordingLogger();
  const infos = extractEcsTags(read(taskDocument('aws-v4-ec2-task')), { logger });

  it('tags both containers the task lists, the CNI pause container included, in document order', () => {
    expect(infos.map((info) => [info.entity, info.source])).toEqual([
      [PAUSE, 'ecs'],
      [CURL, 'ecs'],
    ]);
    expect(logger.records).toEqual([]);
  });

  it("gives each container the task's tags and its ecs_container_name, the task ARN at orchestrator cardinality", () => {
    for (const [entity, name] of [
      [PAUSE, '~internal~ecs~pause'],
      [CURL, 'curl'],
    ] as const) {
      const info = byEntity(infos, entity);
      expect(info.lowCardTags).toHaveLength(TASK_LOW.length + 1);
      expect(new Set(info.lowCardTags)).toEqual(new Set([...TASK_LOW, `ecs_container_name:${name}`]));
      expect(info.orchestratorCardTags).toEqual([TASK_ARN]);
      expect(info.highCardTags).toEqual([]);
    }
  });

  it('gives no zone tag on EC2 although the document has AvailabilityZone us-west-2d', () => {
    expect(taskDocument('aws-v4-ec2-task')['AvailabilityZone']).toBe('us-west-2d');
    for (const info of infos) expect(info.lowCardTags.some((tag) => tag.startsWith('availability'))).toBe(false);
  });

  it('extractEcsContainerTags gives nothing: LaunchType EC2, the containers are the Docker collector\'s', () => {
    expect(extractEcsContainerTags(read(taskDocument('aws-v4-ec2-task')))).toEqual([]);
  });
});

describe('extractEcsTags on AWS\'s EC2 /taskWithTags examples', () => {
  it('adds the task\'s and the container instance\'s tags to every container', () => {
    const infos = extractEcsTags(read(taskDocument('aws-v4-ec2-task-with-tags')));
    expect(infos.map((info) => info.entity)).toEqual([PAUSE, CURL]);
    const curl = byEntity(infos, CURL);
    expect(new Set(curl.lowCardTags)).toEqual(new Set([...TASK_LOW, ...RESOURCE_TAGS, 'ecs_container_name:curl']));
    expect(curl.orchestratorCardTags).toEqual([TASK_ARN]);
  });

  it('with Errors (no permission to list the tags): the same tags as from /task, no resource tags', () => {
    const infos = extractEcsTags(read(taskDocument('aws-v4-ec2-task-with-tags-error')));
    expect(infos).toEqual(extractEcsTags(read(taskDocument('aws-v4-ec2-task'))));
  });
});

describe('ecsCollector serving AWS\'s EC2 examples', () => {
  let server: MetadataServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('/task: a look-up for the curl container emits both containers\' TagInfos', async () => {
    const body = JSON.stringify(taskDocument('aws-v4-ec2-task'));
    const started = await startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body } : { status: 404, body: '{}' }));
    server = started;
    const ecs = ecsCollector({ metadataUri: started.uri });
    const infos = await lastValueFrom(ecs.fetch(CURL).pipe(toArray()));
    expect(infos).toEqual(extractEcsTags(read(taskDocument('aws-v4-ec2-task'))));
    expect(ecs.state).toEqual({ status: 'ready', containers: 2 });
    expect(ecs.counters).toEqual({ requests: 1, misses: 0, errors: 0 });
  });

  it('withTags: reads /taskWithTags and gives the resource tags', async () => {
    const body = JSON.stringify(taskDocument('aws-v4-ec2-task-with-tags'));
    const started = await startMetadataServer((path) =>
      path.endsWith('/taskWithTags') ? { status: 200, body } : { status: 404, body: '{}' },
    );
    server = started;
    const ecs = ecsCollector({ metadataUri: started.uri, withTags: true });
    const infos = await lastValueFrom(ecs.fetch(PAUSE).pipe(toArray()));
    expect(started.requests).toEqual(['/v4/0c5d2b8e-2495160603/taskWithTags']);
    expect(infos.map((info) => info.entity)).toEqual([PAUSE, CURL]);
    expect(byEntity(infos, PAUSE).lowCardTags).toEqual(expect.arrayContaining([...RESOURCE_TAGS, 'ecs_container_name:~internal~ecs~pause']));
  });
});
