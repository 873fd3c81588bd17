import { describe, expect, it } from 'vitest';
import { type AgentConfig, DEFAULT_DOCKER_HOST, parseAgentConfig, parseConfigFile } from '../../src/cli/agent-config.js';
import { type CliCommand, configFileOf, parseCommandLine } from '../../src/cli/command-line.js';
import { CliUsageError } from '../../src/cli/errors.js';

const BASE_ENV = { XDG_RUNTIME_DIR: '/run/user/1000', HOME: '/home/ada' };

function agent(argv: string[], env: Record<string, string> = BASE_ENV, configText?: string): AgentConfig {
  const parsed = parseCommandLine(['agent', ...argv], env, configText);
  if (parsed instanceof CliUsageError) throw parsed;
  if (parsed.command !== 'agent') throw new Error(`not the agent: ${parsed.command}`);
  return parsed.config;
}

function usageError(argv: string[], env: Record<string, string> = BASE_ENV, configText?: string): CliUsageError {
  const parsed = parseCommandLine(argv, env, configText);
  if (!(parsed instanceof CliUsageError)) throw new Error(`expected a usage error, got ${JSON.stringify(parsed)}`);
  return parsed;
}

describe('parseCommandLine: the agent', () => {
  it('applies the defaults', () => {
    expect(agent([])).toEqual({
      socketPath: '/run/user/1000/tagstream.sock',
      tokenFile: '/run/user/1000/tagstream.sock.token',
      tokenFileExplicit: false,
      stoppedGrace: 300_000,
      dockerHost: DEFAULT_DOCKER_HOST,
      dockerHostExplicit: false,
      kubeconfig: '/home/ada/.kube/config',
      kubeconfigExplicit: false,
      nodeName: undefined,
      ecsMetadataUri: undefined,
      disabled: [],
      labelsAsTags: {},
      envAsTags: {},
      annotationsAsTags: {},
      pruneInterval: 1000,
      kubernetesPeriod: 5000,
      statusInterval: 10_000,
      json: false,
      kvstore: undefined,
      http: undefined,
      configFile: undefined,
    } satisfies AgentConfig);
  });

  it('takes flags over environment variables over the config file over defaults, option by option', () => {
    const file = JSON.stringify({ socket: '/file.sock', pruneInterval: 3000, nodeName: 'file-node', json: true, labelsAsTags: { team: 'team' }, statusInterval: 7000 });
    const env = { ...BASE_ENV, TAGSTREAM_CONFIG: '/etc/tagstream.json', TAGSTREAM_SOCKET: '/env.sock', TAGSTREAM_PRUNE_INTERVAL: '2000', NODE_NAME: 'env-node' };
    const config = agent(['--socket', '/flag.sock', '--node-name', 'flag-node'], env, file);
    expect(config.socketPath).toBe('/flag.sock'); // flag over env over file
    expect(config.tokenFile).toBe('/flag.sock.token'); // derived from the winning socket
    expect(config.tokenFileExplicit).toBe(false); // the agent's own: rotated at each start
    expect(config.nodeName).toBe('flag-node');
    expect(config.pruneInterval).toBe(2000); // env over file
    expect(config.json).toBe(true); // file over default
    expect(config.labelsAsTags).toEqual({ team: 'team' });
    expect(config.statusInterval).toBe(7000);
    expect(config.configFile).toBe('/etc/tagstream.json');
    expect(agent(['--json'], { ...BASE_ENV, TAGSTREAM_JSON: '0' }).json).toBe(true);
    expect(agent([], { ...BASE_ENV, TAGSTREAM_JSON: 'false' }, undefined).json).toBe(false);
  });

  it('reads every option from its variable', () => {
    const config = agent([], {
      ...BASE_ENV,
      TAGSTREAM_SOCKET: '/s.sock',
      TAGSTREAM_TOKEN_FILE: '/t',
      DOCKER_HOST: 'tcp://10.0.0.1:2375',
      KUBECONFIG: '/k',
      NODE_NAME: 'n1',
      ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc',
      TAGSTREAM_DISABLE: 'ecs, kubernetes',
      TAGSTREAM_LABELS_AS_TAGS: '{"team":"team"}',
      TAGSTREAM_ENV_AS_TAGS: '{"REGION":"region"}',
      TAGSTREAM_ANNOTATIONS_AS_TAGS: '{"owner":"+owner"}',
      TAGSTREAM_PRUNE_INTERVAL: '250',
      TAGSTREAM_STOPPED_GRACE: '60000',
      TAGSTREAM_KUBERNETES_PERIOD: '10000',
      TAGSTREAM_STATUS_INTERVAL: '60000',
      TAGSTREAM_JSON: '1',
    });
    expect(config).toMatchObject({
      socketPath: '/s.sock',
      tokenFile: '/t',
      tokenFileExplicit: true,
      stoppedGrace: 60_000,
      dockerHost: 'tcp://10.0.0.1:2375',
      dockerHostExplicit: true,
      kubeconfig: '/k',
      kubeconfigExplicit: true,
      nodeName: 'n1',
      ecsMetadataUri: 'http://169.254.170.2/v4/abc',
      disabled: ['ecs', 'kubernetes'],
      labelsAsTags: { team: 'team' },
      envAsTags: { REGION: 'region' },
      annotationsAsTags: { owner: '+owner' },
      pruneInterval: 250,
      kubernetesPeriod: 10_000,
      statusInterval: 60_000,
      json: true,
    });
  });

  it('reads repeatable flags', () => {
    const config = agent(['--label-as-tag', 'com.example.team=team', '--label-as-tag', 'tier=+tier', '--env-as-tag', 'A=b=c', '--disable', 'docker', '--disable', 'ecs,docker']);
    expect(config.labelsAsTags).toEqual({ 'com.example.team': 'team', tier: '+tier' });
    expect(config.envAsTags).toEqual({ A: 'b=c' });
    expect(config.disabled).toEqual(['docker', 'ecs']);
  });

  it('treats an empty variable as unset', () => {
    expect(agent([], { ...BASE_ENV, TAGSTREAM_SOCKET: '', DOCKER_HOST: '' })).toMatchObject({ socketPath: '/run/user/1000/tagstream.sock', dockerHost: DEFAULT_DOCKER_HOST });
  });

  it.each([
    [['agent', '--prune-interval', '0'], '--prune-interval', 'flag'],
    [['agent', '--prune-interval', '1.5'], '--prune-interval', 'flag'],
    [['agent', '--status-interval', 'ten'], '--status-interval', 'flag'],
    [['agent', '--docker-host', 'docker.sock'], '--docker-host', 'flag'],
    [['agent', '--ecs-metadata-uri', 'ftp://x'], '--ecs-metadata-uri', 'flag'],
    [['agent', '--label-as-tag', 'team'], '--label-as-tag', 'flag'],
    [['agent', '--label-as-tag', '=team'], '--label-as-tag', 'flag'],
    [['agent', '--disable', 'podman'], '--disable', 'flag'],
    [['agent', '--socket', ''], '--socket', 'flag'],
    [['agent', '--kvstore', 'http://127.0.0.1:2379'], '--kvstore', 'flag'],
    [['agent', '--kvstore', 'etcds://127.0.0.1:2379'], '--kvstore', 'flag'],
    [['agent', '--kvstore', 'etcd://'], '--kvstore', 'flag'],
    [['agent', '--kvstore', 'etcd://a b:2379'], '--kvstore', 'flag'],
    [['agent', '--kvstore', 'etcd://e:2379/path'], '--kvstore', 'flag'],
    [['agent', '--kvstore', ''], '--kvstore', 'flag'],
    [['agent', '--kvstore', 'etcd://e:2379', '--kvstore-name', 'a/b'], '--kvstore-name', 'flag'],
    [['agent', '--kvstore', 'etcd://e:2379', '--kvstore-prefix', '/'], '--kvstore-prefix', 'flag'],
    [['agent', '--kvstore', 'etcd://e:2379', '--kvstore-lease-ttl', '0'], '--kvstore-lease-ttl', 'flag'],
    [['agent', '--kvstore', 'etcd://e:2379', '--kvstore-delete-grace=-1'], '--kvstore-delete-grace', 'flag'],
    [['agent', '--kvstore', 'etcd://e:2379', '--kvstore-join-timeout', 'soon'], '--kvstore-join-timeout', 'flag'],
    [['agent', '--kvstore-prefix', 'p'], '--kvstore-prefix', 'flag'],
    [['agent', '--frobnicate'], 'tagstream agent', 'command'],
    [['agent', 'extra'], 'tagstream agent', 'command'],
    [['agent', '--prune-interval'], 'tagstream agent', 'command'],
  ] as const)('refuses %j, naming %s', (argv, option, source) => {
    const error = usageError([...argv]);
    expect(error).toMatchObject({ tag: 'CliUsage', exitCode: 2, option, source });
    expect(error.message.length).toBeGreaterThan(option.length + 5);
  });

  it.each([
    [{ DOCKER_HOST: 'http://x' }, 'DOCKER_HOST'],
    [{ TAGSTREAM_JSON: 'maybe' }, 'TAGSTREAM_JSON'],
    [{ TAGSTREAM_LABELS_AS_TAGS: 'team=team' }, 'TAGSTREAM_LABELS_AS_TAGS'],
    [{ TAGSTREAM_ENV_AS_TAGS: '["a"]' }, 'TAGSTREAM_ENV_AS_TAGS'],
    [{ TAGSTREAM_DISABLE: 'docker,rkt' }, 'TAGSTREAM_DISABLE'],
    [{ TAGSTREAM_KVSTORE: 'redis://a:1' }, 'TAGSTREAM_KVSTORE'],
    [{ TAGSTREAM_KVSTORE: 'etcd://a:1', TAGSTREAM_KVSTORE_LEASE_TTL: '1.5' }, 'TAGSTREAM_KVSTORE_LEASE_TTL'],
    [{ TAGSTREAM_KVSTORE_NAME: 'node-a' }, 'TAGSTREAM_KVSTORE_NAME'],
  ])('refuses the environment %j, naming %s', (extra, option) => {
    const error = usageError(['agent'], { ...BASE_ENV, ...extra });
    expect(error).toMatchObject({ option, source: 'env' });
    expect(error.message).toContain(`environment variable ${option}`);
  });

  it.each([
    ['not json', '/etc/t.json, line 1, column 1', 'config-file'],
    ['[1]', '/etc/t.json', 'config-file'],
    ['{"sockett": "/x"}', 'sockett', 'config'],
    ['{"pruneInterval": -5}', 'pruneInterval', 'config'],
    ['{"json": "yes"}', 'json', 'config'],
    ['{"socket": 3}', 'socket', 'config'],
    ['{"disable": "docker"}', 'disable', 'config'],
    ['{"labelsAsTags": {"team": 1}}', 'labelsAsTags', 'config'],
    ['{"kvstore": "etcd:/e:2379"}', 'kvstore', 'config'],
    ['{"kvstore": 2379}', 'kvstore', 'config'],
    ['{"kvstore": "etcd://e:2379", "kvstoreDeleteGrace": "5s"}', 'kvstoreDeleteGrace', 'config'],
    ['{"kvstoreLeaseTtl": 5000}', 'kvstoreLeaseTtl', 'config'],
  ])('refuses the config file %s, naming %s', (text, option, source) => {
    const error = usageError(['agent', '--config', '/etc/t.json'], BASE_ENV, text);
    expect(error).toMatchObject({ option, source });
  });

  it('names the line and column where the config file stops being JSON', () => {
    const text = '{\n  "socket": "/run/t.sock",\n  "pruneInterval": 10,\n}\n';
    const error = usageError(['agent', '--config', '/etc/t.json'], BASE_ENV, text);
    expect(error).toMatchObject({ option: '/etc/t.json, line 4, column 1', source: 'config-file' });
    expect(error.message).toMatch(/^config file \/etc\/t\.json, line 4, column 1: not JSON \(.+\)$/);
  });

  it('lets a flag win over the file, whose keys are still checked', () => {
    expect(agent(['--config', '/etc/t.json', '--prune-interval', '10'], BASE_ENV, '{"pruneInterval": 20}').pruneInterval).toBe(10);
    expect(usageError(['agent', '--config', '/etc/t.json', '--prune-interval', '10'], BASE_ENV, '{"pruneIntervl": 20}').option).toBe('pruneIntervl');
  });
});

