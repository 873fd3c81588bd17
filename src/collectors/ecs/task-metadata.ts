/**
 * A container in an ECS task metadata (v4) document; only the fields the tag rules read.
 *
 * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-response.html
 *
 * @example
 * ```ts
 * const container: EcsContainerMetadata = { DockerId: 'ee08638a…', Name: 'curl', KnownStatus: 'RUNNING' };
 * ```
 */
export interface EcsContainerMetadata {
  /** The container runtime's id: the entity is `container_id://<DockerId>`. */
  readonly DockerId?: string;
  /** The name in the task definition (`ecs_container_name`). */
  readonly Name?: string;
  /** The name the runtime gave the container (`container_name` on Fargate). */
  readonly DockerName?: string;
  /** The image reference of the task definition. */
  readonly Image?: string;
  /** The image's digest (`sha256:…`; `image_id` on Fargate). */
  readonly ImageID?: string;
  /** `PENDING`, `RUNNING`, `STOPPED`, … */
  readonly KnownStatus?: string;
  readonly DesiredStatus?: string;
  readonly Type?: string;
  readonly Labels?: Readonly<Record<string, string>>;
}

/**
 * An ECS task metadata (v4) document, from `${ECS_CONTAINER_METADATA_URI_V4}/task` or
 * `/taskWithTags`; only the fields the tag rules read.
 *
 * @example
 * ```ts
 * const task: EcsTaskMetadata = {
 *   Cluster: 'default', TaskARN: 'arn:aws:ecs:us-west-2:111122223333:task/default/158d1c80',
 *   Family: 'curltest', Revision: '26', Containers: [{ DockerId: 'ea32…', Name: 'curl' }],
 * };
 * ```
 */
export interface EcsTaskMetadata {
  /** The cluster's ARN (Fargate) or name (EC2). */
  readonly Cluster?: string;
  readonly TaskARN?: string;
  readonly Family?: string;
  readonly Revision?: string;
  /** The service that started the task, when one did (EC2; `ecs_service`, lower case). */
  readonly ServiceName?: string;
  readonly KnownStatus?: string;
  readonly DesiredStatus?: string;
  readonly AvailabilityZone?: string;
  /** `EC2` or `FARGATE` (absent from old ECS agents: read as EC2, as the Datadog Agent does). */
  readonly LaunchType?: string;
  readonly Containers?: readonly EcsContainerMetadata[];
  /** The task's AWS resource tags (`/taskWithTags` only). */
  readonly TaskTags?: Readonly<Record<string, string>>;
  /** The container instance's AWS resource tags (`/taskWithTags` on EC2 only). */
  readonly ContainerInstanceTags?: Readonly<Record<string, string>>;
}

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(source: Json, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const value = source[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') out[key] = item;
    else if (typeof item === 'number' || typeof item === 'boolean') out[key] = String(item);
  }
  return out;
}

const TASK_FIELDS = [
  'Cluster',
  'TaskARN',
  'Family',
  'Revision',
  'ServiceName',
  'KnownStatus',
  'DesiredStatus',
  'AvailabilityZone',
  'LaunchType',
] as const;
const CONTAINER_FIELDS = ['DockerId', 'Name', 'DockerName', 'Image', 'ImageID', 'KnownStatus', 'DesiredStatus', 'Type'] as const;

/**
 * Reads a task metadata document from parsed JSON, keeping the fields of the expected types;
 * `undefined` when it is not an object with a `Containers` list.
 *
 * @example
 * ```ts
 * const task = readTaskMetadata(JSON.parse(body));
 * if (task === undefined) throw new Error('not a task document');
 * ```
 */
export function readTaskMetadata(document: unknown): EcsTaskMetadata | undefined {
  if (!isObject(document) || !Array.isArray(document['Containers'])) return undefined;
  const containers: EcsContainerMetadata[] = [];
  for (const item of document['Containers'] as unknown[]) {
    if (!isObject(item)) continue;
    const labels = stringMap(item['Labels']);
    containers.push({ ...strings(item, CONTAINER_FIELDS), ...(labels === undefined ? {} : { Labels: labels }) });
  }
  const taskTags = stringMap(document['TaskTags']);
  const instanceTags = stringMap(document['ContainerInstanceTags']);
  return {
    ...strings(document, TASK_FIELDS),
    Containers: containers,
    ...(taskTags === undefined ? {} : { TaskTags: taskTags }),
    ...(instanceTags === undefined ? {} : { ContainerInstanceTags: instanceTags }),
  };
}
