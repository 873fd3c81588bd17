import { Subject, type Observable } from 'rxjs';
import { followEntries, type Storage, type StoredEntry } from './storage.js';

interface MemoryStream {
  readonly byIndex: Map<number, StoredEntry>;
  /** The stored entries, by ascending index. */
  readonly sorted: StoredEntry[];
  readonly changes: Subject<void>;
}

/** The first position in `sorted` whose index is >= `index`. */
function lowerBound(sorted: readonly StoredEntry[], index: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid]?.index ?? Number.POSITIVE_INFINITY) < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The length of the run of indexes 0, 1, 2, ... at the start of `sorted` (ascending, distinct,
 * non-negative): `sorted[i].index === i` holds exactly on that run, so a binary search finds it.
 */
function contiguousLength(sorted: readonly StoredEntry[]): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]?.index === mid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * An in-memory {@link Storage} for one process (tests, tools, a single-node setup).
 *
 * @example
 * ```ts
 * const storage = memoryStorage();
 * await storage.put({ project: 'p', path: 'a/+/b', index: 0, entries: [bytes] });
 * await storage.get({ project: 'p', path: 'a/+/b' }); // [{ index: 0, data: bytes }]
 * ```
 */
export function memoryStorage(): Storage {
  const streams = new Map<string, MemoryStream>();
  const keyOf = (project: string, path: string): string => `${project}\u0000${path}`;
  const streamFor = (project: string, path: string): MemoryStream => {
    const key = keyOf(project, path);
    let stream = streams.get(key);
    if (stream === undefined) {
      stream = { byIndex: new Map(), sorted: [], changes: new Subject<void>() };
      streams.set(key, stream);
    }
    return stream;
  };
  const read = (project: string, path: string, index: number, limit: number): StoredEntry[] => {
    const stream = streams.get(keyOf(project, path));
    if (stream === undefined) return [];
    const start = lowerBound(stream.sorted, index);
    return stream.sorted.slice(start, start + limit);
  };

  return {
    put({ project, path, index, entries }) {
      const stream = streamFor(project, path);
      let stored = 0;
      entries.forEach((bytes, offset) => {
        const entry: StoredEntry = { index: index + offset, data: bytes.slice() };
        if (stream.byIndex.has(entry.index)) return;
        stream.byIndex.set(entry.index, entry);
        const last = stream.sorted.at(-1);
        if (last === undefined || last.index < entry.index) stream.sorted.push(entry);
        else stream.sorted.splice(lowerBound(stream.sorted, entry.index), 0, entry);
        stored++;
      });
      if (stored > 0) stream.changes.next();
      return Promise.resolve(stored);
    },
    get({ project, path, index = 0, limit = Number.POSITIVE_INFINITY }) {
      return Promise.resolve(read(project, path, index, limit));
    },
    tail(project, path) {
      const stream = streams.get(keyOf(project, path));
      if (stream === undefined) return Promise.resolve(undefined);
      return Promise.resolve(stream.sorted[contiguousLength(stream.sorted) - 1]);
    },
    follow$(request): Observable<StoredEntry> {
      const changes = streamFor(request.project, request.path).changes;
      return followEntries(
        (index, limit) => Promise.resolve(read(request.project, request.path, index, limit)),
        changes.asObservable(),
        request,
      );
    },
  };
}
