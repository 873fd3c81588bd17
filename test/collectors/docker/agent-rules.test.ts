import { describe, expect, it } from 'vitest';
import { extractDockerTags } from '../../../src/collectors/docker/index.js';
import type { DockerContainerInspect, DockerExtractOptions } from '../../../src/collectors/docker/index.js';

/*
 * The Datadog Agent's own test cases for container tags, each turned into the `docker inspect`
 * document its workloadmeta Docker collector reads, with the Agent's expected tags:
 *
 *   Cases and expectations: DataDog/datadog-agent
 *     comp/core/tagger/collectors/workloadmeta_test.go@0370fdff0005172ddd1b91d51956530dc7924fe0
 *     (TestHandleContainer)
 *   Rules: comp/core/tagger/collectors/workloadmeta_extract.go@0187f031367582ee9ad3bcbce25dc57a952cdf81
 *     (handleContainer, labelsToTags, addOpenTelemetryStandardTags; the label and variable tables)
 *   How inspect fields become the entity: comp/core/workloadmeta/collectors/internal/docker/docker.go
 *     @08f7187776149b93953a99d3b2747e6d179af031 (extractImage: image.ID = inspect.Image; name
 *     without the leading '/'; Config.Env split at the first '=')
 *
 * Every expectation is the Agent test's whole tag list at each cardinality (StandardTags are
 * also low tags in the Agent, see taglist.AddStandard).
 */

const ID = 'foobar';
const NAME = 'foobar';

function inspect(config: { image?: string; labels?: Record<string, string>; env?: Record<string, string> }, imageId?: string): DockerContainerInspect {
  return {
    Id: ID,
    Name: `/${NAME}`,
    ...(imageId === undefined ? {} : { Image: imageId }),
    Config: {
      ...(config.image === undefined ? {} : { Image: config.image }),
      Labels: config.labels ?? {},
      Env: Object.entries(config.env ?? {}).map(([name, value]) => `${name}=${value}`),
    },
  };
}

interface Expected {
  readonly low: readonly string[];
  readonly orchestrator?: readonly string[];
  readonly high?: readonly string[];
}

function expectTags(document: DockerContainerInspect, expected: Expected, options: DockerExtractOptions = {}): void {
  const tags = extractDockerTags(document, options);
  expect(new Set(tags.low)).toEqual(new Set(expected.low));
  expect(tags.low).toHaveLength(expected.low.length);
  expect(new Set(tags.orchestrator)).toEqual(new Set(expected.orchestrator ?? []));
  expect(new Set(tags.high)).toEqual(new Set([`container_name:${NAME}`, `container_id:${ID}`, ...(expected.high ?? [])]));
}

const env = 'production';
const svc = 'datadog-agent';
const version = '7.32.0';
const repositoryURL = 'https://github.com/DataDog/datadog-agent';
const commitSHA = 'ce12f4c957dc5083c390205da435ebf54b9f7dac';
const standardTags = [`env:${env}`, `service:${svc}`, `version:${version}`];
const agentImageId = 'datadog/agent@sha256:a63d3f66fb2f69d955d4f2ca0b229385537a77872ffc04290acae65aed5317d2';

