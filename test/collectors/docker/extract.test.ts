import { readFileSync } from 'node:fs';
import type { ContainerInspectInfo } from 'dockerode';
import { describe, expect, it } from 'vitest';
import { extractDockerTags } from '../../../src/collectors/docker/index.js';
import type { DockerExtractOptions, DockerTags } from '../../../src/collectors/docker/index.js';
import { RecordingLogger } from '../recording-logger.js';

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/inspect-redis.json', import.meta.url), 'utf8'),
) as ContainerInspectInfo;

/** The fixture with its Config replaced in part (labels and env replaced wholesale). */
function inspectWith(patch: { labels?: Record<string, string>; env?: string[]; image?: string; name?: string; imageId?: string }): ContainerInspectInfo {
  return {
    ...fixture,
    Name: patch.name ?? fixture.Name,
    Image: patch.imageId ?? fixture.Image,
    Config: {
      ...fixture.Config,
      Labels: patch.labels ?? fixture.Config.Labels,
      Env: patch.env ?? fixture.Config.Env,
      Image: patch.image ?? fixture.Config.Image,
    },
  };
}

/** A bare container: no labels, only PATH in env, no image id (so no `image_id`). */
function bare(patch: { labels?: Record<string, string>; env?: string[]; image?: string } = {}): ContainerInspectInfo {
  return inspectWith({ labels: {}, env: ['PATH=/usr/bin:/bin'], image: 'redis:7', imageId: '', ...patch });
}

function all(tags: DockerTags): string[] {
  return [...tags.low, ...tags.orchestrator, ...tags.high];
}

describe('extractDockerTags on a real-looking docker inspect', () => {
  const logger = new RecordingLogger();
  const tags = extractDockerTags(fixture, { logger });

  it('gives the expected tags at each cardinality', () => {
    expect(new Set(tags.low)).toEqual(
      new Set([
        'docker_image:registry.example.com:5000/shop/redis:7.2.4',
        'image_name:registry.example.com:5000/shop/redis',
        'short_image:redis',
        'image_tag:7.2.4',
        `image_id:${fixture.Image}`,
        'swarm_service:shop_cache',
        'swarm_namespace:shop',
        'git.repository_url:https://github.com/docker-library/redis',
        'env:prod',
        'service:cache',
        'version:7.2.4',
      ]),
    );
    expect(tags.orchestrator).toEqual([]);
    expect(new Set(tags.high)).toEqual(
      new Set([
        'container_name:shop_cache.1.x7k2m9p4q8r1s5t3v6w0y2z4a',
        `container_id:${fixture.Id}`,
        'team:storefront',
        'tier:1',
      ]),
    );
    expect(logger.records).toEqual([]);
  });

  it('never makes a tag of an environment value that nothing maps', () => {
    expect(all(tags).some((tag) => tag.includes('s3cr3t'))).toBe(false);
    expect(all(tags).some((tag) => tag.includes('GOSU') || tag.includes('1.17'))).toBe(false);
  });

  it('has no duplicates within or across the lists', () => {
    expect(new Set(all(tags)).size).toBe(all(tags).length);
  });
});

describe('extractDockerTags: names and ids', () => {
  it('drops the leading / of the container name, both at high', () => {
    const tags = extractDockerTags(inspectWith({ name: '/web' }));
    expect(tags.high).toContain('container_name:web');
    expect(tags.high).toContain(`container_id:${fixture.Id}`);
    expect(tags.low.some((tag) => tag.startsWith('container_'))).toBe(false);
  });
});

