import { containerId } from '../../tagger/entity-id.js';
import type { TagInfo } from '../../tagger/types.js';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { TagBuilder } from '../shared/tag-builder.js';
import type { EcsTaskMetadata } from './task-metadata.js';

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
  tags.addLow('availability_zone', task.AvailabilityZone ?? '');
  tags.addLow('aws_account', arn?.account ?? '');
  for (const [name, value] of Object.entries(task.TaskTags ?? {})) tags.addLow(name, value);
  for (const [name, value] of Object.entries(task.ContainerInstanceTags ?? {})) tags.addLow(name, value);
  tags.addOrchestrator('task_arn', task.TaskARN ?? '');
  return tags;
}

/**
 * The tags of every container of an ECS task, from its task metadata (v4) document: one
 * TagInfo per container, entity `container_id://<DockerId>`, with the task's tags (cluster,
 * family, version, region, availability zone, account, the task's and container instance's AWS
 * tags, `task_arn`) and `ecs_container_name`. Stopped containers are skipped; a container without
 * a `DockerId` (not created yet) has no entity and is reported at debug level.
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
