/**
 * The agent's configuration: flags, environment and config file resolved into one typed value. Pure:
 * reads nothing but its arguments.
 */
import { join } from 'node:path';
import { defaultSocketPath, isLoopback } from '../ipc/address.js';
import { etcdHostsFromUrl } from '../kvstore/etcd-url.js';
import { CliUsageError } from './errors.js';
import { jsonErrorPosition } from './json-error-position.js';

/**
 * The collectors the agent knows.
 *
 * @example
 * ```ts
 * const name: CollectorName = 'kubernetes';
 * ```
 */
export type CollectorName = 'docker' | 'kubernetes' | 'ecs';

/**
 * Every collector name, in the order the agent shows them.
 *
 * @example
 * ```ts
 * COLLECTOR_NAMES.includes('docker'); // true
 * ```
 */
export const COLLECTOR_NAMES: readonly CollectorName[] = Object.freeze(['docker', 'kubernetes', 'ecs']);

/**
 * A metadata name -> tag name mapping (labels, env or annotations as tags).
 *
 * @example
 * ```ts
 * const labelsAsTags: TagMapping = { 'com.example.team': 'team' };
 * ```
 */
export type TagMapping = Readonly<Record<string, string>>;

/**
 * The key prefix of the shared kvstore when `--kvstore-prefix` is not given: agents with the same
 * prefix on the same etcd share their entities.
 *
 * @example
 * ```ts
 * joinSharedStore({ prefix: DEFAULT_KVSTORE_PREFIX, codec: tagKeyCodec, backend });
 * ```
 */
export const DEFAULT_KVSTORE_PREFIX = 'tagstream/tags/v1';

/**
 * The shared kvstore the agent joins (`--kvstore etcd://host:port` and the `--kvstore-*` options),
 * every default applied but the name (undefined: the agent takes the host name).
 *
 * @example
 * ```ts
 * const kvstore: KvstoreConfig = {
 *   url: 'etcd://10.0.0.1:2379', hosts: ['http://10.0.0.1:2379'], prefix: 'tagstream/tags/v1', name: undefined,
 *   leaseTtl: 15_000, deleteGracePeriod: 5000, joinTimeout: 10_000,
 * };
 * ```
 */
export interface KvstoreConfig {
  /** The URL as given: `etcd://host:port[,host:port...]`. */
  readonly url: string;
  /** The etcd endpoints it names, `http://host:port`. */
  readonly hosts: readonly string[];
  /** The key prefix the agents share (no trailing `/`). */
  readonly prefix: string;
  /** This agent's collaborator name (the host part of its keys); undefined: the host name. */
  readonly name: string | undefined;
  /** The session lease's time to live, ms (etcd rounds it up to whole seconds). */
  readonly leaseTtl: number;
  /** How long another host's deleted key waits before its entity is deleted here, ms (0: at once). */
  readonly deleteGracePeriod: number;
  /** How long the agent waits for etcd at start before it gives up (exit 1), ms. */
  readonly joinTimeout: number;
}

/**
 * The agent's settings, every default applied (see docs/agent.md for each option's flag, variable
 * and config-file key).
 *
 * @example
 * ```ts
 * const config: AgentConfig = parseAgentConfig({ json: true }, process.env, undefined);
 * config.socketPath; // '/run/user/1000/tagstream.sock'
 * ```
 */