describe('parseCommandLine: the shared kvstore', () => {
  it('is off by default, and takes etcd://host:port with its defaults', () => {
    expect(agent([]).kvstore).toBeUndefined();
    expect(agent(['--kvstore', 'etcd://127.0.0.1:2379']).kvstore).toEqual({
      url: 'etcd://127.0.0.1:2379',
      hosts: ['http://127.0.0.1:2379'],
      prefix: 'tagstream/tags/v1',
      name: undefined, // the agent takes the host name
      leaseTtl: 15_000,
      deleteGracePeriod: 5000,
      joinTimeout: 10_000,
    });
  });

  it('takes several hosts, a default port, and every option from its flag, variable or config key', () => {
    expect(agent(['--kvstore', 'etcd://10.0.0.1:2379,10.0.0.2:23790,etcd-3']).kvstore?.hosts).toEqual(['http://10.0.0.1:2379', 'http://10.0.0.2:23790', 'http://etcd-3:2379']);
    const flags = agent(['--kvstore', 'etcd://e:1', '--kvstore-prefix', 'team/tags/', '--kvstore-name', 'node-a', '--kvstore-lease-ttl', '3000', '--kvstore-delete-grace', '0', '--kvstore-join-timeout', '500']);
    expect(flags.kvstore).toEqual({ url: 'etcd://e:1', hosts: ['http://e:1'], prefix: 'team/tags', name: 'node-a', leaseTtl: 3000, deleteGracePeriod: 0, joinTimeout: 500 });
    const env = agent([], {
      ...BASE_ENV,
      TAGSTREAM_KVSTORE: 'etcd://e:2',
      TAGSTREAM_KVSTORE_PREFIX: 'p',
      TAGSTREAM_KVSTORE_NAME: 'n',
      TAGSTREAM_KVSTORE_LEASE_TTL: '4000',
      TAGSTREAM_KVSTORE_DELETE_GRACE: '100',
      TAGSTREAM_KVSTORE_JOIN_TIMEOUT: '200',
    });
    expect(env.kvstore).toEqual({ url: 'etcd://e:2', hosts: ['http://e:2'], prefix: 'p', name: 'n', leaseTtl: 4000, deleteGracePeriod: 100, joinTimeout: 200 });
    const file = JSON.stringify({ kvstore: 'etcd://e:3', kvstorePrefix: 'q', kvstoreName: 'm', kvstoreLeaseTtl: 5000, kvstoreDeleteGrace: 0, kvstoreJoinTimeout: 300 });
    expect(agent(['--config', '/t.json'], BASE_ENV, file).kvstore).toEqual({ url: 'etcd://e:3', hosts: ['http://e:3'], prefix: 'q', name: 'm', leaseTtl: 5000, deleteGracePeriod: 0, joinTimeout: 300 });
    // Flags over variables over the file, option by option.
    const mixed = agent(['--config', '/t.json', '--kvstore-name', 'flag'], { ...BASE_ENV, TAGSTREAM_KVSTORE: 'etcd://env:4' }, file);
    expect(mixed.kvstore).toMatchObject({ url: 'etcd://env:4', name: 'flag', prefix: 'q', joinTimeout: 300 });
  });

  it('names the bad value and says what is expected', () => {
    expect(usageError(['agent', '--kvstore', 'etcds://e:2379']).message).toContain('TLS (etcds://) is not supported by the agent yet');
    expect(usageError(['agent', '--kvstore', 'e:2379']).message).toBe('--kvstore: expected etcd://host:port[,host:port...], got "e:2379"');
    expect(usageError(['agent', '--kvstore', 'etcd://a b']).message).toContain('invalid host "a b"');
    expect(usageError(['agent'], { ...BASE_ENV, TAGSTREAM_KVSTORE_PREFIX: 'x' }).message).toBe(
      'environment variable TAGSTREAM_KVSTORE_PREFIX: has no effect without --kvstore etcd://host:port (TAGSTREAM_KVSTORE, config key "kvstore")',
    );
  });
});

