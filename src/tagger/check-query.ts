import { checkEntityId } from './entity-id.js';
import { InvalidCardinalityError, TaggerNotRunningError } from './errors.js';
import { type TagCardinality, isCardinality } from './types.js';

/** Where a Tagger is in its life: queries are answered only while `running`. */
export type TaggerStatus = 'created' | 'running' | 'stopped';

/**
 * The typed error a query deserves (malformed cardinality; an entity id that is not `prefix://id`
 * of printable characters within a length bound, see {@link checkEntityId}; tagger not running), or
 * `undefined` when it may be answered. Shared by every Tagger implementation so that they refuse
 * the same queries the same way.
 */
export function checkQuery(entity: string, cardinality: TagCardinality, status: TaggerStatus): Error | undefined {
  if (!isCardinality(cardinality)) return new InvalidCardinalityError(cardinality);
  const invalid = checkEntityId(entity);
  if (invalid !== undefined) return invalid;
  if (status !== 'running') return new TaggerNotRunningError(status);
  return undefined;
}