export interface AgentConfig {
  /** The unix socket the server listens on. */
  readonly socketPath: string;
  /** The token file: the agent's own (fresh at each start, removed on exit) unless named by the user. */
  readonly tokenFile: string;
  /**
   * The user named the token file (flag, env or config file): a token it holds is theirs and kept
   * (a missing one is generated and removed on exit). An unnamed one is rotated at each start.
   */
  readonly tokenFileExplicit: boolean;
  /** The Docker daemon: `unix:///path` or `tcp://host:port`; whether it was given explicitly. */
  readonly dockerHost: string;
  readonly dockerHostExplicit: boolean;
  /** The kubeconfig file tried when not in a cluster; whether it was given explicitly. */
  readonly kubeconfig: string | undefined;
  readonly kubeconfigExplicit: boolean;
  /** The node whose pods the Kubernetes collector lists. */
  readonly nodeName: string | undefined;
  /** The ECS task metadata endpoint v4. */
  readonly ecsMetadataUri: string | undefined;
  /** Collectors never started, even when detected. */
  readonly disabled: readonly CollectorName[];
  /** Docker labels and Kubernetes pod labels as tags. */
  readonly labelsAsTags: TagMapping;
  /** Docker container environment variables as tags. */
  readonly envAsTags: TagMapping;
  /** Kubernetes pod annotations as tags. */
  readonly annotationsAsTags: TagMapping;
  /** How long deletes are batched before a prune, ms. */
  readonly pruneInterval: number;
  /** How long a stopped Docker container keeps its tags (its last log lines are read after it died), ms. */
  readonly stoppedGrace: number;
  /** Time between two Kubernetes lists, ms. */
  readonly kubernetesPeriod: number;
  /** Time between two `status` JSON lines, ms. */
  readonly statusInterval: number;
  /** JSON lines instead of the live table. */
  readonly json: boolean;
  /** The shared kvstore to publish to and read other hosts' entities from; undefined: none. */
  readonly kvstore: KvstoreConfig | undefined;
  /** Where the web status page listens (`--http host:port`); undefined: no page. */
  readonly http: HttpConfig | undefined;
  /** The config file read, if any. */
  readonly configFile: string | undefined;
}

/**
 * The web status page's address (`--http host:port`), checked: loopback unless `insecureBind`.
 *
 * @example
 * ```ts
 * const http: HttpConfig = { host: '127.0.0.1', port: 8080, insecureBind: false };
 * ```
 */
export interface HttpConfig {
  readonly host: string;
  /** 0: any free port (the agent logs the URL). */
  readonly port: number;
  /** The user insisted on an address that is not loopback (`--http-insecure-bind`). */
  readonly insecureBind: boolean;
}

/**
 * The agent's flags as `node:util` `parseArgs` returns them (strings, repeatable strings, booleans).
 *
 * @example
 * ```ts
 * const flags: AgentFlags = { socket: '/tmp/a.sock', 'label-as-tag': ['team=team'], json: true };
 * ```
 */
export interface AgentFlags {
  readonly [flag: string]: string | boolean | readonly (string | boolean)[] | undefined;
}

/**
 * The `parseArgs` option table of `tagstream agent`.
 *
 * @example
 * ```ts
 * const { values } = parseArgs({ args: ['--json'], options: AGENT_FLAG_OPTIONS });
 * ```
 */
export const AGENT_FLAG_OPTIONS = {
  config: { type: 'string' },
  socket: { type: 'string' },
  'token-file': { type: 'string' },
  'docker-host': { type: 'string' },
  kubeconfig: { type: 'string' },
  'node-name': { type: 'string' },
  'ecs-metadata-uri': { type: 'string' },
  disable: { type: 'string', multiple: true },
  'label-as-tag': { type: 'string', multiple: true },
  'env-as-tag': { type: 'string', multiple: true },
  'annotation-as-tag': { type: 'string', multiple: true },
  'prune-interval': { type: 'string' },
  'stopped-grace': { type: 'string' },
  'kubernetes-period': { type: 'string' },
  'status-interval': { type: 'string' },
  json: { type: 'boolean' },
  kvstore: { type: 'string' },
  'kvstore-prefix': { type: 'string' },
  'kvstore-name': { type: 'string' },
  'kvstore-lease-ttl': { type: 'string' },
  'kvstore-delete-grace': { type: 'string' },
  'kvstore-join-timeout': { type: 'string' },
  http: { type: 'string' },
  'http-insecure-bind': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The keys a config file may hold. */
const FILE_KEYS: ReadonlySet<string> = new Set([
  'socket',
  'tokenFile',
  'dockerHost',
  'kubeconfig',
  'nodeName',
  'ecsMetadataUri',
  'disable',
  'labelsAsTags',
  'envAsTags',
  'annotationsAsTags',
  'pruneInterval',
  'stoppedGrace',
  'kubernetesPeriod',
  'statusInterval',
  'json',
  'kvstore',
  'kvstorePrefix',
  'kvstoreName',
  'kvstoreLeaseTtl',
  'kvstoreDeleteGrace',
  'kvstoreJoinTimeout',
  'http',
  'httpInsecureBind',
]);

/**
 * The Docker socket tried when neither `--docker-host` nor `DOCKER_HOST` is given.
 *
 * @example
 * ```ts
 * dockerTarget(DEFAULT_DOCKER_HOST); // { socketPath: '/var/run/docker.sock' }
 * ```
 */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

type Env = Readonly<Record<string, string | undefined>>;
type FileConfig = Readonly<Record<string, unknown>>;

/** Where a value came from, for error messages. */
interface Given<T> {
  readonly value: T;
  readonly name: string;
  readonly source: 'flag' | 'env' | 'config';
}

/**
 * Parses a config file's text: a JSON object with only known keys. Returns a {@link CliUsageError}
 * (not thrown) for anything else.
 *
 * @example
 * ```ts
 * parseConfigFile('{"socket":"/run/tagstream.sock"}', 'agent.json'); // { socket: '/run/tagstream.sock' }
 * ```
 */
export function parseConfigFile(text: string, path: string): FileConfig | CliUsageError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    // The line and column, which Node's JSON.parse does not always give, then the parser's words.
    const at = jsonErrorPosition(text);
    const where = at === undefined ? path : `${path}, line ${at.line}, column ${at.column}`;
    const why = cause instanceof Error ? (cause.message.split('\n')[0] ?? cause.message) : String(cause);
    return new CliUsageError(where, 'config-file', `not JSON (${why})`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return new CliUsageError(path, 'config-file', 'must hold a JSON object');
  }
  for (const key of Object.keys(parsed)) {
    if (!FILE_KEYS.has(key)) return new CliUsageError(key, 'config', `unknown key in ${path} (known: ${[...FILE_KEYS].join(', ')})`);
  }
  return parsed as FileConfig;
}

