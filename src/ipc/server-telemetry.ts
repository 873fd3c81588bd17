/**
 * The IPC server's own counters and gauges, as a plain object (JSON-serializable).
 *
 * @example
 * ```ts
 * const t = server.telemetry();
 * console.log(t.openStreams, t.unauthorized, t.streamsCut);
 * ```
 */
export interface ServerTelemetry {
  /** Requests answered, by route (`tags`, `entities`, `events`, `metrics`, `health`, `none`) and HTTP status. */
  readonly requests: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Requests refused with 401 (no token, or a wrong one). */
  readonly unauthorized: number;
  /** Connections closed because they did not speak HTTP, or went over a size limit, before a request was read. */
  readonly malformed: number;
  /** Gauge: event streams open now. */
  readonly openStreams: number;
  /** Event streams opened since start. */
  readonly streams: number;
  /** Streams refused with 429 because `maxStreams` were open. */
  readonly streamsRefused: number;
  /** Streams cut because their reader fell more than `maxStreamBacklog` bytes behind. */
  readonly streamsCut: number;
  /** Streams closed because their reader took nothing for `readerStallTimeout` while lines waited for it. */
  readonly streamsStalled: number;
  /** Gauge: `GET /v1/tags/{entity}?wait=` queries waiting now for their entity to be complete. */
  readonly waitingQueries: number;
  /** Such queries that waited (or are waiting), since start. */
  readonly queryWaits: number;
  /** Such queries answered at once, without waiting, because `maxWaitingQueries` were waiting. */
  readonly queryWaitsRefused: number;
  /** Lines written to streams (keep-alive lines included), counted as each write is handed to the socket, and at a stream's end for what it still held. */
  readonly streamLines: number;
}
