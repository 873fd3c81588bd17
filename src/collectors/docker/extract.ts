import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { isImageId, parseImageReference } from '../shared/image-reference.js';
import { parseJsonTagList } from '../shared/json-tags.js';
import { applyMetadataAsTags, compileMetadataAsTags } from '../shared/metadata-as-tags.js';
import type { MetadataAsTags } from '../shared/metadata-as-tags.js';
import { addOpenTelemetryServiceTags } from '../shared/opentelemetry-env.js';
import { TagBuilder } from '../shared/tag-builder.js';
import type { CardinalityTags } from '../shared/tag-builder.js';

/**
 * The part of `docker inspect` (dockerode's `ContainerInspectInfo`) that the tag rules read; a
 * full `ContainerInspectInfo` can be passed as is.
 *
 * @example
 * ```ts
 * const inspect: DockerContainerInspect = {
 *   Id: '8c3d1e7b5a2f', Name: '/cache', Config: { Image: 'redis:7', Env: ['DD_ENV=prod'], Labels: {} },
 * };
 * ```
 */
export interface DockerContainerInspect {
  readonly Id: string;
  /** `/name`, as Docker reports it. */
  readonly Name?: string;
  /** The id of the container's image (`sha256:…`), as `docker inspect` reports it (`image_id`). */
  readonly Image?: string;
  readonly Config?: {
    /** The image as the container was created with it: a reference or an image id. */
    readonly Image?: string;
    /** `NAME=value` strings. */
    readonly Env?: readonly string[] | null;
    readonly Labels?: Readonly<Record<string, string>> | null;
  } | null;
}

/**
 * The names an image id resolves to (the `RepoTags` / `RepoDigests` of `docker image inspect`).
 *
 * @example
 * ```ts
 * const image: DockerImageNames = await docker.getImage(inspect.Image).inspect();
 * extractDockerTags(inspect, { image });
 * ```
 */
export interface DockerImageNames {
  readonly RepoTags?: readonly string[] | null;
  readonly RepoDigests?: readonly string[] | null;
}

/**
 * Options of {@link extractDockerTags}.
 *
 * @example
 * ```ts
 * const options: DockerExtractOptions = { labelsAsTags: { 'com.example.team': '+team' }, logger };
 * ```
 */
export interface DockerExtractOptions {
  /** Label name (case-insensitive, `*` patterns) -> tag name ('+' prefix: high); `%%label%%` in patterns. */
  readonly labelsAsTags?: MetadataAsTags;
  /** Environment variable name (case-insensitive, `*` patterns) -> tag name; `%%env%%` in patterns. */
  readonly envAsTags?: MetadataAsTags;
  /**
   * The container's image as `docker image inspect` names it, used when `Config.Image` is an image
   * id: the first repo tag (or, without one, the first repo digest) names the image.
   */
  readonly image?: DockerImageNames;
  /** Where malformed label values are reported (default: silent). */
  readonly logger?: Logger;
}

/**
 * The tags of one container, by cardinality; each list without duplicates. The entity they
 * belong to is `containerId(inspect.Id)`.
 *
 * @example
 * ```ts
 * const { low, orchestrator, high }: DockerTags = extractDockerTags(inspect);
 * ```
 */
export type DockerTags = CardinalityTags;

/** Labels read as orchestrator tags: label -> [cardinality, tag name]. */
const LABEL_TAGS: readonly (readonly [string, 'low' | 'orchestrator' | 'high', string])[] = [
  ['com.docker.swarm.service.name', 'low', 'swarm_service'],
  ['com.docker.stack.namespace', 'low', 'swarm_namespace'],
  ['io.rancher.stack.name', 'low', 'rancher_stack'],
  ['io.rancher.stack_service.name', 'low', 'rancher_service'],
  ['io.rancher.container.name', 'high', 'rancher_container'],
  // Source code integration: the OCI image annotations, as image labels.
  ['org.opencontainers.image.revision', 'low', 'git.commit.sha'],
  ['org.opencontainers.image.source', 'low', 'git.repository_url'],
];

/** Environment variables read as orchestrator tags: variable -> [cardinality, tag name]. */
const ENV_TAGS: readonly (readonly [string, 'low' | 'orchestrator' | 'high', string])[] = [
  ['NOMAD_TASK_NAME', 'low', 'nomad_task'],
  ['NOMAD_JOB_NAME', 'low', 'nomad_job'],
  ['NOMAD_GROUP_NAME', 'low', 'nomad_group'],
  ['NOMAD_NAMESPACE', 'low', 'nomad_namespace'],
  ['NOMAD_DC', 'low', 'nomad_dc'],
  ['MARATHON_APP_ID', 'low', 'marathon_app'],
  ['CHRONOS_JOB_NAME', 'low', 'chronos_job'],
  ['CHRONOS_JOB_OWNER', 'low', 'chronos_job_owner'],
  ['MESOS_TASK_ID', 'orchestrator', 'mesos_task'],
  ['DD_ENV', 'low', 'env'],
  ['DD_SERVICE', 'low', 'service'],
  ['DD_VERSION', 'low', 'version'],
  ['DD_GIT_COMMIT_SHA', 'low', 'git.commit.sha'],
  ['DD_GIT_REPOSITORY_URL', 'low', 'git.repository_url'],
];