describe('extractDockerTags: image tags', () => {
  it.each([
    ['redis', ['docker_image:redis', 'image_name:redis', 'short_image:redis']],
    ['redis:7.2', ['docker_image:redis:7.2', 'image_name:redis', 'short_image:redis', 'image_tag:7.2']],
    [
      'library/redis@sha256:9f0e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e',
      ['docker_image:library/redis', 'image_name:library/redis', 'short_image:redis'],
    ],
    [
      'gcr.io/proj/team/api:v1.4.2@sha256:9f0e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e',
      ['docker_image:gcr.io/proj/team/api:v1.4.2', 'image_name:gcr.io/proj/team/api', 'short_image:api', 'image_tag:v1.4.2'],
    ],
    [
      'localhost:5000/api',
      ['docker_image:localhost:5000/api', 'image_name:localhost:5000/api', 'short_image:api'],
    ],
  ])('%s', (image, expected) => {
    expect(extractDockerTags(bare({ image })).low).toEqual(expected);
  });

  it('has no image_tag when the reference has no tag', () => {
    expect(extractDockerTags(bare({ image: 'localhost:5000/api' })).low.some((t) => t.startsWith('image_tag:'))).toBe(false);
  });

  const imageId = 'sha256:3b6d2f4c9e1a7b5d8c0e2f4a6b8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0a2b4d';

  it('names an image given by id from its repo tags', () => {
    const tags = extractDockerTags(bare({ image: imageId }), {
      image: { RepoTags: ['<none>:<none>', 'nginx:1.27-alpine', 'nginx:stable'] },
    });
    expect(tags.low).toEqual([
      'docker_image:nginx:1.27-alpine',
      'image_name:nginx',
      'short_image:nginx',
      'image_tag:1.27-alpine',
    ]);
  });

  it('falls back to the repo digests when the image has no repo tag', () => {
    const tags = extractDockerTags(bare({ image: imageId }), {
      image: { RepoTags: [], RepoDigests: ['nginx@sha256:9f0e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e'] },
    });
    expect(tags.low).toEqual(['docker_image:nginx', 'image_name:nginx', 'short_image:nginx']);
  });

  it('gives no image tag for an unresolved image id, and says so in the log', () => {
    const logger = new RecordingLogger();
    const tags = extractDockerTags(bare({ image: imageId }), { logger });
    expect(tags.low).toEqual([]);
    expect(all(tags).some((tag) => tag.includes('3b6d2f4c'))).toBe(false);
    expect(logger.records).toHaveLength(1);
    expect(logger.records[0]?.fields).toMatchObject({ image: imageId, containerId: fixture.Id });
  });
});

