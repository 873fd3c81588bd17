import { describe, expect, it } from 'vitest';
import { extractEcsTags, readTaskMetadata } from '../../../src/collectors/ecs/index.js';
import type { EcsTaskMetadata } from '../../../src/collectors/ecs/index.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';
import { EC2_CURL_ID, EC2_PAUSE_ID, EC2_STOPPED_ID, FARGATE_CURL_ID, taskDocument } from './fixtures.js';

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

const EC2_TASK_ARN = 'arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c';
const EC2_TASK_LOW = [
  'ecs_cluster_name:default',
  'cluster_name:default',
  'task_family:curltest',
  'task_name:curltest',
  'task_version:26',
  'region:us-west-2',
  'aws_account:111122223333',
  'ecs_service:myservice',
];

// ec2-task.json: AWS's published EC2 example plus a hand-made stopped container (fixtures.ts).
describe('extractEcsTags on an EC2 task (AWS documentation example, plus a stopped container)', () => {
  const logger = new RecordingLogger();
  const infos = extractEcsTags(read(taskDocument('ec2-task')), { logger });

  it('gives one TagInfo per container that is not stopped, entity container_id://<DockerId>', () => {
    expect(infos.map((info) => info.entity)).toEqual([`container_id://${EC2_PAUSE_ID}`, `container_id://${EC2_CURL_ID}`]);
    expect(infos.some((info) => info.entity.includes(EC2_STOPPED_ID))).toBe(false);
    expect(infos.every((info) => info.source === 'ecs')).toBe(true);
  });

  it("tags each container with the task's tags and its name", () => {
    const curl = byEntity(infos, `container_id://${EC2_CURL_ID}`);
    expect(new Set(curl.lowCardTags)).toEqual(new Set([...EC2_TASK_LOW, 'ecs_container_name:curl']));
    expect(curl.orchestratorCardTags).toEqual([`task_arn:${EC2_TASK_ARN}`]);
    expect(curl.highCardTags).toEqual([]);
    const pause = byEntity(infos, `container_id://${EC2_PAUSE_ID}`);
    expect(pause.lowCardTags).toContain('ecs_container_name:~internal~ecs~pause');
  });

  it('reports nothing for a complete task', () => {
    expect(logger.records).toEqual([]);
  });
});

// fargate-task.json: hand-made, shaped like AWS's Fargate example, not checked against it (fixtures.ts).
describe('extractEcsTags on a Fargate task (hand-made, shaped like the AWS documentation example)', () => {
  const infos = extractEcsTags(read(taskDocument('fargate-task')));

  it('takes the cluster name from the last segment of the cluster ARN', () => {
    expect(infos).toHaveLength(1);
    const curl = byEntity(infos, `container_id://${FARGATE_CURL_ID}`);
    expect(new Set(curl.lowCardTags)).toEqual(
      new Set([
        'ecs_cluster_name:default',
        'cluster_name:default',
        'task_family:curltest',
        'task_name:curltest',
        'task_version:3',
        'region:us-west-2',
        'availability_zone:us-west-2a',
        'availability-zone:us-west-2a',
        'aws_account:111122223333',
        'ecs_container_name:curl',
      ]),
    );
    expect(curl.orchestratorCardTags).toEqual(['task_arn:arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3']);
  });
});

describe('extractEcsTags: rules', () => {
  it("adds the task's and the container instance's AWS tags (from /taskWithTags) at low, without AWS's own", () => {
    const document = {
      ...taskDocument('ec2-task'),
      TaskTags: { 'tag-use': 'task-metadata-endpoint-test', team: 'payments' },
      ContainerInstanceTags: { tag_key: 'tag_value', 'aws:autoscaling:groupName': 'ecs-asg' },
    };
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${EC2_CURL_ID}`);
    expect(curl.lowCardTags).toEqual(expect.arrayContaining(['tag-use:task-metadata-endpoint-test', 'team:payments', 'tag_key:tag_value']));
    expect(curl.lowCardTags.some((tag) => tag.startsWith('aws:'))).toBe(false);
  });

  it('leaves out region and aws_account when neither the task nor the cluster is an ARN', () => {
    const document = { ...taskDocument('ec2-task'), TaskARN: 'not-an-arn', Cluster: 'default' };
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${EC2_CURL_ID}`);
    expect(curl.lowCardTags.some((tag) => tag.startsWith('region:') || tag.startsWith('aws_account:'))).toBe(false);
    expect(curl.lowCardTags).toContain('cluster_name:default');
  });

  it('takes region and account from the cluster ARN when the task ARN is missing', () => {
    const document = taskDocument('fargate-task');
    delete document['TaskARN'];
    const curl = byEntity(extractEcsTags(read(document)), `container_id://${FARGATE_CURL_ID}`);
    expect(curl.lowCardTags).toEqual(expect.arrayContaining(['region:us-west-2', 'aws_account:111122223333']));
    expect(curl.orchestratorCardTags).toEqual([]);
  });

  it('skips a container without a DockerId (not created yet) and reports it at debug', () => {
    const document = taskDocument('ec2-task');
    document.Containers.push({ Name: 'sidecar', DockerId: '', KnownStatus: 'PENDING', DesiredStatus: 'RUNNING' });
    const logger = new RecordingLogger();
    const infos = extractEcsTags(read(document), { logger });
    expect(infos).toHaveLength(2);
    expect(logger.at('debug')).toHaveLength(1);
    expect(logger.at('debug')[0]?.fields).toMatchObject({ container: 'sidecar', knownStatus: 'PENDING' });
  });

  it('writes the source option into every TagInfo', () => {
    expect(extractEcsTags(read(taskDocument('ec2-task')), { source: 'ecs_fargate' }).map((info) => info.source)).toEqual([
      'ecs_fargate',
      'ecs_fargate',
    ]);
  });
});

describe('readTaskMetadata', () => {
  it.each([null, 'task', 42, [], {}, { Containers: 'none' }])('refuses %j', (document) => {
    expect(readTaskMetadata(document)).toBeUndefined();
  });

  it('keeps fields of the expected types and drops the rest', () => {
    const task = read({
      Cluster: 7,
      Family: 'web',
      Revision: '4',
      TaskTags: { team: 'a', weight: 3, nested: { x: 1 } },
      Containers: [{ DockerId: 'abc', Name: ['not', 'a', 'string'], KnownStatus: 'RUNNING' }, 'not a container'],
    });
    expect(task).toEqual({
      Family: 'web',
      Revision: '4',
      TaskTags: { team: 'a', weight: '3' },
      Containers: [{ DockerId: 'abc', KnownStatus: 'RUNNING' }],
    });
  });
});
