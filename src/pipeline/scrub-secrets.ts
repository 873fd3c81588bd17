import { map } from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Entry, KubeObject } from './entry.js';
import type { PipelineTelemetry } from './telemetry.js';

/**
 * The marker that replaces a redacted value.
 *
 * @example
 * ```ts
 * scrubObject(pod).object; // env values read 'REDACTED'
 * ```
 */
export const REDACTED = 'REDACTED';

/**
 * Names that look like they hold a secret (case-insensitive, anywhere in the name): used for
 * environment variable names in `names` mode and for annotation keys in every mode.
 *
 * @example
 * ```ts
 * SECRET_NAME_PATTERN.test('DB_PASSWORD'); // true
 * ```
 */
export const SECRET_NAME_PATTERN =
  /token|pass|pwd|jwt|hash|secret|bearer|cred|secure|signing|cert|key|auth|private|salt|session|cookie|dsn/i;

/**
 * Options of {@link scrubSecrets}.
 *
 * @example
 * ```ts
 * scrubSecrets({ mode: 'names', pattern: /token|password/i, marker: '***' });
 * ```
 */
export interface ScrubOptions {
  /**
   * `all` (default): every literal environment value is redacted. `names`: only those whose
   * variable name matches `pattern`.
   */
  readonly mode?: 'all' | 'names';
  /** The secret-like name pattern, for env names and annotation keys (default {@link SECRET_NAME_PATTERN}; no `g` flag). */
  readonly pattern?: RegExp;
  /** What replaces a value (default {@link REDACTED}). */
  readonly marker?: string;
  /** Counts the values redacted. */
  readonly telemetry?: PipelineTelemetry;
}

interface Rules {
  readonly all: boolean;
  readonly pattern: RegExp;
  readonly marker: string;
}

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isArray = (value: unknown): value is readonly unknown[] => Array.isArray(value);

/** The container lists of a pod spec that carry `env`. */
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/**
 * How deep the scrubber follows JSON inside annotations — objects, arrays and JSON text inside a
 * string each count one level. Deeper than this, the value is redacted whole (fail closed).
 */
export const MAX_SCRUB_DEPTH = 32;

/** The longest string the scrubber parses as JSON; a longer JSON-looking one is redacted whole. */
export const MAX_SCRUB_JSON_LENGTH = 1024 * 1024;

/** True for the key of an env list or map, as a JSON parser sees it (after escapes), any case. */
const isEnvKey = (key: string): boolean => key.length === 3 && key.toLowerCase() === 'env';

/** Whether a variable's value is redacted under the rules. */
const redacts = (name: string, rules: Rules): boolean => rules.all || rules.pattern.test(name);

/** Redacts the literal values of one `env` array; the same array when nothing changed. */
function scrubEnv(env: unknown, rules: Rules, counter: { n: number }): unknown {
  if (!isArray(env)) return env;
  let out: unknown[] | undefined;
  env.forEach((item: unknown, i) => {
    let next: unknown = item;
    if (typeof item === 'string') {
      // `NAME=value`, as some tools write env lists
      if (item !== rules.marker && redacts(item.split('=')[0] ?? '', rules)) next = rules.marker;
    } else if (isRecord(item) && item['value'] !== undefined && item['value'] !== rules.marker) {
      const name = typeof item['name'] === 'string' ? item['name'] : '';
      if (redacts(name, rules)) next = { ...item, value: rules.marker };
    }
    if (next === item) return;
    out ??= [...env];
    out[i] = next;
    counter.n += 1;
  });
  return out ?? env;
}

/**
 * Scrubs the value of an `env` key found in JSON: a list of `{ name, value }` (or `NAME=value`),
 * a map of names to values, or JSON text holding either; another string is redacted (fail closed).
 */
