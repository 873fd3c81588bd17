import type { Logger } from '../../util/logger.js';
import type { TagBuilder } from './tag-builder.js';

/**
 * A "labels / env / annotations as tags" mapping: metadata name (matched case-insensitively) ->
 * tag name. A tag name starting with '+' makes a high-cardinality tag, otherwise low. A name
 * containing `*` is a pattern (`*` alone matches every name); in the tag name of a pattern,
 * `%%label%%`, `%%env%%` or `%%annotation%%` (by kind) is replaced by the original name.
 *
 * @example
 * ```ts
 * const labelsAsTags: MetadataAsTags = { 'com.example.team': 'team', '*': 'label_%%label%%' };
 * ```
 */
export type MetadataAsTags = Readonly<Record<string, string>>;

/**
 * What a mapping maps: the placeholder in tag names is `%%<kind>%%`.
 *
 * @example
 * ```ts
 * const kind: MetadataKind = 'annotation'; // placeholder %%annotation%%
 * ```
 */
export type MetadataKind = 'label' | 'env' | 'annotation';

interface Pattern {
  readonly matcher: RegExp;
  readonly tagName: string;
}

/**
 * A {@link MetadataAsTags} mapping checked and ready to apply.
 *
 * @example
 * ```ts
 * const compiled: CompiledMetadataAsTags = compileMetadataAsTags({ team: 'team' }, 'label', logger);
 * ```
 */
export interface CompiledMetadataAsTags {
  readonly kind: MetadataKind;
  readonly exact: ReadonlyMap<string, string>;
  readonly patterns: readonly Pattern[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Checks a mapping once (lower-cases its names, compiles its patterns); an entry whose tag name
 * is empty is reported through `logger` and left out.
 *
 * @example
 * ```ts
 * const compiled = compileMetadataAsTags({ Team: '+team' }, 'label', silentLogger);
 * applyMetadataAsTags(builder, 'team', 'payments', compiled); // adds high 'team:payments'
 * ```
 */
export function compileMetadataAsTags(
  mapping: MetadataAsTags | undefined,
  kind: MetadataKind,
  logger: Logger,
): CompiledMetadataAsTags {
  const exact = new Map<string, string>();
  const patterns: Pattern[] = [];
  for (const [name, tagName] of Object.entries(mapping ?? {})) {
    if (typeof tagName !== 'string' || tagName.replace(/^\+/, '').length === 0 || name.length === 0) {
      logger.warn(`ignoring a ${kind} mapping with an empty name or tag name`, { kind, name, tagName });
      continue;
    }
    const lower = name.toLowerCase();
    if (lower.includes('*')) {
      const source = lower.split('*').map(escapeRegExp).join('.*');
      patterns.push({ matcher: new RegExp(`^${source}$`, 's'), tagName });
    } else {
      exact.set(lower, tagName);
    }
  }
  return { kind, exact, patterns };
}

/**
 * Adds the tags that `compiled` maps `name` to, with `value` as their value: the exact entry for
 * the name when there is one, otherwise every pattern that matches it.
 *
 * @example
 * ```ts
 * const compiled = compileMetadataAsTags({ '*': 'env_%%env%%' }, 'env', silentLogger);
 * applyMetadataAsTags(builder, 'REGION', 'eu-west-1', compiled); // adds low 'env_REGION:eu-west-1'
 * ```
 */
export function applyMetadataAsTags(
  builder: TagBuilder,
  name: string,
  value: string,
  compiled: CompiledMetadataAsTags,
): void {
  const lower = name.toLowerCase();
  const placeholder = `%%${compiled.kind}%%`;
  const exact = compiled.exact.get(lower);
  if (exact !== undefined) {
    builder.addAuto(exact.replaceAll(placeholder, name), value);
    return;
  }
  for (const pattern of compiled.patterns) {
    if (pattern.matcher.test(lower)) builder.addAuto(pattern.tagName.replaceAll(placeholder, name), value);
  }
}
