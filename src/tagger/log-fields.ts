/**
 * What the tagger writes into a log line about an input it refused or an error it met: ids and
 * source names cut short, never a tag (tags may hold values users consider private). Pure.
 */

/** The most characters of an id or source name a log line carries. */
const LOGGED_LENGTH = 200;

/**
 * `text` cut to {@link LOGGED_LENGTH} characters.
 *
 * @example
 * ```ts
 * loggedId('x'.repeat(300)).length; // 201 (200 and an ellipsis)
 * ```
 */
export function loggedId(text: string): string {
  return text.length > LOGGED_LENGTH ? `${text.slice(0, LOGGED_LENGTH)}…` : text;
}

/**
 * The entity of a refused TagInfo, for the log line: cut short, and never a getter's throw.
 *
 * @example
 * ```ts
 * loggedEntity({ entity: 'container_id://a' }); // 'container_id://a'
 * ```
 */
export function loggedEntity(info: unknown): string | undefined {
  if (typeof info !== 'object' || info === null) return undefined;
  try {
    const entity = (info as { entity?: unknown }).entity;
    return typeof entity === 'string' ? loggedId(entity) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An error as one line: `Name: message`.
 *
 * @example
 * ```ts
 * describeError(new RangeError('no')); // 'RangeError: no'
 * ```
 */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