function scrubEnvValue(value: unknown, rules: Rules, counter: { n: number }, depth: number): unknown {
  if (depth >= MAX_SCRUB_DEPTH) return redactWhole(value, rules, counter);
  if (isArray(value)) return scrubEnv(value, rules, counter);
  if (isRecord(value)) {
    let out: Json | undefined;
    for (const [name, item] of Object.entries(value)) {
      let next: unknown = item;
      if (item === rules.marker || item === undefined || item === null) continue;
      if (redacts(name, rules)) {
        next = rules.marker;
        counter.n += 1;
      } else {
        next = scrubDeep(item, rules, counter, depth + 1);
      }
      if (next === item) continue;
      out ??= { ...value };
      out[name] = next;
    }
    return out ?? value;
  }
  if (typeof value === 'string') {
    const doc = parseJson(value);
    if (doc.kind === 'json') {
      const scrubbed = scrubEnvValue(doc.value, rules, counter, depth + 1);
      return scrubbed === doc.value ? value : JSON.stringify(scrubbed);
    }
    return redactWhole(value, rules, counter);
  }
  return value;
}

/** The marker in place of `value` (counted), unless it is the marker already. */
function redactWhole(value: unknown, rules: Rules, counter: { n: number }): unknown {
  if (value === rules.marker) return value;
  counter.n += 1;
  return rules.marker;
}

/** What a string holds: JSON (parsed), text that looks like JSON but is not, or plain text. */
type ParsedText =
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'broken' }
  | { readonly kind: 'too-long' }
  | { readonly kind: 'text' };

/** Parses `text` when it looks like a JSON object, array or string (its first non-blank character). */
function parseJson(text: string): ParsedText {
  const first = /\S/.exec(text)?.[0];
  if (first !== '{' && first !== '[' && first !== '"') return { kind: 'text' };
  if (text.length > MAX_SCRUB_JSON_LENGTH) return { kind: 'too-long' };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'broken' };
  }
}

/** Scrubs `env` in every container list of a pod spec; the same spec when nothing changed. */
function scrubPodSpec(spec: unknown, rules: Rules, counter: { n: number }): unknown {
  if (!isRecord(spec)) return spec;
  let out: Json | undefined;
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!isArray(containers)) continue;
    let copy: unknown[] | undefined;
    containers.forEach((container: unknown, i) => {
      if (!isRecord(container)) return;
      const env = scrubEnv(container['env'], rules, counter);
      if (env === container['env']) return;
      copy ??= [...containers];
      copy[i] = { ...container, env };
    });
    if (copy !== undefined) {
      out ??= { ...spec };
      out[list] = copy;
    }
  }
  return out ?? spec;
}

/**
 * Scrubs every `env` found anywhere in a JSON value, as a JSON parser sees it: keys after their
 * escapes are decoded, `env` lists and maps, and strings that hold JSON themselves (parsed in turn,
 * and written back with `JSON.stringify` when something changed). Bounded: deeper than
 * {@link MAX_SCRUB_DEPTH} levels, or a JSON-looking string over {@link MAX_SCRUB_JSON_LENGTH}, is
 * redacted whole.
 */
function scrubDeep(value: unknown, rules: Rules, counter: { n: number }, depth: number): unknown {
  if (typeof value === 'string') {
    const doc = parseJson(value);
    if (doc.kind === 'text' || doc.kind === 'broken') return value;
    if (doc.kind === 'too-long' || depth >= MAX_SCRUB_DEPTH) return redactWhole(value, rules, counter);
    const scrubbed = scrubDeep(doc.value, rules, counter, depth + 1);
    return scrubbed === doc.value ? value : JSON.stringify(scrubbed);
  }
  if (!isArray(value) && !isRecord(value)) return value;
  if (depth >= MAX_SCRUB_DEPTH) return redactWhole(value, rules, counter);
  if (isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const next = scrubDeep(item, rules, counter, depth + 1);
      if (next === item) return;
      out ??= [...value];
      out[i] = next;
    });
    return out ?? value;
  }
  let out: Json | undefined;
  for (const [key, item] of Object.entries(value)) {
    const next = isEnvKey(key) ? scrubEnvValue(item, rules, counter, depth + 1) : scrubDeep(item, rules, counter, depth + 1);
    if (next === item) continue;
    out ??= { ...value };
    out[key] = next;
  }
  return out ?? value;
}

/** Text that may spell `env` to a parser: the word, or a `\u` escape that could. */
const MENTIONS_ENV = /\benv\b|\\u/i;

