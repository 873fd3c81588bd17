import type { ServerResponse } from 'node:http';
import { type Observable, type SchedulerLike, type Subscription, finalize, fromEvent, merge, take, takeUntil } from 'rxjs';
import type { Tagger } from '../tagger/contract.js';
import type { Logger } from '../util/logger.js';
import { scheduleAfter } from '../util/unref-timer.js';
import { type EventLinesOptions, changeLines, currentLine, storedLines } from './event-lines.js';
import { type EventLine, type StreamLine, encodeLine } from './protocol.js';
import { LineQueue } from './event-stream-queue.js';
import type { StreamEvent } from './server-state.js';

/** How the server writes one event stream (internal to the server). */
export interface EventStreamSettings {
  /** How far (bytes) a reader may fall behind on changes before it is cut. */
  readonly maxBacklog: number;
  /** A reader that does not take a write for this long is closed. */
  readonly stallTimeout: number;
  /** The most characters written at once (burst chunks, queued lines): about what a syncing stream holds. */
  readonly chunkBytes: number;
  readonly logger: Logger;
  /** The scheduler of the stall timer. Default: Node timers, `unref()`'d. */
  readonly scheduler: SchedulerLike | undefined;
}

/** A burst yields to the event loop every this many chunks. */
const BURST_TURN = 8;

const CUT: StreamEvent = Object.freeze({ type: 'stream-cut', why: 'cut' });
const STALLED: StreamEvent = Object.freeze({ type: 'stream-cut', why: 'stalled' });
const ENDED: StreamEvent = Object.freeze({ type: 'stream-ended' });

/**
 * Writes one event stream to `res` (headers already sent) until the reader goes, the tagger
 * stops or `closing$` emits; then ends or destroys the response. What happens to the stream (lines,
 * a cut, its end) is told to `report`: the server's state machine counts it (server-state.ts).
 *
 * - One write at a time is in the socket: the next goes only once the socket has taken it.
 * - The burst is pulled from {@link Tagger.storedEntries} a chunk of about `chunkBytes` at a time.
 *   Changes during the burst are remembered by entity only; after the `synced` line each such
 *   entity is written as it is then (`modified`, or `deleted` when gone). So a syncing stream
 *   holds about one chunk, whatever the size of the store, and ten at once about ten.
 * - Then changes wait in the stream's own queue and go out in writes of up to `chunkBytes` (a
 *   longer line in pieces). The reader is cut when the queued bytes, not counting the line it will
 *   read next, pass `maxBacklog`: one line larger than the bound does not cut a reader that reads.
 * - A reader that does not take a write for `stallTimeout` is closed (`streamsStalled`).
 *
 * @example
 * ```ts
 * res.writeHead(200, { 'content-type': 'application/x-ndjson' });
 * writeEventStream(tagger, res, lineOptions, settings, (event) => console.log(event.type), closing$);
 * ```
 */
export function writeEventStream(
  tagger: Pick<Tagger, 'events$' | 'storedTags' | 'storedEntries' | 'storedCompleteness'>,
  res: ServerResponse,
  options: EventLinesOptions,
  settings: EventStreamSettings,
  report: (event: StreamEvent) => void,
  closing$: Observable<void>,
): void {
  new EventStreamWriter(tagger, res, options, settings, report).run(closing$);
}

class EventStreamWriter {
  /** Encoded change lines waiting for the socket. */
  private readonly queue = new LineQueue();
  /**
   * Lines queued and not yet reported: they are reported together when the socket is handed its
   * next piece, or when the stream ends (one report per write, not one per line, on the hot path).
   */
  private unreported = 0;
  /** Entities changed while the burst is written, and whether they exist after the change. */
  private dirty: Map<string, boolean> | undefined = new Map();
  private burst: Iterator<EventLine> | undefined;
  private burstCount = 0;
  /** Chunks of the burst written so far. */
  private chunks = 0;
  /** A write the socket has not taken yet (at most one at a time). */
  private inFlight = false;
  private done = false;
  private stall: Subscription | undefined;

  constructor(
    private readonly tagger: Pick<Tagger, 'events$' | 'storedTags' | 'storedEntries' | 'storedCompleteness'>,
    private readonly res: ServerResponse,
    private readonly options: EventLinesOptions,
    private readonly settings: EventStreamSettings,
    private readonly report: (event: StreamEvent) => void,
  ) {}

