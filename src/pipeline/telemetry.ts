/**
 * Why an entry or a batch was dropped.
 *
 * @example
 * ```ts
 * telemetry.snapshot().dropped['preprocess-error'];
 * ```
 */
export type DropReason =
  | 'missing-uid'
  | 'invalid-entry'
  | 'preprocess-error'
  | 'preprocess-filtered'
  | 'stale'
  | 'overflow'
  | 'backlog';

/**
 * A point-in-time copy of the pipeline's counters.
 *
 * @example
 * ```ts
 * const { batches, lagMs } = pipeline.telemetry.snapshot();
 * ```
 */
export interface TelemetrySnapshot {
  /** Entries that entered the pipeline, per kind. */
  readonly entriesIn: Readonly<Record<string, number>>;
  /** Environment values and annotations replaced by the redaction marker. */
  readonly scrubbed: number;
  /** Entries dropped, per reason (overflow drops are batches: see `batchesDropped`). */
  readonly dropped: Readonly<Partial<Record<DropReason, number>>>;
  /** Batches dropped on overflow, per processor. */
  readonly batchesDropped: Readonly<Record<string, number>>;
  /** Batches delivered, per processor. */
  readonly batchesDelivered: Readonly<Record<string, number>>;
  /** Processor failures, per processor. */
  readonly processorErrors: Readonly<Record<string, number>>;
  /** Failed list/watch requests, per kind. */
  readonly readerErrors: Readonly<Record<string, number>>;
  /** Batch sizes: how many batches, entries in them, the largest. */
  readonly batches: { readonly count: number; readonly entries: number; readonly max: number };
  /** Lag from a reader's emission to a processor's delivery, ms: the last and the largest seen. */
  readonly lagMs: { readonly last: number; readonly max: number };
}

const bump = (record: Record<string, number>, key: string, by = 1): void => {
  record[key] = (record[key] ?? 0) + by;
};

/**
 * The counters a pipeline keeps: entries in, scrubbed values, drops per reason and processor,
 * batch sizes and lag. Every stage takes one optionally; `snapshot()` reads them.
 *
 * @example
 * ```ts
 * const telemetry = new PipelineTelemetry();
 * entries$.pipe(scrubSecrets({ telemetry }), batch({ maxItems: 500, maxTime: 1000, telemetry }));
 * telemetry.snapshot().batches.max; // <= 500
 * ```
 */
export class PipelineTelemetry {
  private readonly entriesIn: Record<string, number> = {};
  private scrubbedCount = 0;
  private readonly drops: Partial<Record<DropReason, number>> = {};
  private readonly batchesDroppedBy: Record<string, number> = {};
  private readonly deliveredTo: Record<string, number> = {};
  private readonly processorErrorsBy: Record<string, number> = {};
  private readonly readerErrorsBy: Record<string, number> = {};
  private batchCount = 0;
  private batchEntries = 0;
  private batchMax = 0;
  private lagLast = 0;
  private lagMax = 0;

  /** An entry of `kind` entered the pipeline. */
  entryIn(kind: string): void {
    bump(this.entriesIn, kind);
  }

  /** `count` values were redacted. */
  scrubbed(count: number): void {
    this.scrubbedCount += count;
  }

  /**
   * A batch of `size` entries was dropped from the route's backlog (a `block` processor was full
   * and `maxPending` batches were held already).
   */
  backlogOverflow(size: number): void {
    this.drops.backlog = (this.drops.backlog ?? 0) + size;
  }

  /** An entry was dropped for `reason`. */
  dropped(reason: Exclude<DropReason, 'overflow' | 'backlog'>): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** A batch of `size` entries was dropped on the overflow of `processor`'s buffer. */
  overflow(processor: string, size: number): void {
    bump(this.batchesDroppedBy, processor);
    this.drops.overflow = (this.drops.overflow ?? 0) + size;
  }

  /** A batch was emitted by the batcher. */
  batch(size: number): void {
    this.batchCount += 1;
    this.batchEntries += size;
    if (size > this.batchMax) this.batchMax = size;
  }

  /** A batch reached `processor`, `lagMs` after its oldest entry was read. */
  delivered(processor: string, lagMs: number): void {
    bump(this.deliveredTo, processor);
    this.lagLast = lagMs;
    if (lagMs > this.lagMax) this.lagMax = lagMs;
  }

  /** `processor` failed on a batch. */
  processorError(processor: string): void {
    bump(this.processorErrorsBy, processor);
  }

  /** A list or watch request for `kind` failed. */
  readerError(kind: string): void {
    bump(this.readerErrorsBy, kind);
  }

  /** A copy of the counters now. */
  snapshot(): TelemetrySnapshot {
    return {
      entriesIn: { ...this.entriesIn },
      scrubbed: this.scrubbedCount,
      dropped: { ...this.drops },
      batchesDropped: { ...this.batchesDroppedBy },
      batchesDelivered: { ...this.deliveredTo },
      processorErrors: { ...this.processorErrorsBy },
      readerErrors: { ...this.readerErrorsBy },
      batches: { count: this.batchCount, entries: this.batchEntries, max: this.batchMax },
      lagMs: { last: this.lagLast, max: this.lagMax },
    };
  }
}