/**
 * Scrubs annotations: secret-looking keys wholly; values that hold JSON (objects, arrays, JSON
 * strings, JSON inside those) have every `env` inside redacted; a value that is not valid JSON but
 * names `env` (or holds a `\u` escape) cannot be scrubbed piecewise and is redacted whole.
 */
function scrubAnnotations(annotations: unknown, rules: Rules, counter: { n: number }): unknown {
  if (!isRecord(annotations)) return annotations;
  let out: Json | undefined;
  for (const [key, value] of Object.entries(annotations)) {
    let next: unknown = value;
    if (rules.pattern.test(key)) {
      next = redactWhole(value, rules, counter);
    } else if (typeof value === 'string') {
      const doc = parseJson(value);
      if (doc.kind === 'json') {
        const scrubbed = scrubDeep(doc.value, rules, counter, 1);
        if (scrubbed !== doc.value) next = JSON.stringify(scrubbed);
      } else if (doc.kind === 'too-long' || MENTIONS_ENV.test(value)) {
        next = redactWhole(value, rules, counter);
      }
    }
    if (next === value) continue;
    out ??= { ...annotations };
    out[key] = next;
  }
  return out ?? annotations;
}

/**
 * Redacts the secrets of one object without mutating it: the result shares every part that did
 * not change (and is the same object when nothing did). Pods: `env` values of containers, init
 * containers and ephemeral containers. Objects with a pod template (deployments):
 * `spec.template.spec` likewise. Every kind: secret-looking annotations. `valueFrom` is kept.
 *
 * @example
 * ```ts
 * const { object, redacted } = scrubObject(pod);
 * object.spec.containers[0].env[0].value; // 'REDACTED'
 * ```
 */
export function scrubObject(
  object: KubeObject,
  options: Omit<ScrubOptions, 'telemetry'> = {},
): { object: KubeObject; redacted: number } {
  const rules: Rules = {
    all: (options.mode ?? 'all') === 'all',
    pattern: options.pattern ?? SECRET_NAME_PATTERN,
    marker: options.marker ?? REDACTED,
  };
  const counter = { n: 0 };
  let out: KubeObject | undefined;
  const spec = object['spec'];
  if (isRecord(spec)) {
    let nextSpec = scrubPodSpec(spec, rules, counter) as Json;
    const template = nextSpec['template'];
    if (isRecord(template)) {
      const templateSpec = scrubPodSpec(template['spec'], rules, counter);
      if (templateSpec !== template['spec']) nextSpec = { ...nextSpec, template: { ...template, spec: templateSpec } };
    }
    if (nextSpec !== spec) out = { ...object, spec: nextSpec };
  }
  const metadata = object.metadata;
  if (metadata?.annotations !== undefined) {
    const annotations = scrubAnnotations(metadata.annotations, rules, counter);
    if (annotations !== metadata.annotations) {
      out = { ...(out ?? object), metadata: { ...metadata, annotations: annotations as Record<string, string> } };
    }
  }
  return { object: out ?? object, redacted: counter.n };
}

/**
 * Replaces secrets in every entry's object by a redaction marker, before any user code sees the
 * data: by default every literal `env` value of every container, init container and ephemeral
 * container (or, with `mode: 'names'`, those whose name looks secret), and secret-looking
 * annotations, including `env` inside `kubectl.kubernetes.io/last-applied-configuration`.
 * `valueFrom` references are kept. Never mutates the caller's objects.
 *
 * @example
 * ```ts
 * kubernetesReader(kc, 'pod').pipe(scrubSecrets(), batch({ maxItems: 500, maxTime: 1000 }));
 * kubernetesReader(kc, 'pod').pipe(scrubSecrets({ mode: 'names' })); // only TOKEN, DB_PASSWORD...
 * ```
 *
 * @see {@link scrubObject} the same on one object
 */
export function scrubSecrets(options: ScrubOptions = {}): MonoTypeOperatorFunction<Entry> {
  const { telemetry, ...rules } = options;
  return map((entry) => {
    const { object, redacted } = scrubObject(entry.object, rules);
    if (object === entry.object) return entry;
    telemetry?.scrubbed(redacted);
    return { ...entry, object };
  });
}