describe('extractDockerTags: orchestrator labels and variables', () => {
  it.each<[string, { labels?: Record<string, string>; env?: string[] }, keyof DockerTags, string]>([
    ['swarm service', { labels: { 'com.docker.swarm.service.name': 'web' } }, 'low', 'swarm_service:web'],
    ['swarm namespace', { labels: { 'com.docker.stack.namespace': 'shop' } }, 'low', 'swarm_namespace:shop'],
    ['rancher stack', { labels: { 'io.rancher.stack.name': 'shop' } }, 'low', 'rancher_stack:shop'],
    ['rancher service', { labels: { 'io.rancher.stack_service.name': 'shop/web' } }, 'low', 'rancher_service:shop/web'],
    ['rancher container', { labels: { 'io.rancher.container.name': 'shop-web-1' } }, 'high', 'rancher_container:shop-web-1'],
    ['nomad task', { env: ['NOMAD_TASK_NAME=api'] }, 'low', 'nomad_task:api'],
    ['nomad job', { env: ['NOMAD_JOB_NAME=shop'] }, 'low', 'nomad_job:shop'],
    ['nomad group', { env: ['NOMAD_GROUP_NAME=frontend'] }, 'low', 'nomad_group:frontend'],
    ['marathon app', { env: ['MARATHON_APP_ID=/shop/web'] }, 'low', 'marathon_app:/shop/web'],
    ['chronos job', { env: ['CHRONOS_JOB_NAME=nightly'] }, 'low', 'chronos_job:nightly'],
    ['chronos owner', { env: ['CHRONOS_JOB_OWNER=ops@example.com'] }, 'low', 'chronos_job_owner:ops@example.com'],
    ['mesos task', { env: ['MESOS_TASK_ID=web.1f2e3d4c-5b6a'] }, 'orchestrator', 'mesos_task:web.1f2e3d4c-5b6a'],
    ['DD_ENV', { env: ['DD_ENV=staging'] }, 'low', 'env:staging'],
    ['DD_SERVICE', { env: ['DD_SERVICE=checkout'] }, 'low', 'service:checkout'],
    ['DD_VERSION', { env: ['DD_VERSION=1.2.3'] }, 'low', 'version:1.2.3'],
    ['tags env label', { labels: { 'com.datadoghq.tags.env': 'staging' } }, 'low', 'env:staging'],
    ['tags service label', { labels: { 'com.datadoghq.tags.service': 'checkout' } }, 'low', 'service:checkout'],
    ['tags version label', { labels: { 'com.datadoghq.tags.version': '1.2.3' } }, 'low', 'version:1.2.3'],
    ['ad env label', { labels: { 'com.datadoghq.ad.env': 'staging' } }, 'low', 'env:staging'],
    ['ad service label', { labels: { 'com.datadoghq.ad.service': 'checkout' } }, 'low', 'service:checkout'],
    ['ad version label', { labels: { 'com.datadoghq.ad.version': '1.2.3' } }, 'low', 'version:1.2.3'],
    ['ad tags label', { labels: { 'com.datadoghq.ad.tags': '["owner:team-a", "url:http://x:80"]' } }, 'high', 'url:http://x:80'],
  ])('%s', (_name, patch, cardinality, tag) => {
    const tags = extractDockerTags(bare(patch));
    expect(tags[cardinality]).toContain(tag);
    expect(all(tags).filter((t) => t === tag)).toHaveLength(1);
  });

  it('gives a unified service tag once when two places agree, and both values when they differ', () => {
    const tags = extractDockerTags(
      bare({
        env: ['DD_ENV=prod', 'DD_SERVICE=cart'],
        labels: {
          'com.datadoghq.tags.env': 'prod',
          'com.datadoghq.ad.env': 'prod',
          'com.datadoghq.tags.service': 'cart-v2',
        },
      }),
    );
    expect(tags.low.filter((tag) => tag.startsWith('env:'))).toEqual(['env:prod']);
    expect(new Set(tags.low.filter((tag) => tag.startsWith('service:')))).toEqual(new Set(['service:cart', 'service:cart-v2']));
  });

  it('ignores labels and variables with an empty value', () => {
    const tags = extractDockerTags(bare({ labels: { 'com.docker.swarm.service.name': '' }, env: ['DD_ENV='] }));
    expect(tags.low.filter((tag) => tag.startsWith('swarm_service') || tag.startsWith('env'))).toEqual([]);
  });
});

describe('extractDockerTags: malformed com.datadoghq.ad.tags', () => {
  it.each([
    ['bad JSON', '["team:a", '],
    ['not a list', '{"team": "a"}'],
    ['a number', '42'],
  ])('%s is reported and skipped, the rest of the tags stay', (_name, value) => {
    const logger = new RecordingLogger();
    const tags = extractDockerTags(bare({ labels: { 'com.datadoghq.ad.tags': value, 'com.docker.stack.namespace': 'shop' } }), {
      logger,
    });
    expect(tags.low).toContain('swarm_namespace:shop');
    expect(tags.high).toEqual(['container_name:shop_cache.1.x7k2m9p4q8r1s5t3v6w0y2z4a', `container_id:${fixture.Id}`]);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]?.fields).toMatchObject({ label: 'com.datadoghq.ad.tags', containerId: fixture.Id });
  });

  it('keeps the good items of a list and reports each bad one', () => {
    const logger = new RecordingLogger();
    const tags = extractDockerTags(bare({ labels: { 'com.datadoghq.ad.tags': '["team:a", "novalue", 7, ":x", "y:", "z:1"]' } }), {
      logger,
    });
    expect(tags.high).toContain('team:a');
    expect(tags.high).toContain('z:1');
    expect(tags.high).toHaveLength(4);
    expect(logger.at('warn')).toHaveLength(4);
  });
});