/**
 * Resolves the agent's configuration: flags beat environment variables, which beat the config file,
 * which beats the defaults. Returns a {@link CliUsageError} (not thrown) naming the bad flag,
 * variable or key.
 *
 * @example
 * ```ts
 * const config = parseAgentConfig({ 'prune-interval': '500' }, { NODE_NAME: 'node-1' }, { json: true });
 * if (config instanceof CliUsageError) console.error(config.message);
 * else console.log(config.pruneInterval, config.nodeName, config.json); // 500 'node-1' true
 * ```
 */
export function parseAgentConfig(flags: AgentFlags, env: Env, file: FileConfig | undefined, configFile?: string): AgentConfig | CliUsageError {
  try {
    return resolve(flags, env, file ?? {}, configFile);
  } catch (error) {
    if (error instanceof CliUsageError) return error;
    throw error;
  }
}

function resolve(flags: AgentFlags, env: Env, file: FileConfig, configFile: string | undefined): AgentConfig {
  const socket = pickString(flags, 'socket', env, 'TAGSTREAM_SOCKET', file, 'socket');
  const socketPath = socket?.value ?? defaultSocketPath(env);
  const namedTokenFile = pickString(flags, 'token-file', env, 'TAGSTREAM_TOKEN_FILE', file, 'tokenFile');
  const tokenFile = namedTokenFile?.value ?? `${socketPath}.token`;

  const docker = pickString(flags, 'docker-host', env, 'DOCKER_HOST', file, 'dockerHost');
  if (docker !== undefined && !/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d+\/?)$/.test(docker.value)) {
    throw new CliUsageError(docker.name, docker.source, `expected unix:///path/to/docker.sock or tcp://host:port, got ${JSON.stringify(docker.value)}`);
  }
  const kube = pickString(flags, 'kubeconfig', env, 'KUBECONFIG', file, 'kubeconfig');
  const home = nonEmpty(env.HOME);
  const ecs = pickString(flags, 'ecs-metadata-uri', env, 'ECS_CONTAINER_METADATA_URI_V4', file, 'ecsMetadataUri');
  if (ecs !== undefined && !/^https?:\/\/\S+$/.test(ecs.value)) {
    throw new CliUsageError(ecs.name, ecs.source, `expected an http:// URL, got ${JSON.stringify(ecs.value)}`);
  }

  return {
    socketPath,
    tokenFile,
    tokenFileExplicit: namedTokenFile !== undefined,
    dockerHost: docker?.value ?? DEFAULT_DOCKER_HOST,
    dockerHostExplicit: docker !== undefined,
    kubeconfig: kube?.value ?? (home === undefined ? undefined : join(home, '.kube', 'config')),
    kubeconfigExplicit: kube !== undefined,
    nodeName: pickString(flags, 'node-name', env, 'NODE_NAME', file, 'nodeName')?.value,
    ecsMetadataUri: ecs?.value,
    disabled: pickDisabled(flags, env, file),
    labelsAsTags: pickMapping(flags, 'label-as-tag', env, 'TAGSTREAM_LABELS_AS_TAGS', file, 'labelsAsTags'),
    envAsTags: pickMapping(flags, 'env-as-tag', env, 'TAGSTREAM_ENV_AS_TAGS', file, 'envAsTags'),
    annotationsAsTags: pickMapping(flags, 'annotation-as-tag', env, 'TAGSTREAM_ANNOTATIONS_AS_TAGS', file, 'annotationsAsTags'),
    pruneInterval: pickDuration(flags, 'prune-interval', env, 'TAGSTREAM_PRUNE_INTERVAL', file, 'pruneInterval', 1000),
    stoppedGrace: pickDuration(flags, 'stopped-grace', env, 'TAGSTREAM_STOPPED_GRACE', file, 'stoppedGrace', 300_000),
    kubernetesPeriod: pickDuration(flags, 'kubernetes-period', env, 'TAGSTREAM_KUBERNETES_PERIOD', file, 'kubernetesPeriod', 5000),
    statusInterval: pickDuration(flags, 'status-interval', env, 'TAGSTREAM_STATUS_INTERVAL', file, 'statusInterval', 10_000),
    json: pickBoolean(flags, 'json', env, 'TAGSTREAM_JSON', file, 'json'),
    kvstore: pickKvstore(flags, env, file),
    http: pickHttp(flags, env, file),
    configFile,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}

