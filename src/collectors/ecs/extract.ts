import { containerId } from '../../tagger/entity-id.js';
import type { TagInfo } from '../../tagger/types.js';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { parseImageReference } from '../shared/image-reference.js';
import { TagBuilder } from '../shared/tag-builder.js';
import type { EcsContainerMetadata, EcsTaskMetadata } from './task-metadata.js';

/**
 * Options of {@link extractEcsTags}.
 *
 * @example
 * ```ts
 * const options: EcsExtractOptions = { source: 'ecs_fargate', logger };
 * ```
 */
export interface EcsExtractOptions {
  /** The source written into every TagInfo (default 'ecs'). */
  readonly source?: string;
  /** Where skipped containers are reported (default: silent). */
  readonly logger?: Logger;
}

interface Arn {
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

/** `arn:partition:service:region:account:resource`, or undefined when it is not an ARN. */
function parseArn(value: string): Arn | undefined {
  const parts = value.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return { region: parts[3] ?? '', account: parts[4] ?? '', resource: parts.slice(5).join(':') };
}

/** The cluster name: the last segment of a cluster ARN, or the value itself. */
function clusterName(cluster: string): string {
  const arn = parseArn(cluster);
  if (arn === undefined) return cluster;
  return arn.resource.slice(arn.resource.lastIndexOf('/') + 1);
}

/**
 * True when the task runs on Fargate (`LaunchType`, any case); anything else, an absent launch
 * type included, is EC2, as the Datadog Agent reads it.
 *
 * @example
 * ```ts
 * isFargateTask({ LaunchType: 'FARGATE', Containers: [] }); // true
 * ```
 */
export function isFargateTask(task: EcsTaskMetadata): boolean {
  return (task.LaunchType ?? '').toUpperCase() === 'FARGATE';
}

/**
 * Adds AWS resource tags as the Agent does (`addResourceTags`): keys starting with `aws:` (AWS's
 * own) are dropped, keys and values lower-cased.
 */
function addResourceTags(tags: TagBuilder, resourceTags: Readonly<Record<string, string>> | undefined): void {
  for (const [name, value] of Object.entries(resourceTags ?? {})) {
    if (name.startsWith('aws:')) continue;
    tags.addLow(name.toLowerCase(), value.toLowerCase());
  }
}

function taskTags(task: EcsTaskMetadata): TagBuilder {
  const tags = new TagBuilder();
  const cluster = clusterName(task.Cluster ?? '');
  tags.addLow('ecs_cluster_name', cluster);
  tags.addLow('cluster_name', cluster);
  tags.addLow('task_family', task.Family ?? '');
  tags.addLow('task_name', task.Family ?? '');
  tags.addLow('task_version', task.Revision ?? '');
  const arn = parseArn(task.TaskARN ?? '') ?? parseArn(task.Cluster ?? '');
  tags.addLow('region', arn?.region ?? '');
  if (isFargateTask(task)) {
    // The Agent tags the zone on Fargate only, under both spellings (the underscore one deprecated).
    tags.addLow('availability_zone', task.AvailabilityZone ?? '');
    tags.addLow('availability-zone', task.AvailabilityZone ?? '');
  }
  tags.addLow('aws_account', arn?.account ?? '');
  addResourceTags(tags, task.ContainerInstanceTags);
  addResourceTags(tags, task.TaskTags);
  tags.addLow('ecs_service', (task.ServiceName ?? '').toLowerCase());
  tags.addOrchestrator('task_arn', task.TaskARN ?? '');
  return tags;
}

/**
 * The tags of every container of an ECS task, from its task metadata (v4) document: one
 * TagInfo per container, entity `container_id://<DockerId>`, with the task's tags (cluster,
 * family, version, region, availability zone on Fargate, account, service, the task's and
 * container instance's AWS tags, `task_arn`) and `ecs_container_name`. Stopped containers are
 * skipped; a container without a `DockerId` (not created yet) has no entity and is reported at
 * debug level.
 *
 * @example
 * ```ts
 * const task = readTaskMetadata(await (await fetch(`${uri}/task`)).json());
 * const infos = task === undefined ? [] : extractEcsTags(task);
 * ```
 */
export function extractEcsTags(task: EcsTaskMetadata, options: EcsExtractOptions = {}): TagInfo[] {
  const logger = options.logger ?? silentLogger;
  const source = options.source ?? 'ecs';
  const base = taskTags(task);
  const infos: TagInfo[] = [];
  for (const container of task.Containers ?? []) {
    if (container.KnownStatus === 'STOPPED') continue;
    const dockerId = container.DockerId ?? '';
    if (dockerId.length === 0) {
      logger.debug('ecs: skipping a container without a DockerId (not created yet)', {
        taskArn: task.TaskARN,
        container: container.Name,
        knownStatus: container.KnownStatus,
      });
      continue;
    }
    const tags = base.copy().addLow('ecs_container_name', container.Name ?? '');
    infos.push(tags.toTagInfo(containerId(dockerId), source));
  }
  return infos;
}

/**
 * Options of {@link extractEcsContainerTags}.
 *
 * @example
 * ```ts
 * const options: EcsContainerExtractOptions = { source: 'ecs-container' };
 * ```
 */
export interface EcsContainerExtractOptions {
  /** The source written into every TagInfo (default 'ecs-container'). */
  readonly source?: string;
}

function fargateContainerTags(container: EcsContainerMetadata, dockerId: string): TagBuilder {
  const tags = new TagBuilder();
  tags.addHigh('container_name', container.DockerName ?? '');
  tags.addHigh('container_id', dockerId);
  const image = parseImageReference(container.Image);
  if (image !== undefined) {
    tags.addLow('image_name', image.imageName);
    tags.addLow('short_image', image.shortImage);
    // workloadmeta.NewContainerImage: an untagged image is 'latest'.
    tags.addLow('image_tag', image.imageTag ?? 'latest');
  }
  tags.addLow('image_id', container.ImageID ?? '');
  return tags;
}

/**
 * The container tags of a Fargate task's containers, from the task document alone (there is no
 * Docker daemon to inspect on Fargate): one TagInfo per container, entity
 * `container_id://<DockerId>`, with `container_name` (the `DockerName`) and `container_id` (high),
 * `image_name`, `short_image`, `image_tag` (`latest` when the image has none) and `image_id` (the
 * `ImageID`), as the Datadog Agent builds its Fargate containers. These are the tags a runtime
 * collector gives elsewhere; the task's tags are {@link extractEcsTags}'s. A task that does not
 * run on Fargate gives `[]` (its containers are Docker's); stopped containers and containers
 * without a `DockerId` are skipped.
 *
 * @example
 * ```ts
 * const infos = [...extractEcsTags(task), ...extractEcsContainerTags(task, { source: 'ecs-container' })];
 * ```
 */
export function extractEcsContainerTags(task: EcsTaskMetadata, options: EcsContainerExtractOptions = {}): TagInfo[] {
  if (!isFargateTask(task)) return [];
  const source = options.source ?? 'ecs-container';
  const infos: TagInfo[] = [];
  for (const container of task.Containers ?? []) {
    const dockerId = container.DockerId ?? '';
    if (container.KnownStatus === 'STOPPED' || dockerId.length === 0) continue;
    infos.push(fargateContainerTags(container, dockerId).toTagInfo(containerId(dockerId), source));
  }
  return infos;
}