describe('extractDockerTags: labelsAsTags and envAsTags', () => {
  const labels = { 'Team-Owner': 'storefront', 'com.example.Tier': 'gold', 'com.example.zone': 'a' };
  const env = ['PATH=/bin', 'REGION=eu-west-1', 'Shard=7'];
  const cases: [string, DockerExtractOptions, Partial<Record<keyof DockerTags, string[]>>][] = [
    ['a label, case-insensitively, at low', { labelsAsTags: { 'team-owner': 'team' } }, { low: ['team:storefront'] }],
    ['a label at high with +', { labelsAsTags: { 'TEAM-OWNER': '+team' } }, { high: ['team:storefront'] }],
    [
      'every label with * and %%label%% (original name)',
      { labelsAsTags: { '*': 'lbl_%%label%%' } },
      { low: ['lbl_Team-Owner:storefront', 'lbl_com.example.Tier:gold', 'lbl_com.example.zone:a'] },
    ],
    [
      'an exact mapping wins over *',
      { labelsAsTags: { '*': '+all_%%label%%', 'com.example.tier': 'tier' } },
      { low: ['tier:gold'], high: ['all_Team-Owner:storefront', 'all_com.example.zone:a'] },
    ],
    ['a prefix pattern', { labelsAsTags: { 'com.example.*': 'ex_%%label%%' } }, { low: ['ex_com.example.Tier:gold', 'ex_com.example.zone:a'] }],
    ['a variable, case-insensitively', { envAsTags: { region: 'region' } }, { low: ['region:eu-west-1'] }],
    ['a variable at high with +', { envAsTags: { SHARD: '+shard' } }, { high: ['shard:7'] }],
    [
      'every variable with * and %%env%%',
      { envAsTags: { '*': 'env_%%env%%' } },
      { low: ['env_PATH:/bin', 'env_REGION:eu-west-1', 'env_Shard:7'] },
    ],
  ];
  it.each(cases)('maps %s', (_name, options, expected) => {
    const tags = extractDockerTags(bare({ labels, env }), options);
    const imageTags = ['docker_image:redis:7', 'image_name:redis', 'short_image:redis', 'image_tag:7'];
    expect(new Set(tags.low)).toEqual(new Set([...imageTags, ...(expected.low ?? [])]));
    expect(tags.orchestrator).toEqual([]);
    expect(new Set(tags.high)).toEqual(
      new Set([`container_name:shop_cache.1.x7k2m9p4q8r1s5t3v6w0y2z4a`, `container_id:${fixture.Id}`, ...(expected.high ?? [])]),
    );
  });

  it('does not apply a label mapping to variables or the other way round', () => {
    const tags = extractDockerTags(bare({ labels: { region: 'label-value' }, env: ['TEAM-OWNER=env-value'] }), {
      labelsAsTags: { 'team-owner': 'team' },
      envAsTags: { region: 'region' },
    });
    expect(all(tags).some((tag) => tag.includes('label-value') || tag.includes('env-value'))).toBe(false);
  });

  it('reports a mapping with an empty tag name and ignores it', () => {
    const logger = new RecordingLogger();
    const tags = extractDockerTags(bare({ labels }), { labelsAsTags: { 'team-owner': '+' }, logger });
    expect(all(tags).some((tag) => tag.includes('storefront'))).toBe(false);
    expect(logger.at('warn')).toHaveLength(1);
  });

  it('keeps a tag mapped twice once, at the lower cardinality', () => {
    const tags = extractDockerTags(bare({ labels: { team: 'a' }, env: ['TEAM=a'] }), {
      labelsAsTags: { team: '+team' },
      envAsTags: { team: 'team' },
    });
    expect(tags.low).toContain('team:a');
    expect(tags.high).not.toContain('team:a');
  });
});

describe('extractDockerTags: sparse documents', () => {
  it('reads a container with no Config labels or env (null) without throwing', () => {
    const tags = extractDockerTags({ Id: 'abc', Name: '/x', Config: { Image: 'redis', Env: null, Labels: null } });
    expect(tags).toEqual({
      low: ['docker_image:redis', 'image_name:redis', 'short_image:redis'],
      orchestrator: [],
      high: ['container_name:x', 'container_id:abc'],
    });
  });
});