  run(closing$: Observable<void>): void {
    const res = this.res;
    // Changes are followed before the store is read, so that none falls between the two.
    changeLines(this.tagger, this.options)
      .pipe(
        takeUntil(merge(fromEvent(res, 'close'), closing$).pipe(take(1))),
        finalize(() => {
          this.finish();
        }),
      )
      .subscribe({
        next: (line) => {
          this.onChange(line);
        },
        error: (error: unknown) => {
          this.settings.logger.error('an event stream failed', { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        },
      });
    if (this.done) return;
    this.burst = storedLines(this.tagger, this.options);
    this.pump();
  }

  private onChange(line: StreamLine): void {
    if (this.done) return;
    const dirty = this.dirty;
    if (dirty !== undefined) {
      // The burst is still being written: it reads each entity as it is when it gets there, and
      // what changed meanwhile is written again after the `synced` line.
      if (line.type !== 'keepalive' && line.type !== 'synced') dirty.set(line.entity, line.type !== 'deleted');
      return;
    }
    this.enqueue(encodeLine(line));
    if (this.checkBacklog()) this.pump();
  }

  private enqueue(text: string): void {
    this.queue.push(text);
    this.unreported += 1;
  }

  /**
   * Cuts the stream when the lines waiting for the reader pass the bound; the line it will read
   * next is not counted, so that one line larger than the bound does not cut a reader that reads.
   * True when the stream goes on.
   */
  private checkBacklog(): boolean {
    if (this.queue.waitingBytes() <= this.settings.maxBacklog) return true;
    this.report(CUT);
    this.settings.logger.warn('cut an event stream whose reader fell behind', { pendingBytes: this.queue.queuedBytes, maxStreamBacklog: this.settings.maxBacklog });
    this.close();
    return false;
  }

  /** Hands the socket its next piece (queued lines, else the next chunk of the burst) when it has taken the last one. */
  private pump(): void {
    if (this.inFlight || this.done || this.res.destroyed) return;
    const text = this.queue.isEmpty() ? this.takeBurst() : this.queue.take(this.settings.chunkBytes);
    if (text.length === 0) return;
    this.inFlight = true;
    this.reportLines();
    this.stall = scheduleAfter(this.settings.stallTimeout, () => {
      this.onStall();
    }, this.settings.scheduler);
    this.res.write(text, (error) => {
      this.inFlight = false;
      this.stall?.unsubscribe();
      this.stall = undefined;
      if (error !== null && error !== undefined) return; // the connection is gone; 'close' ends the stream
      // Every BURST_TURN chunks of a burst, let other sockets and events have their turn (a write
      // the kernel takes at once calls back on the same turn).
      if (this.burst === undefined || ++this.chunks % BURST_TURN !== 0) this.pump();
      else setImmediate(() => {
        this.pump();
      });
    });
  }

  /** The next chunk of the burst; at its end the `synced` line, and what changed meanwhile is queued. */
  private takeBurst(): string {
    const burst = this.burst;
    if (burst === undefined) return '';
    const limit = this.settings.chunkBytes;
    let text = '';
    let lines = 0;
    let next = burst.next();
    while (next.done !== true) {
      text += encodeBurstLine(next.value);
      lines += 1;
      if (text.length >= limit) break;
      next = burst.next();
    }
    this.burstCount += lines;
    if (next.done !== true) {
      this.report({ type: 'lines', count: lines });
      return text;
    }
    this.burst = undefined;
    text += encodeLine({ type: 'synced', entities: this.burstCount });
    this.report({ type: 'lines', count: lines + 1 });
    const dirty = this.dirty ?? new Map<string, boolean>();
    this.dirty = undefined;
    for (const [entity, present] of dirty) this.enqueue(encodeLine(currentLine(this.tagger, entity, present, this.options)));
    if (this.checkBacklog()) return text;
    return '';
  }

  private reportLines(): void {
    if (this.unreported === 0) return;
    this.report({ type: 'lines', count: this.unreported });
    this.unreported = 0;
  }

  private onStall(): void {
    this.stall = undefined;
    if (this.done || !this.inFlight) return;
    this.report(STALLED);
    this.settings.logger.warn('closed an event stream whose reader took nothing', {
      pendingBytes: this.res.writableLength + this.queue.queuedBytes,
      readerStallTimeout: this.settings.stallTimeout,
    });
    this.close();
  }

  /** Destroys the connection (the reader was cut or stalled); `finish` follows from its 'close'. */
  private close(): void {
    this.done = true;
    this.res.destroy();
  }

  private finish(): void {
    this.stall?.unsubscribe();
    this.stall = undefined;
    this.burst = undefined;
    this.dirty = undefined;
    this.reportLines();
    this.report(ENDED);
    // A clean end (the server closes, the tagger stopped): what is queued goes out first.
    if (!this.done && !this.res.writableEnded && !this.res.destroyed) this.res.end(this.queue.takeAll());
    this.done = true;
    this.queue.clear();
  }
}

/**
 * A burst line: the same JSON as {@link encodeLine}, without its cache of encoded tag arrays
 * (worth it for a change sent to every stream; a burst would keep the whole store encoded).
 */
function encodeBurstLine(line: EventLine): string {
  return `${JSON.stringify(line)}\n`;
}