describe('configFileOf', () => {
  it('finds --config (both spellings), then TAGSTREAM_CONFIG; only for the agent', () => {
    expect(configFileOf(['agent', '--config', 'a.json'], { TAGSTREAM_CONFIG: 'b.json' })).toBe('a.json');
    expect(configFileOf(['agent', '--config=c.json'], {})).toBe('c.json');
    expect(configFileOf(['agent'], { TAGSTREAM_CONFIG: 'b.json' })).toBe('b.json');
    expect(configFileOf(['agent'], { TAGSTREAM_CONFIG: '' })).toBeUndefined();
    expect(configFileOf(['list', '--config', 'a.json'], {})).toBeUndefined();
  });

  it('parseConfigFile accepts every documented key', () => {
    const text = JSON.stringify({
      socket: '/s', tokenFile: '/t', dockerHost: 'unix:///d.sock', kubeconfig: '/k', nodeName: 'n', ecsMetadataUri: 'http://e',
      disable: ['ecs'], labelsAsTags: {}, envAsTags: {}, annotationsAsTags: {}, pruneInterval: 1, kubernetesPeriod: 1, statusInterval: 1, json: false,
      kvstore: 'etcd://e:2379', kvstorePrefix: 'p', kvstoreName: 'n', kvstoreLeaseTtl: 1000, kvstoreDeleteGrace: 0, kvstoreJoinTimeout: 1,
    });
    expect(parseConfigFile(text, 'x.json')).not.toBeInstanceOf(CliUsageError);
    expect(parseAgentConfig({}, {}, parseConfigFile(text, 'x.json') as Record<string, unknown>)).toMatchObject({ socketPath: '/s', tokenFile: '/t', disabled: ['ecs'], kvstore: { url: 'etcd://e:2379', prefix: 'p', name: 'n' } });
  });
});

