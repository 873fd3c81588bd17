import { type SourcePriority, type TagInfo, SourcePriority as Priority } from '../../src/index.js';
import type { TagStoreEvent } from '../../src/index.js';

/** A TagInfo with the given tags (empty lists by default). */
export function info(
  entity: string,
  source: string,
  low: readonly string[] = [],
  orchestrator: readonly string[] = [],
  high: readonly string[] = [],
): TagInfo {
  return { entity, source, lowCardTags: low, orchestratorCardTags: orchestrator, highCardTags: high };
}

export function upsert(value: TagInfo, priority: SourcePriority = Priority.NodeRuntime): TagStoreEvent {
  return { type: 'upsert', info: value, priority };
}
