/**
 * `tagstream tag`, `list` and `watch`: ask a running agent over its socket.
 */
import { type Observable, catchError, endWith, firstValueFrom, ignoreElements, map, of, race, take, tap } from 'rxjs';
import { type IpcEndpoint, resolveEndpoint } from '../ipc/endpoint.js';
import { IpcError, IpcResponseError } from '../ipc/errors.js';
import { type EntitiesResponse, type TagsResponse, entitiesPath, eventsPath, tagsPath } from '../ipc/protocol.js';
import { getJson, streamLines } from '../ipc/transport.js';
import type { CliCommand, QueryConnection } from './command-line.js';
import { CliRuntimeError, CliUsageError } from './errors.js';
import type { CliIo } from './io.js';
import { formatEntities, formatStreamLine, formatTags } from './query-format.js';

/** The longest a one-off query waits for the agent, ms. */
const QUERY_TIMEOUT = 5000;
/** A watched stream silent this long (three keep-alive intervals) is taken for dead, ms. */
const IDLE_TIMEOUT = 45_000;

type QueryCommand = Extract<CliCommand, { command: 'tag' | 'list' | 'watch' }>;

/**
 * Runs a query command against the agent; resolves with the exit code (0), rejects with a
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
  switch (command.command) {
    case 'tag': {
      const answer = await ask(getJson<TagsResponse>(endpoint, tagsPath(command.entity, command.cardinality), { timeout: QUERY_TIMEOUT }), 'tag', endpoint);
      io.out(formatTags(answer, command.json));
      if (!command.json && answer.tags.length === 0) io.err(`no ${command.cardinality} tags for ${command.entity}\n`);
      return 0;
    }
    case 'list': {
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
