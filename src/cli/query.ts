/**
 * `tagstream status`, `tag`, `list` and `watch`: ask a running agent over its socket.
 */
import { lstat } from 'node:fs/promises';
import { type Observable, catchError, endWith, firstValueFrom, ignoreElements, map, of, race, take, tap } from 'rxjs';
import { type IpcEndpoint, resolveEndpoint } from '../ipc/endpoint.js';
import { IpcConnectionError, IpcError, IpcResponseError } from '../ipc/errors.js';
import {
  type EntitiesResponse,
  type EntitySourcesResponse,
  type StatusResponse,
  type TagsResponse,
  entitiesPath,
  eventsPath,
  hasSources,
  statusPath,
  tagsPath,
} from '../ipc/protocol.js';
import { getJson, streamLines } from '../ipc/transport.js';
import type { CliCommand, QueryConnection } from './command-line.js';
import { CliRuntimeError, CliUsageError } from './errors.js';
import type { CliIo } from './io.js';
import { formatEntities, formatEntitySources, formatStreamLine, formatTags } from './query-format.js';
import { formatAgentStatus, parseAgentStatus } from './status-report.js';

/** The longest a one-off query waits for the agent, ms. */
const QUERY_TIMEOUT = 5000;
/** A watched stream silent this long (three keep-alive intervals) is taken for dead, ms. */
const IDLE_TIMEOUT = 45_000;

/**
 * The exit code of `tagstream tag` when the entity has no tags at the level asked for (text and
 * `--json` alike): a script tells "no tags" from a failure (1) and a usage error (2).
 *
 * @example
 * ```ts
 * if (code === NO_TAGS_EXIT_CODE) console.warn('untagged');
 * ```
 */
export const NO_TAGS_EXIT_CODE = 3;

/** The width `status` text is cut to when stdout is not a terminal: in effect, never. */
const UNCUT_COLUMNS = 1_000_000;

type QueryCommand = Extract<CliCommand, { command: 'status' | 'tag' | 'list' | 'watch' }>;

/**
 * Runs a query command against the agent; resolves with the exit code (0, or
 * {@link NO_TAGS_EXIT_CODE} when `tag` finds none), rejects with a
 * {@link CliRuntimeError} when the agent cannot be reached or answers with an error, or with a
 * {@link CliUsageError} (exit 2) when the agent refuses the entity id (malformed, or a short id that
 * begins several entities).
 *
 * @example
 * ```ts
 * await runQuery({ command: 'list', prefixes: [], json: true, connection: {} }, processIo());
 * ```
 */
export async function runQuery(command: QueryCommand, io: CliIo): Promise<number> {
  const endpoint = endpointOf(command.connection, io.env);
  await agentThere(command.command, endpoint);
  switch (command.command) {
    case 'status': {
      const answer = await ask(getJson<StatusResponse>(endpoint, statusPath(), { timeout: QUERY_TIMEOUT }), 'status', endpoint);
      const status = parseAgentStatus(answer);
      if (status === undefined) throw new CliRuntimeError('status', `the server at ${endpoint.address} did not answer an agent's status`);
      // Cut to the terminal's width as the agent's screen is; whole lines through a pipe.
      io.out(formatAgentStatus(status, command.json, io.isTTY ? io.columns() : UNCUT_COLUMNS));
      return 0;
    }
    case 'tag': {
      const answer = await ask(getJson<TagsResponse>(endpoint, tagsPath(command.entity, command.cardinality), { timeout: QUERY_TIMEOUT }), 'tag', endpoint);
      io.out(formatTags(answer, command.json));
      if (answer.tags.length > 0) return 0;
      if (!command.json) io.err(`no ${command.cardinality} tags for ${command.entity}\n`);
      return NO_TAGS_EXIT_CODE;
    }
    case 'list': {
      if (command.sources) {
        const answer = await ask(getJson<EntitiesResponse | EntitySourcesResponse>(endpoint, entitiesPath(command.prefixes, { sources: true }), { timeout: QUERY_TIMEOUT }), 'list', endpoint);
        if (!hasSources(answer)) throw new CliRuntimeError('list', `the agent at ${endpoint.address} does not list entities by source: it is older than this command; restart it`);
        io.out(formatEntitySources(answer, command.json));
        return 0;
      }
      const answer = await ask(getJson<EntitiesResponse>(endpoint, entitiesPath(command.prefixes), { timeout: QUERY_TIMEOUT }), 'list', endpoint);
      io.out(formatEntities(answer, command.json));
      return 0;
    }
    case 'watch':
      return watch(command, endpoint, io);
  }
}