function flagString(flags: AgentFlags, flag: string): string | undefined {
  const value = flags[flag];
  return typeof value === 'string' ? value : undefined;
}

function flagList(flags: AgentFlags, flag: string): string[] | undefined {
  const value = flags[flag];
  if (!Array.isArray(value)) return undefined;
  return value.filter((v): v is string => typeof v === 'string');
}

/** A string from the first place that has one; an empty flag or key is an error, an empty variable is unset. */
function pickString(flags: AgentFlags, flag: string, env: Env, variable: string, file: FileConfig, key: string): Given<string> | undefined {
  const fromFlag = flagString(flags, flag);
  if (fromFlag !== undefined) {
    if (fromFlag.length === 0) throw new CliUsageError(`--${flag}`, 'flag', 'must not be empty');
    return { value: fromFlag, name: `--${flag}`, source: 'flag' };
  }
  const fromEnv = nonEmpty(env[variable]);
  if (fromEnv !== undefined) return { value: fromEnv, name: variable, source: 'env' };
  const fromFile = file[key];
  if (fromFile === undefined) return undefined;
  if (typeof fromFile !== 'string' || fromFile.length === 0) throw new CliUsageError(key, 'config', `expected a non-empty string, got ${JSON.stringify(fromFile)}`);
  return { value: fromFile, name: key, source: 'config' };
}

