/**
 * How a shared store turns its key type into stored values and back, and names each key.
 *
 * `decode` throws for a value it cannot read; the store reports that (a `KvDecodeError`, logged
 * and counted) and skips the key.
 *
 * @example
 * ```ts
 * const codec: KeyCodec<NodeInfo> = {
 *   keyName: (node) => node.name,
 *   encode: (node) => JSON.stringify(node),
 *   decode: (value) => parseNodeInfo(JSON.parse(value)),
 * };
 * ```
 */
export interface KeyCodec<K> {
  /**
   * The key's name in the store, below the prefix. Unique among the collaborators (each owns the
   * names it writes) and stable across restarts, since keys outlive a restart until their lease ends.
   */
  keyName(key: K): string;
  /** The stored value of a key. */
  encode(key: K): string;
  /** The key a stored value holds; throws when the value is not one. `name` is the key's name. */
  decode(value: string, name: string): K;
}

/** Options of {@link jsonCodec}. */
export interface JsonCodecOptions<K> {
  /** The key's name in the store (see {@link KeyCodec.keyName}). */
  readonly keyName: (key: K) => string;
  /** Checks a parsed value and returns it as a key; throws (or returns undefined) when it is not one. */
  readonly parse: (value: unknown, name: string) => K | undefined;
}

/**
 * A {@link KeyCodec} that stores keys as JSON and checks what it reads with `parse`.
 *
 * @example
 * ```ts
 * const codec = jsonCodec<{ name: string; ip: string }>({
 *   keyName: (node) => node.name,
 *   parse: (v) => (typeof v === 'object' && v !== null && 'name' in v && 'ip' in v ? (v as { name: string; ip: string }) : undefined),
 * });
 * ```
 */
export function jsonCodec<K>(options: JsonCodecOptions<K>): KeyCodec<K> {
  return {
    keyName: options.keyName,
    encode: (key) => JSON.stringify(key),
    decode: (value, name) => {
      const parsed = options.parse(JSON.parse(value) as unknown, name);
      if (parsed === undefined) throw new TypeError(`not a valid key: ${value.length > 200 ? `${value.slice(0, 200)}...` : value}`);
      return parsed;
    },
  };
}
