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
  /** Lines written to streams (keep-alive lines included). */
  readonly streamLines: number;
}

/** The server's live counters (internal; the server hands out copies). */
export interface ServerCounters {
  requests: Record<string, Record<string, number>>;
  unauthorized: number;
  malformed: number;
  openStreams: number;
  streams: number;
  streamsRefused: number;
  streamsCut: number;
  streamsStalled: number;
  streamLines: number;
}

/**
 * Fresh zeroed counters (internal to the server).
 *
 * @example
 * ```ts
 * const counters = createServerCounters();
 * countRequest(counters, 'tags', 200);
 * ```
 */
export function createServerCounters(): ServerCounters {
  return { requests: {}, unauthorized: 0, malformed: 0, openStreams: 0, streams: 0, streamsRefused: 0, streamsCut: 0, streamsStalled: 0, streamLines: 0 };
}

/**
 * Counts one answered request, by route and status.
 *
 * @example
 * ```ts
 * countRequest(counters, 'events', 429);
 * ```
 */
export function countRequest(counters: ServerCounters, route: string, status: number): void {
  const byStatus = (counters.requests[route] ??= {});
  const key = String(status);
  byStatus[key] = (byStatus[key] ?? 0) + 1;
}

/**
 * A copy of the counters, safe to hand out.
 *
 * @example
 * ```ts
 * snapshotServerCounters(counters).requests.tags?.['200'];
 * ```
 */
export function snapshotServerCounters(counters: ServerCounters): ServerTelemetry {
  return {
    ...counters,
    requests: Object.fromEntries(Object.entries(counters.requests).map(([route, byStatus]) => [route, { ...byStatus }])),
  };
}
