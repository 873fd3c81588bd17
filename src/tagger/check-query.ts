import { isEntityId } from './entity-id.js';
import { InvalidCardinalityError, InvalidEntityIdError, TaggerNotRunningError } from './errors.js';
import { type TagCardinality, isCardinality } from './types.js';

/** Where a Tagger is in its life: queries are answered only while `running`. */
export type TaggerStatus = 'created' | 'running' | 'stopped';

/**
 * The typed error a query deserves (malformed cardinality or entity id, tagger not running), or
 * `undefined` when it may be answered. Shared by every Tagger implementation so that they refuse
 * the same queries the same way.
 */
export function checkQuery(entity: string, cardinality: TagCardinality, status: TaggerStatus): Error | undefined {
  if (!isCardinality(cardinality)) return new InvalidCardinalityError(cardinality);
  if (typeof entity !== 'string' || !isEntityId(entity)) return new InvalidEntityIdError(entity, 'expected prefix://id');
  if (status !== 'running') return new TaggerNotRunningError(status);
  return undefined;
}