const UNIFIED_SERVICE_TAGS = ['env', 'service', 'version'] as const;

/** The label holding a JSON list of `name:value` tags. */
const AD_TAGS_LABEL = 'com.datadoghq.ad.tags';

function parseEnv(env: readonly string[]): Map<string, string> {
  const vars = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0) vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return vars;
}

function imageReference(
  configImage: string,
  image: DockerImageNames | undefined,
  containerId: string,
  logger: Logger,
): string | undefined {
  if (!isImageId(configImage)) return configImage;
  const named = image?.RepoTags?.find((tag) => tag.length > 0 && tag !== '<none>:<none>');
  const digest = image?.RepoDigests?.find((ref) => ref.length > 0 && !ref.startsWith('<none>@'));
  const resolved = named ?? digest;
  if (resolved === undefined) {
    logger.debug('docker: the container image is an image id with no repo tag; no image tags', {
      containerId,
      image: configImage,
    });
  }
  return resolved;
}

/**
 * The tags of one Docker container from its `docker inspect` document: names and ids, image
 * tags (with `image_id`), orchestrator labels and variables (Swarm, Rancher, Nomad, Marathon,
 * Chronos, Mesos), source code tags (`git.commit.sha`, `git.repository_url`), unified service
 * tags (from `DD_*` variables, labels and OpenTelemetry's variables), the `com.datadoghq.ad.tags`
 * label and the configured label / variable mappings. Environment values never become tags unless a rule or a mapping names them.
 * Malformed label values are reported through `options.logger` and skipped; it never throws.
 *
 * @example
 * ```ts
 * const info = await docker.getContainer(id).inspect();
 * const { low, orchestrator, high } = extractDockerTags(info, { labelsAsTags: { team: 'team' } });
 * const tagInfo: TagInfo = { entity: containerId(info.Id), source: 'docker',
 *   lowCardTags: low, orchestratorCardTags: orchestrator, highCardTags: high };
 * ```
 */
export function extractDockerTags(inspect: DockerContainerInspect, options: DockerExtractOptions = {}): DockerTags {
  const logger = options.logger ?? silentLogger;
  const tags = new TagBuilder();
  const id = typeof inspect.Id === 'string' ? inspect.Id : '';
  const labels = inspect.Config?.Labels ?? {};
  const env = parseEnv(inspect.Config?.Env ?? []);

  tags.addHigh('container_name', (inspect.Name ?? '').replace(/^\//, ''));
  tags.addHigh('container_id', id);

  const configImage = inspect.Config?.Image ?? '';
  const reference = configImage.length > 0 ? imageReference(configImage, options.image, id, logger) : undefined;
  const image = reference === undefined ? undefined : parseImageReference(reference);
  if (image !== undefined) {
    tags.addLow('docker_image', image.dockerImage);
    tags.addLow('image_name', image.imageName);
    tags.addLow('short_image', image.shortImage);
    if (image.imageTag !== undefined) tags.addLow('image_tag', image.imageTag);
    // The Agent tags the image id only once the image has a name (docker collector, extractImage).
    tags.addLow('image_id', typeof inspect.Image === 'string' ? inspect.Image : '');
  }

  for (const [label, cardinality, tagName] of LABEL_TAGS) {
    const value = labels[label];
    if (value !== undefined) tags.add(cardinality, tagName, value);
  }
  for (const [name, cardinality, tagName] of ENV_TAGS) {
    const value = env.get(name);
    if (value !== undefined) tags.add(cardinality, tagName, value);
  }
  addOpenTelemetryServiceTags(tags, env);
  for (const tagName of UNIFIED_SERVICE_TAGS) {
    for (const label of [`com.datadoghq.tags.${tagName}`, `com.datadoghq.ad.${tagName}`]) {
      const value = labels[label];
      if (value !== undefined) tags.addLow(tagName, value);
    }
  }

  const adTags = labels[AD_TAGS_LABEL];
  if (adTags !== undefined) {
    const parsed = parseJsonTagList(adTags);
    for (const [name, value] of parsed.entries) tags.addHigh(name, value);
    for (const problem of parsed.problems) {
      logger.warn(`docker: malformed label ${AD_TAGS_LABEL}: ${problem}`, { containerId: id, label: AD_TAGS_LABEL });
    }
  }

  const labelsAsTags = compileMetadataAsTags(options.labelsAsTags, 'label', logger);
  for (const [name, value] of Object.entries(labels)) applyMetadataAsTags(tags, name, value, labelsAsTags);
  const envAsTags = compileMetadataAsTags(options.envAsTags, 'env', logger);
  for (const [name, value] of env) applyMetadataAsTags(tags, name, value, envAsTags);

  return tags.build();
}