function endpointOf(connection: QueryConnection, env: CliIo['env']): IpcEndpoint {
  try {
    return resolveEndpoint(connection, env);
  } catch (error) {
    if (error instanceof IpcError) throw new CliUsageError('connection', 'flag', error.message, { cause: error });
    throw error;
  }
}

/** No socket file: no agent runs there (said plainly, rather than "no token file"). */
async function agentThere(operation: string, endpoint: IpcEndpoint): Promise<void> {
  if (!('socketPath' in endpoint.target)) return;
  const socketPath = endpoint.target.socketPath;
  try {
    await lstat(socketPath);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') throw noAgent(operation, endpoint, error);
    // Anything else (a directory it may not read) is said by the request's own checks.
  }
}

function noAgent(operation: string, endpoint: IpcEndpoint, cause: unknown): CliRuntimeError {
  const where = 'socketPath' in endpoint.target ? endpoint.target.socketPath : endpoint.address;
  return new CliRuntimeError(operation, `no agent at ${where}: start one with \`tagstream agent\``, { cause });
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** The errno code under an IPC error (ECONNREFUSED: a socket file nobody listens on). */
function rootCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; e = e instanceof Error ? e.cause : undefined, depth += 1) {
    const code = codeOf(e);
    if (code !== undefined) return code;
  }
  return undefined;
}

async function ask<T>(answer$: Observable<T>, operation: string, endpoint: IpcEndpoint): Promise<T> {
  try {
    return await firstValueFrom(answer$);
  } catch (error) {
    throw failure(operation, endpoint, error);
  }
}

/** The codes of a 400 that is about the entity asked for: the command line is at fault (exit 2). */
const ENTITY_CODES: ReadonlySet<string | undefined> = new Set(['InvalidEntityId', 'AmbiguousEntityId']);

function failure(operation: string, endpoint: IpcEndpoint, error: unknown): CliRuntimeError | CliUsageError {
  if (error instanceof IpcResponseError && error.status === 400 && ENTITY_CODES.has(error.code)) {
    return new CliUsageError(`tagstream ${operation}`, 'command', error.message, { cause: error });
  }
  if (error instanceof IpcResponseError && error.status === 401) {
    return new CliRuntimeError(operation, `the agent at ${endpoint.address} refused the token (401): check --token, --token-file or TAGSTREAM_TOKEN(_FILE)`, { cause: error });
  }
  // A socket left by an agent that died: nobody listens on it.
  const code = rootCode(error);
  if (error instanceof IpcConnectionError && (code === 'ECONNREFUSED' || code === 'ENOENT')) {
    return noAgent(operation, endpoint, error);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliRuntimeError(operation, `cannot reach the agent at ${endpoint.address}: ${message}`, { cause: error });
}

async function watch(command: Extract<QueryCommand, { command: 'watch' }>, endpoint: IpcEndpoint, io: CliIo): Promise<number> {
  const seen = { synced: false };
  const stream$ = streamLines(endpoint, eventsPath({ cardinality: command.cardinality, prefixes: command.prefixes }), { idleTimeout: IDLE_TIMEOUT }).pipe(
    tap((line) => {
      if (line.type === 'synced') seen.synced = true;
      io.out(formatStreamLine(line, io.now(), command.json));
    }),
    ignoreElements(),
    endWith({ end: 'ended' as const, error: undefined }),
    catchError((error: unknown) => of({ end: 'failed' as const, error })),
  );
  const interrupted$ = io.signals$.pipe(
    take(1),
    map(() => ({ end: 'interrupted' as const, error: undefined })),
  );
  const outcome = await firstValueFrom(race(stream$, interrupted$));
  if (outcome.end === 'interrupted') return 0;
  if (!seen.synced) throw failure('watch', endpoint, outcome.error ?? new Error('the stream ended before the first burst'));
  const why = outcome.error instanceof Error ? `: ${outcome.error.message}` : ' (the stream ended)';
  throw new CliRuntimeError('watch', `the agent at ${endpoint.address} went away${why}`, { cause: outcome.error });
}
