/**
 * Tags read from a JSON metadata value, and what could not be read.
 *
 * @example
 * ```ts
 * const { entries, problems }: JsonTags = parseJsonTagList(label);
 * ```
 */
export interface JsonTags {
  /** `[name, value]` pairs, in document order. */
  readonly entries: readonly (readonly [string, string])[];
  /** One message per thing skipped (the whole value when it is not valid JSON). */
  readonly problems: readonly string[];
}

function parse(raw: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch (error) {
    return { ok: false, problem: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * Reads a JSON list of `name:value` strings (the Docker label `com.datadoghq.ad.tags`). The value
 * is split at its first ':'; an item that is not a string, or has no name or value, is skipped
 * and reported in `problems`.
 *
 * @example
 * ```ts
 * parseJsonTagList('["team:payments", "tier:1"]');
 * // { entries: [['team', 'payments'], ['tier', '1']], problems: [] }
 * ```
 */
export function parseJsonTagList(raw: string): JsonTags {
  const parsed = parse(raw);
  if (!parsed.ok) return { entries: [], problems: [parsed.problem] };
  if (!Array.isArray(parsed.value)) return { entries: [], problems: ['expected a JSON list of "name:value" strings'] };
  const entries: (readonly [string, string])[] = [];
  const problems: string[] = [];
  for (const item of parsed.value as unknown[]) {
    const colon = typeof item === 'string' ? item.indexOf(':') : -1;
    if (typeof item !== 'string' || colon <= 0 || colon === item.length - 1) {
      problems.push(`skipped ${JSON.stringify(item)}: expected a "name:value" string`);
      continue;
    }
    entries.push([item.slice(0, colon), item.slice(colon + 1)]);
  }
  return { entries, problems };
}

/**
 * Reads a JSON object whose values are strings or lists (the Kubernetes annotations
 * `ad.datadoghq.com/tags` and `ad.datadoghq.com/<container>.tags`), as the Datadog Agent does: a
 * string is one tag; a list gives one tag per element, numbers and booleans written as text
 * (`[80, 443]` gives `80` and `443`). Any other value, and a list element that is null, an object
 * or a list, is skipped and reported in `problems`.
 *
 * @example
 * ```ts
 * parseJsonTagMap('{"team": "payments", "region": ["eu", "us"], "port": [80]}');
 * // { entries: [['team', 'payments'], ['region', 'eu'], ['region', 'us'], ['port', '80']], problems: [] }
 * ```
 */
export function parseJsonTagMap(raw: string): JsonTags {
  const parsed = parse(raw);
  if (!parsed.ok) return { entries: [], problems: [parsed.problem] };
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { entries: [], problems: ['expected a JSON object of strings or lists of strings'] };
  }
  const entries: (readonly [string, string])[] = [];
  const problems: string[] = [];
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    if (!Array.isArray(item)) {
      if (typeof item === 'string') entries.push([name, item]);
      else problems.push(`skipped ${JSON.stringify(item)} for ${JSON.stringify(name)}: expected a string or a list`);
      continue;
    }
    for (const one of item as unknown[]) {
      if (typeof one === 'string' || typeof one === 'number' || typeof one === 'boolean') entries.push([name, String(one)]);
      else problems.push(`skipped ${JSON.stringify(one)} in the list for ${JSON.stringify(name)}: expected a string, number or boolean`);
    }
  }
  return { entries, problems };
}
