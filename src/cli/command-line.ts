/**
 * The `tagstream` command line: argv, environment and config file -> the command to run, or a usage
 * error. Pure: the config file's text is given, not read.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { checkEntityId } from '../tagger/entity-id.js';
import type { TagCardinality } from '../tagger/types.js';
import { AGENT_FLAG_OPTIONS, type AgentConfig, parseAgentConfig, parseConfigFile } from './agent-config.js';
import { CliUsageError } from './errors.js';

/**
 * The commands of `tagstream`.
 *
 * @example
 * ```ts
 * const topic: CommandName = 'watch';
 * ```
 */
export type CommandName = 'agent' | 'status' | 'tag' | 'list' | 'watch';

/**
 * How a query command reaches the agent: what the flags say; what they leave out comes from
 * `TAGSTREAM_SOCKET`, `TAGSTREAM_TOKEN`, `TAGSTREAM_TOKEN_FILE` and the defaults (see `resolveEndpoint`).
 *
 * @example
 * ```ts
 * const connection: QueryConnection = { socketPath: '/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token' };
 * ```
 */
export interface QueryConnection {
  readonly socketPath?: string;
  readonly url?: string;
  readonly token?: string;
  readonly tokenFile?: string;
}

/**
 * What the command line asks for.
 *
 * @example
 * ```ts
 * const command: CliCommand = { command: 'tag', entity: 'container_id://3f4a', cardinality: 'high', json: false, connection: {} };
 * ```
 */
export type CliCommand =
  | { readonly command: 'help'; readonly topic: CommandName | undefined }
  | { readonly command: 'version' }
  | { readonly command: 'agent'; readonly config: AgentConfig }
  | {
      readonly command: 'tag';
      readonly entity: string;
      readonly cardinality: TagCardinality;
      readonly json: boolean;
      readonly connection: QueryConnection;
    }
  | { readonly command: 'status'; readonly json: boolean; readonly connection: QueryConnection }
  | {
      readonly command: 'list';
      readonly prefixes: readonly string[];
      /** `--sources`: each source's tags, with priority and which source won a name. */
      readonly sources: boolean;
      readonly json: boolean;
      readonly connection: QueryConnection;
    }
  | {
      readonly command: 'watch';
      readonly prefixes: readonly string[];
      readonly cardinality: TagCardinality;
      readonly json: boolean;
      readonly connection: QueryConnection;
    };

/**
 * The variable naming the agent's config file when `--config` is not given.
 *
 * @example
 * ```ts
 * configFileOf(['agent'], { [CONFIG_ENV]: '/etc/tagstream.json' }); // '/etc/tagstream.json'
 * ```
 */
export const CONFIG_ENV = 'TAGSTREAM_CONFIG';

/**
 * Every command, in the order the help lists them.
 *
 * @example
 * ```ts
 * COMMAND_NAMES.includes('status'); // true
 * ```
 */
export const COMMAND_NAMES: readonly CommandName[] = Object.freeze(['agent', 'status', 'tag', 'list', 'watch']);
const COMMANDS = COMMAND_NAMES;

