import type { Observable } from 'rxjs';
import type { EntityCompleteness, EntityListing, EntitySourcesListing, EntityTags, LookupOptions, TagEvent, TagEventsFilter, TagLookup, Tagger, TaggerTelemetry } from './contract.js';
import type { ReadSide } from './read-side.js';
import type { TagCardinality } from './types.js';

/**
 * The read methods of a {@link Tagger}, answered by its {@link ReadSide}. The local tagger and the
 * IPC client's remote tagger both extend it: each gives only its read side (its store and its miss
 * policy), its life (`start`, `stop`), and overrides what it answers otherwise (the remote
 * tagger's `lookup` asks the server).
 *
 * @example
 * ```ts
 * class MirrorTagger extends ReadSideTagger {
 *   protected readonly reads = new ReadSide(mirrorStore, counters, () => undefined);
 *   start(): void { this.reads.start(() => Subscription.EMPTY); }
 *   stop(): void { this.reads.stop(); }
 * }
 * ```
 */
export abstract class ReadSideTagger implements Tagger {
  /** Where every answer comes from. */
  protected abstract readonly reads: ReadSide;

  abstract start(): void;
  abstract stop(): void;

  tag(entity: string, cardinality?: TagCardinality): Promise<string[]> {
    return this.reads.tag(entity, cardinality);
  }

  tags$(entity: string, cardinality?: TagCardinality): Observable<string[]> {
    return this.reads.tags$(entity, cardinality);
  }

  lookup(entity: string, options?: LookupOptions): Promise<TagLookup> {
    return this.reads.lookup(entity, options);
  }

  lookup$(entity: string, cardinality?: TagCardinality): Observable<TagLookup> {
    return this.reads.lookup$(entity, cardinality);
  }

  events$(eventsFilter?: TagEventsFilter): Observable<TagEvent> {
    return this.reads.events$(eventsFilter);
  }

  storedCompleteness(entity: string): EntityCompleteness | undefined {
    return this.reads.storedCompleteness(entity);
  }

  storedTags(entity: string, cardinality?: TagCardinality): readonly string[] {
    return this.reads.storedTags(entity, cardinality);
  }

  storedEntries(): Iterable<readonly [string, EntityTags]> {
    return this.reads.storedEntries();
  }

  list(): EntityListing[] {
    return this.reads.list();
  }

  listSources(prefixes?: readonly string[]): EntitySourcesListing[] {
    return this.reads.listSources(prefixes);
  }

  telemetry(): TaggerTelemetry {
    return this.reads.telemetry();
  }
}
