/**
 * What each source gave for an entity, and which source's values of a tag name are the ones
 * served: the detail behind an entity's merged tags (`tagstream list --sources`). Pure.
 */
import { type StoredSource, tagName } from './merged-tags.js';
import type { StoredEntity } from './tag-store-state.js';
import type { OverriddenTag, SourcePriorityName, SourceTagsListing } from './contract.js';
import { SourcePriority } from './types.js';

// Named here too for the modules that import them from this file.

/**
 * The name of a priority value.
 *
 * @example
 * ```ts
 * priorityName(SourcePriority.ClusterOrchestrator); // 'ClusterOrchestrator'
 * ```
 */
export function priorityName(priority: SourcePriority): SourcePriorityName {
  switch (priority) {
    case SourcePriority.NodeRuntime:
      return 'NodeRuntime';
    case SourcePriority.NodeOrchestrator:
      return 'NodeOrchestrator';
    case SourcePriority.ClusterOrchestrator:
      return 'ClusterOrchestrator';
  }
}

/**
 * Each source of a stored entity, highest priority first, with its tags by cardinality and those
 * of its tags that lose their name to a higher-priority source (the merge rule of the TagStore:
 * a tag name belongs to the highest priority that gives it; every source of that priority giving
 * it is served).
 *
 * @example
 * ```ts
 * listSources(stored).map((s) => `${s.source}: ${s.overridden.length} overridden`);
 * ```
 */
export function listSources(stored: StoredEntity): SourceTagsListing[] {
  // Sources come highest priority first: a name belongs to the first priority level giving it.
  const owner = new Map<string, { priority: SourcePriority; sources: string[] }>();
  for (const source of stored.sources) {
    for (const tag of source.tags) {
      const name = tagName(tag);
      const held = owner.get(name);
      if (held === undefined) owner.set(name, { priority: source.priority, sources: [source.source] });
      else if (held.priority === source.priority && !held.sources.includes(source.source)) held.sources.push(source.source);
    }
  }
  return stored.sources.map((source) => sourceListing(source, owner));
}

function sourceListing(source: StoredSource, owner: ReadonlyMap<string, { readonly priority: SourcePriority; readonly sources: readonly string[] }>): SourceTagsListing {
  const overridden: OverriddenTag[] = [];
  for (const tag of source.tags) {
    const held = owner.get(tagName(tag));
    if (held !== undefined && held.priority !== source.priority) overridden.push({ tag, by: held.sources });
  }
  return {
    source: source.source,
    priority: source.priority,
    priorityName: priorityName(source.priority),
    low: source.tags.slice(0, source.lowEnd),
    orchestrator: source.tags.slice(source.lowEnd, source.orchestratorEnd),
    high: source.tags.slice(source.orchestratorEnd),
    overridden,
  };
}