const CONNECTION_OPTIONS = {
  socket: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const QUERY_OPTIONS = {
  tag: { ...CONNECTION_OPTIONS, cardinality: { type: 'string', short: 'c' } },
  status: CONNECTION_OPTIONS,
  list: { ...CONNECTION_OPTIONS, prefix: { type: 'string', multiple: true }, sources: { type: 'boolean' } },
  watch: { ...CONNECTION_OPTIONS, prefix: { type: 'string', multiple: true }, cardinality: { type: 'string', short: 'c' } },
} as const;

/**
 * The config file the agent reads for this command line: `--config`, else `$TAGSTREAM_CONFIG`, else
 * none. Undefined for the other commands.
 *
 * @example
 * ```ts
 * configFileOf(['agent', '--config', 'agent.json'], {}); // 'agent.json'
 * ```
 */
export function configFileOf(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (argv[0] !== 'agent') return undefined;
  for (let i = 1; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') break;
    if (arg === '--config') return argv[i + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  const fromEnv = env[CONFIG_ENV];
  return fromEnv === undefined || fromEnv.length === 0 ? undefined : fromEnv;
}

/**
 * Parses a `tagstream` command line. `configText` is the content of the file {@link configFileOf}
 * names (the caller reads it). Returns the command, or a {@link CliUsageError} saying what is wrong.
 *
 * @example
 * ```ts
 * const parsed = parseCommandLine(['list', '--prefix', 'container_id://', '--json'], process.env);
 * if (parsed instanceof CliUsageError) { console.error(parsed.message); process.exitCode = 2; }
 * ```
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  configText?: string,
): CliCommand | CliUsageError {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { command: 'help', topic: undefined };
  if (first === '--version' || first === '-v' || first === 'version') return { command: 'version' };
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { command: 'help', topic: undefined };
    return isCommand(topic) ? { command: 'help', topic } : unknownCommand(topic);
  }
  if (!isCommand(first)) return unknownCommand(first);
  try {
    return first === 'agent' ? parseAgent(rest, env, configText, configFileOf(argv, env)) : parseQuery(first, rest);
  } catch (error) {
    if (error instanceof CliUsageError) return error;
    throw error;
  }
}

function isCommand(name: string): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name);
}

function unknownCommand(name: string): CliUsageError {
  return new CliUsageError('tagstream', 'command', `unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.join(', ')})`);
}

type FlagValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

function parse(command: CommandName, args: readonly string[], options: ParseArgsConfig['options']): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: options ?? {}, strict: true, allowPositionals: true });
    return { values, positionals };
  } catch (cause) {
    throw new CliUsageError(`tagstream ${command}`, 'command', argumentProblem(cause), { cause });
  }
}

/** What `parseArgs` refused, in one short line of our own (its text suggests `--` and spans lines). */
function argumentProblem(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (option !== undefined && code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`;
  if (option !== undefined && code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return message.includes('does not take an argument') ? `${option} takes no value` : `${option} needs a value`;
  }
  return message.split('\n')[0] ?? message;
}

function parseAgent(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  configText: string | undefined,
  configFile: string | undefined,
): CliCommand {
  const { values, positionals } = parse('agent', args, AGENT_FLAG_OPTIONS);
  if (values.help === true) return { command: 'help', topic: 'agent' };
  if (positionals.length > 0) throw new CliUsageError('tagstream agent', 'command', `unexpected argument ${JSON.stringify(positionals[0])}`);
  let file: Readonly<Record<string, unknown>> | undefined;
  if (configFile !== undefined) {
    if (configText === undefined) throw new CliUsageError(configFile, 'config-file', 'was not read');
    const parsed = parseConfigFile(configText, configFile);
    if (parsed instanceof CliUsageError) throw parsed;
    file = parsed;
  }
  const config = parseAgentConfig(values, env, file, configFile);
  if (config instanceof CliUsageError) throw config;
  return { command: 'agent', config };
}

function parseQuery(command: Exclude<CommandName, 'agent'>, args: readonly string[]): CliCommand {
  const { values, positionals } = parse(command, args, QUERY_OPTIONS[command]);
  const v = values;
  if (v.help === true) return { command: 'help', topic: command };
  const connection = connectionOf(v);
  const json = v.json === true;
  const cardinality = cardinalityOf(v.cardinality);
  if (command === 'tag') {
    if (positionals.length !== 1) {
      throw new CliUsageError('tagstream tag', 'command', positionals.length === 0 ? 'expected an entity, e.g. container_id://3f4a' : `expected one entity, got ${positionals.length}`);
    }
    const entity = positionals[0] ?? '';
    const invalid = checkEntityId(entity);
    if (invalid !== undefined) {
      const quoted = entity.length > 200 ? `${JSON.stringify(entity.slice(0, 200))}…` : JSON.stringify(entity);
      throw new CliUsageError('tagstream tag', 'command', `${quoted} is not an entity id (${invalid.reason}; e.g. container_id://3f4a)`, { cause: invalid });
    }
    return { command, entity, cardinality, json, connection };
  }
  if (positionals.length > 0) throw new CliUsageError(`tagstream ${command}`, 'command', `unexpected argument ${JSON.stringify(positionals[0])}`);
  if (command === 'status') return { command, json, connection };
  const prefixes = Array.isArray(v.prefix) ? v.prefix.filter((p): p is string => typeof p === 'string') : [];
  if (prefixes.some((p) => p.length === 0)) throw new CliUsageError('--prefix', 'flag', 'must not be empty');
  return command === 'list' ? { command, prefixes, sources: v.sources === true, json, connection } : { command, prefixes, cardinality, json, connection };
}

function connectionOf(values: FlagValues): QueryConnection {
  const pick = (flag: string): string | undefined => {
    const value = values[flag];
    if (typeof value !== 'string') return undefined;
    if (value.length === 0) throw new CliUsageError(`--${flag}`, 'flag', 'must not be empty');
    return value;
  };
  const socketPath = pick('socket');
  const url = pick('url');
  const token = pick('token');
  const tokenFile = pick('token-file');
  if (socketPath !== undefined && url !== undefined) throw new CliUsageError('--url', 'flag', 'give --socket or --url, not both');
  if (token !== undefined && tokenFile !== undefined) throw new CliUsageError('--token', 'flag', 'give --token or --token-file, not both');
  if (url !== undefined && !/^http:\/\/[^/]+(\/)?$/.test(url)) throw new CliUsageError('--url', 'flag', `expected http://127.0.0.1:<port>, got ${JSON.stringify(url)}`);
  return {
    ...(socketPath === undefined ? {} : { socketPath }),
    ...(url === undefined ? {} : { url }),
    ...(token === undefined ? {} : { token }),
    ...(tokenFile === undefined ? {} : { tokenFile }),
  };
}

function cardinalityOf(value: FlagValues[string]): TagCardinality {
  if (value === undefined) return 'low';
  if (value === 'low' || value === 'orchestrator' || value === 'high') return value;
  throw new CliUsageError('--cardinality', 'flag', `expected low, orchestrator or high, got ${JSON.stringify(value)}`);
}