describe('extractDockerTags against the Agent test cases (TestHandleContainer)', () => {
  it('fully formed container: image tags with image_id, standard tags from labels', () => {
    expectTags(
      inspect(
        {
          image: 'datadog/agent:latest',
          labels: {
            'com.datadoghq.tags.env': env,
            'com.datadoghq.tags.service': svc,
            'com.datadoghq.tags.version': version,
          },
        },
        agentImageId,
      ),
      {
        low: [
          'docker_image:datadog/agent:latest',
          'image_name:datadog/agent',
          'image_tag:latest',
          'short_image:agent',
          `image_id:${agentImageId}`,
          ...standardTags,
        ],
      },
    );
  });

  it('tags from environment: DD_* and the source code integration variables', () => {
    expectTags(
      inspect({
        env: {
          TEAM: 'container-integrations',
          TIER: 'node',
          DD_ENV: env,
          DD_SERVICE: svc,
          DD_VERSION: version,
          DD_GIT_REPOSITORY_URL: repositoryURL,
          DD_GIT_COMMIT_SHA: commitSHA,
        },
      }),
      {
        low: ['owner_team:container-integrations', `git.repository_url:${repositoryURL}`, `git.commit.sha:${commitSHA}`, ...standardTags],
      },
      { envAsTags: { team: 'owner_team' } },
    );
  });

  it.each([
    ['opentelemetry sdk', `service.name=${svc},service.version=${version},deployment.environment=${env}`],
    ['OTel new env convention', `service.name=${svc},service.version=${version},deployment.environment.name=${env}`],
    ['opentelemetry sdk with whitespace', `service.name= ${svc}, service.version = ${version} , deployment.environment =${env}`],
  ])('tags from environment with %s', (_name, attributes) => {
    expectTags(
      inspect({ env: { TEAM: 'container-integrations', TIER: 'node', OTEL_SERVICE_NAME: svc, OTEL_RESOURCE_ATTRIBUTES: attributes } }),
      { low: ['owner_team:container-integrations', ...standardTags] },
      { envAsTags: { team: 'owner_team' } },
    );
  });

  it('tags from environment with malformed OTEL_RESOURCE_ATTRIBUTES: nothing from it', () => {
    expectTags(
      inspect({ env: { TEAM: 'container-integrations', TIER: 'node', OTEL_RESOURCE_ATTRIBUTES: `service.name=,  =  , =${env}` } }),
      { low: ['owner_team:container-integrations'] },
      { envAsTags: { team: 'owner_team' } },
    );
  });

  it('DD_* and OTEL_* that disagree: the Agent has no precedence and keeps both values', () => {
    // workloadmeta_extract.go: handleContainer adds standardEnvKeys, then
    // addOpenTelemetryStandardTags, both through TagList.AddStandard, which keeps every value.
    const tags = extractDockerTags(
      inspect({ env: { DD_SERVICE: 'cart', OTEL_SERVICE_NAME: 'cart-otel', OTEL_RESOURCE_ATTRIBUTES: 'service.name=cart-resource,deployment.environment=prod', DD_ENV: 'prod' } }),
    );
    expect(new Set(tags.low)).toEqual(new Set(['service:cart', 'service:cart-otel', 'service:cart-resource', 'env:prod']));
  });

  it('tags from labels: com.datadoghq.ad.tags at high, labels as tags', () => {
    expectTags(
      inspect({ labels: { team: 'container-integrations', tier: 'node', 'com.datadoghq.ad.tags': '["app_name:datadog-agent"]' } }),
      { low: ['owner_team:container-integrations'], high: ['app_name:datadog-agent'] },
      { labelsAsTags: { team: 'owner_team' } },
    );
  });

  it('tags from labels and envs with prefix (using *)', () => {
    expectTags(
      inspect({ labels: { team: 'container-integrations' }, env: { some_env: 'some_env_val' } }),
      { low: ['custom_label_prefix_team:container-integrations', 'custom_env_prefix_some_env:some_env_val'] },
      { labelsAsTags: { '*': 'custom_label_prefix_%%label%%' }, envAsTags: { '*': 'custom_env_prefix_%%env%%' } },
    );
  });

  it('docker container with image that has no tag', () => {
    expectTags(inspect({ image: 'redis' }), { low: ['docker_image:redis', 'image_name:redis', 'short_image:redis'] });
  });

  it('nomad container: task, job, group, namespace and datacenter', () => {
    expectTags(
      inspect({
        env: {
          NOMAD_TASK_NAME: 'test-task',
          NOMAD_JOB_NAME: 'test-job',
          NOMAD_GROUP_NAME: 'test-group',
          NOMAD_NAMESPACE: 'test-namespace',
          NOMAD_DC: 'test-dc',
        },
      }),
      {
        low: ['nomad_task:test-task', 'nomad_job:test-job', 'nomad_group:test-group', 'nomad_namespace:test-namespace', 'nomad_dc:test-dc'],
      },
    );
  });

  it('mesos dc/os container', () => {
    expectTags(
      inspect({
        env: {
          MARATHON_APP_ID: '/system/dd-agent',
          CHRONOS_JOB_NAME: 'app1_process-orders',
          CHRONOS_JOB_OWNER: 'qa',
          MESOS_TASK_ID: 'system_dd-agent.dcc75b42-4b87-11e7-9a62-70b3d5800001',
        },
      }),
      {
        low: ['chronos_job:app1_process-orders', 'chronos_job_owner:qa', 'marathon_app:/system/dd-agent'],
        orchestrator: ['mesos_task:system_dd-agent.dcc75b42-4b87-11e7-9a62-70b3d5800001'],
      },
    );
  });

  it('docker swarm container: the namespace is com.docker.stack.namespace', () => {
    expectTags(
      inspect({
        labels: {
          'com.docker.swarm.node.id': 'zdtab51ei97djzrpa1y2tz8li',
          'com.docker.swarm.service.id': 'tef96xrdmlj82c7nt57jdntl8',
          'com.docker.swarm.service.name': 'helloworld',
          'com.docker.swarm.task': '',
          'com.docker.swarm.task.id': 'knk1rz1szius7pvyznn9zolld',
          'com.docker.swarm.task.name': 'helloworld.1.knk1rz1szius7pvyznn9zolld',
          'com.docker.stack.namespace': 'default',
        },
      }),
      { low: ['swarm_namespace:default', 'swarm_service:helloworld'] },
    );
  });

  it('opencontainers image revision and source', () => {
    expectTags(
      inspect({
        labels: {
          'org.opencontainers.image.revision': '758691a28aa920070651d360814c559bc26af907',
          'org.opencontainers.image.source': 'https://github.com/my-company/repo',
        },
      }),
      { low: ['git.commit.sha:758691a28aa920070651d360814c559bc26af907', 'git.repository_url:https://github.com/my-company/repo'] },
    );
  });

  it('no image_id while the image has no name (an unresolved image id)', () => {
    // docker.go extractImage returns before setting image.ID when the name cannot be resolved.
    const tags = extractDockerTags(inspect({ image: `sha256:${'a'.repeat(64)}` }, `sha256:${'a'.repeat(64)}`));
    expect(tags.low.filter((tag) => tag.startsWith('image_'))).toEqual([]);
  });
});