describe('parseCommandLine: the query commands', () => {
  it('parses tag, list and watch with their connection flags', () => {
    expect(parseCommandLine(['tag', 'container_id://abc', '-c', 'high', '--socket', '/s.sock', '--token-file', '/t'], {})).toEqual({
      command: 'tag',
      entity: 'container_id://abc',
      cardinality: 'high',
      json: false,
      connection: { socketPath: '/s.sock', tokenFile: '/t' },
    } satisfies CliCommand);
    expect(parseCommandLine(['list', '--prefix', 'container_id://', '--prefix', 'kubernetes_pod_uid://', '--json', '--url', 'http://127.0.0.1:5001', '--token', 'x'.repeat(20)], {})).toEqual({
      command: 'list',
      prefixes: ['container_id://', 'kubernetes_pod_uid://'],
      sources: false,
      json: true,
      connection: { url: 'http://127.0.0.1:5001', token: 'x'.repeat(20) },
    });
    expect(parseCommandLine(['watch'], {})).toEqual({ command: 'watch', prefixes: [], cardinality: 'low', json: false, connection: {} });
    expect(parseCommandLine(['list', '--sources', '--prefix', 'ecs_task://'], {})).toEqual({ command: 'list', prefixes: ['ecs_task://'], sources: true, json: false, connection: {} });
    expect(parseCommandLine(['status', '--json', '--socket', '/s.sock'], {})).toEqual({ command: 'status', json: true, connection: { socketPath: '/s.sock' } });
    expect(parseCommandLine(['status', '--help'], {})).toEqual({ command: 'help', topic: 'status' });
    expect(parseCommandLine(['watch', '--help'], {})).toEqual({ command: 'help', topic: 'watch' });
  });

  it.each([
    [['tag'], 'expected an entity'],
    [['tag', 'a', 'b'], 'expected one entity, got 2'],
    [['tag', 'abc'], 'is not an entity id'],
    [['tag', 'container_id://a\u0000b'], 'a character is not printable'],
    [['tag', 'container_id://a\nb'], 'a character is not printable'],
    [['tag', `container_id://${'x'.repeat(4096)}`], 'longer than 4096 characters'],
    [['tag', 'container_id://a', '-c', 'HIGH'], 'expected low, orchestrator or high'],
    [['list', 'extra'], 'unexpected argument "extra"'],
    [['list', '--prefix', ''], 'must not be empty'],
    [['watch', '--socket', '/s', '--url', 'http://127.0.0.1:1'], 'give --socket or --url, not both'],
    [['watch', '--token', 'a', '--token-file', '/t'], 'give --token or --token-file, not both'],
    [['list', '--url', 'https://example.com'], 'expected http://127.0.0.1:<port>'],
    [['help', 'nope'], 'unknown command "nope"'],
  ])('refuses %j: %s', (argv, message) => {
    expect(usageError([...argv]).message).toContain(message);
  });
});
