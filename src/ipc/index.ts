/**
 * tagstream's IPC: serve a Tagger to other processes over HTTP/1.1 on a unix socket (or loopback
 * TCP), and use one from another process with a client that has the Tagger's interface. The
 * protocol is described in docs/ipc.md; a standard-library Python client ships in
 * `src/ipc/python/tagger.py`.
 *
 * @packageDocumentation
 */
export { serveTagger } from './server.js';
export type { ServeTaggerOptions, TaggerServer } from './server.js';
export type { ServerTelemetry } from './server-telemetry.js';
export { createTaggerClient } from './client.js';
export type { ClientConnectionState, ClientTelemetry, TaggerClient, TaggerClientOptions } from './client.js';
export { resolveEndpoint } from './endpoint.js';
export type { IpcEndpoint, IpcEndpointOptions } from './endpoint.js';
export { getJson, streamLines } from './transport.js';
export type { GetJsonOptions, StreamLinesOptions } from './transport.js';
export { eventLines } from './event-lines.js';
export type { EventLinesOptions } from './event-lines.js';
export { ipcMetricsRegistry } from './metrics.js';
export { createMirrorState, mirrorCompleteness, readMirror, reduceMirror } from './mirror.js';
export type { MirrorChange, MirrorEntry, MirrorInput, MirrorState } from './mirror.js';
export {
  IPC_API_PREFIX,
  MAX_PREFIXES,
  MAX_WAIT_PARAM,
  encodeLine,
  entitiesPath,
  errorResponse,
  eventsPath,
  hasSources,
  parseRoute,
  parseStreamLine,
  statusPath,
  tagsPath,
} from './protocol.js';
// Kept here too for clients written against tagstream/ipc alone.
export { isCardinality } from '../tagger/types.js';
export type {
  EntitiesResponse,
  EntitySourcesResponse,
  ErrorResponse,
  EventLine,
  IpcRoute,
  KeepAliveLine,
  RouteLimits,
  StatusResponse,
  StreamLine,
  SyncedLine,
  TagsResponse,
} from './protocol.js';
export { MIN_TOKEN_LENGTH, bearerMatches, checkToken, generateToken, readOrCreateToken, readTokenFile, tokenDigest } from './token.js';
export type { ReadOrCreateTokenOptions, TokenDigest } from './token.js';
export { checkPrivatePath, preparePrivateDirectory } from './private-path.js';
export type { PrivatePathKind } from './private-path.js';
export { SOCKET_ENV, TOKEN_ENV, TOKEN_FILE_ENV, defaultSocketDirectory, defaultSocketPath, defaultTokenFile, isLoopback } from './address.js';
export { IpcConnectionError, IpcError, IpcOptionError, IpcPermissionError, IpcRequestError, IpcResponseError, IpcTokenError } from './errors.js';