function pickDuration(flags: AgentFlags, flag: string, env: Env, variable: string, file: FileConfig, key: string, fallback: number, zeroOk = false): number {
  const check = (raw: unknown, name: string, source: Given<unknown>['source']): number => {
    const value = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || (value === 0 && !zeroOk)) {
      throw new CliUsageError(name, source, `expected a ${zeroOk ? 'non-negative' : 'positive'} whole number of milliseconds, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const fromFlag = flagString(flags, flag);
  if (fromFlag !== undefined) return check(fromFlag, `--${flag}`, 'flag');
  const fromEnv = nonEmpty(env[variable]);
  if (fromEnv !== undefined) return check(fromEnv, variable, 'env');
  const fromFile = file[key];
  if (fromFile !== undefined) return check(fromFile, key, 'config');
  return fallback;
}

function pickBoolean(flags: AgentFlags, flag: string, env: Env, variable: string, file: FileConfig, key: string): boolean {
  const fromFlag = flags[flag];
  if (typeof fromFlag === 'boolean') return fromFlag;
  const fromEnv = nonEmpty(env[variable]);
  if (fromEnv !== undefined) {
    if (/^(1|true|yes)$/i.test(fromEnv)) return true;
    if (/^(0|false|no)$/i.test(fromEnv)) return false;
    throw new CliUsageError(variable, 'env', `expected 1/true/yes or 0/false/no, got ${JSON.stringify(fromEnv)}`);
  }
  const fromFile = file[key];
  if (fromFile === undefined) return false;
  if (typeof fromFile !== 'boolean') throw new CliUsageError(key, 'config', `expected true or false, got ${JSON.stringify(fromFile)}`);
  return fromFile;
}

function pickDisabled(flags: AgentFlags, env: Env, file: FileConfig): CollectorName[] {
  const check = (names: readonly unknown[], name: string, source: Given<unknown>['source']): CollectorName[] => {
    const out: CollectorName[] = [];
    for (const n of names) {
      if (typeof n !== 'string' || !(COLLECTOR_NAMES as readonly string[]).includes(n)) {
        throw new CliUsageError(name, source, `expected ${COLLECTOR_NAMES.join(', ')}, got ${JSON.stringify(n)}`);
      }
      if (!out.includes(n as CollectorName)) out.push(n as CollectorName);
    }
    return out;
  };
  const fromFlag = flagList(flags, 'disable');
  if (fromFlag !== undefined && fromFlag.length > 0) return check(fromFlag.flatMap(splitList), '--disable', 'flag');
  const fromEnv = nonEmpty(env.TAGSTREAM_DISABLE);
  if (fromEnv !== undefined) return check(splitList(fromEnv), 'TAGSTREAM_DISABLE', 'env');
  const fromFile = file.disable;
  if (fromFile === undefined) return [];
  if (!Array.isArray(fromFile)) throw new CliUsageError('disable', 'config', `expected an array of ${COLLECTOR_NAMES.join(', ')}`);
  return check(fromFile, 'disable', 'config');
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function pickMapping(flags: AgentFlags, flag: string, env: Env, variable: string, file: FileConfig, key: string): TagMapping {
  const fromFlag = flagList(flags, flag);
  if (fromFlag !== undefined && fromFlag.length > 0) {
    const out: Record<string, string> = {};
    for (const pair of fromFlag) {
      const at = pair.indexOf('=');
      const name = at < 0 ? '' : pair.slice(0, at).trim();
      const tag = at < 0 ? '' : pair.slice(at + 1).trim();
      if (name.length === 0 || tag.length === 0) throw new CliUsageError(`--${flag}`, 'flag', `expected name=tag, got ${JSON.stringify(pair)}`);
      out[name] = tag;
    }
    return Object.freeze(out);
  }
  const fromEnv = nonEmpty(env[variable]);
  if (fromEnv !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fromEnv);
    } catch (cause) {
      throw new CliUsageError(variable, 'env', `expected a JSON object of name -> tag, got ${JSON.stringify(fromEnv)}`, { cause });
    }
    return checkMapping(parsed, variable, 'env');
  }
  const fromFile = file[key];
  return fromFile === undefined ? Object.freeze({}) : checkMapping(fromFile, key, 'config');
}

function checkMapping(value: unknown, name: string, source: Given<unknown>['source']): TagMapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliUsageError(name, source, 'expected a JSON object of name -> tag');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.length === 0 || typeof v !== 'string' || v.length === 0) {
      throw new CliUsageError(name, source, `expected non-empty names and tag names, got ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return Object.freeze(out);
}

/** The `--kvstore-*` options: flag, variable, config key. */
const KVSTORE_OPTIONS = [
  ['kvstore-prefix', 'TAGSTREAM_KVSTORE_PREFIX', 'kvstorePrefix'],
  ['kvstore-name', 'TAGSTREAM_KVSTORE_NAME', 'kvstoreName'],
  ['kvstore-lease-ttl', 'TAGSTREAM_KVSTORE_LEASE_TTL', 'kvstoreLeaseTtl'],
  ['kvstore-delete-grace', 'TAGSTREAM_KVSTORE_DELETE_GRACE', 'kvstoreDeleteGrace'],
  ['kvstore-join-timeout', 'TAGSTREAM_KVSTORE_JOIN_TIMEOUT', 'kvstoreJoinTimeout'],
] as const;

function pickKvstore(flags: AgentFlags, env: Env, file: FileConfig): KvstoreConfig | undefined {
  const url = pickString(flags, 'kvstore', env, 'TAGSTREAM_KVSTORE', file, 'kvstore');
  if (url === undefined) {
    // A kvstore option without the kvstore is a mistake (a typo, a forgotten variable): say so.
    for (const [flag, variable, key] of KVSTORE_OPTIONS) {
      const why = 'has no effect without --kvstore etcd://host:port (TAGSTREAM_KVSTORE, config key "kvstore")';
      if (flagString(flags, flag) !== undefined) throw new CliUsageError(`--${flag}`, 'flag', why);
      if (nonEmpty(env[variable]) !== undefined) throw new CliUsageError(variable, 'env', why);
      if (file[key] !== undefined) throw new CliUsageError(key, 'config', why);
    }
    return undefined;
  }
  const value = url.value.trim();
  if (/^etcds:\/\//i.test(value)) {
    throw new CliUsageError(url.name, url.source, `TLS (etcds://) is not supported by the agent yet (it takes no certificates); use etcd://host:port, got ${JSON.stringify(url.value)}`);
  }
  if (!value.startsWith('etcd://')) throw new CliUsageError(url.name, url.source, `expected etcd://host:port[,host:port...], got ${JSON.stringify(url.value)}`);
  let hosts: string[];
  try {
    hosts = etcdHostsFromUrl(value);
  } catch (cause) {
    const reason = cause instanceof Error && 'reason' in cause && typeof cause.reason === 'string' ? cause.reason : String(cause);
    throw new CliUsageError(url.name, url.source, `expected etcd://host:port[,host:port...]: ${reason}`, { cause });
  }

  const prefix = pickString(flags, 'kvstore-prefix', env, 'TAGSTREAM_KVSTORE_PREFIX', file, 'kvstorePrefix');
  const cleanPrefix = prefix?.value.trim().replace(/\/+$/, '');
  if (prefix !== undefined && (cleanPrefix === undefined || cleanPrefix.length === 0 || /\s/.test(cleanPrefix))) {
    throw new CliUsageError(prefix.name, prefix.source, `expected a key prefix such as ${DEFAULT_KVSTORE_PREFIX}, got ${JSON.stringify(prefix.value)}`);
  }
  const name = pickString(flags, 'kvstore-name', env, 'TAGSTREAM_KVSTORE_NAME', file, 'kvstoreName');
  if (name !== undefined && /[\s/]/.test(name.value)) {
    throw new CliUsageError(name.name, name.source, `expected a name without spaces or '/' (it is the host part of this agent's keys), got ${JSON.stringify(name.value)}`);
  }
  return {
    url: value,
    hosts,
    prefix: cleanPrefix ?? DEFAULT_KVSTORE_PREFIX,
    name: name?.value,
    leaseTtl: pickDuration(flags, 'kvstore-lease-ttl', env, 'TAGSTREAM_KVSTORE_LEASE_TTL', file, 'kvstoreLeaseTtl', 15_000),
    deleteGracePeriod: pickDuration(flags, 'kvstore-delete-grace', env, 'TAGSTREAM_KVSTORE_DELETE_GRACE', file, 'kvstoreDeleteGrace', 5000, true),
    joinTimeout: pickDuration(flags, 'kvstore-join-timeout', env, 'TAGSTREAM_KVSTORE_JOIN_TIMEOUT', file, 'kvstoreJoinTimeout', 10_000),
  };
}

function pickHttp(flags: AgentFlags, env: Env, file: FileConfig): HttpConfig | undefined {
  const given = pickString(flags, 'http', env, 'TAGSTREAM_HTTP', file, 'http');
  const insecureBind = pickBoolean(flags, 'http-insecure-bind', env, 'TAGSTREAM_HTTP_INSECURE_BIND', file, 'httpInsecureBind');
  if (given === undefined) {
    if (insecureBind) throw new CliUsageError('--http-insecure-bind', 'flag', 'has no effect without --http host:port (TAGSTREAM_HTTP, config key "http")');
    return undefined;
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(given.value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || !Number.isInteger(port) || port > 65_535) {
    throw new CliUsageError(given.name, given.source, `expected host:port (such as 127.0.0.1:8080, or [::1]:8080), got ${JSON.stringify(given.value)}`);
  }
  if (!isLoopback(host) && !insecureBind) {
    throw new CliUsageError(
      given.name,
      given.source,
      `${host} is not a loopback address: the page goes over plain HTTP (the token and the session cookie too), so it listens on loopback only; add --http-insecure-bind (TAGSTREAM_HTTP_INSECURE_BIND, config key "httpInsecureBind") to insist`,
    );
  }
  return { host, port, insecureBind };
}
