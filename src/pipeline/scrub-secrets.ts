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

/** Redacts the literal values of one `env` array; the same array when nothing changed. */
function scrubEnv(env: unknown, rules: Rules, counter: { n: number }): unknown {
  if (!isArray(env)) return env;
  let out: unknown[] | undefined;
  env.forEach((item: unknown, i) => {
    if (!isRecord(item) || item['value'] === undefined || item['value'] === rules.marker) return;
    const name = typeof item['name'] === 'string' ? item['name'] : '';
    if (!rules.all && !rules.pattern.test(name)) return;
    out ??= [...env];
    out[i] = { ...item, value: rules.marker };
    counter.n += 1;
  });
  return out ?? env;
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
 * Scrubs every `env` array found anywhere in a JSON document (for annotations such as
 * `kubectl.kubernetes.io/last-applied-configuration` that hold a whole object).
 */
function scrubDeep(value: unknown, rules: Rules, counter: { n: number }): unknown {
  if (isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const next = scrubDeep(item, rules, counter);
      if (next === item) return;
      out ??= [...value];
      out[i] = next;
    });
    return out ?? value;
  }
  if (!isRecord(value)) return value;
  let out: Json | undefined;
  for (const [key, item] of Object.entries(value)) {
    const next = key === 'env' ? scrubEnv(item, rules, counter) : scrubDeep(item, rules, counter);
    if (next === item) continue;
    out ??= { ...value };
    out[key] = next;
  }
  return out ?? value;
}

/** Scrubs annotations: secret-looking keys wholly, JSON values holding `env` inside. */
function scrubAnnotations(annotations: unknown, rules: Rules, counter: { n: number }): unknown {
  if (!isRecord(annotations)) return annotations;
  let out: Json | undefined;
  for (const [key, value] of Object.entries(annotations)) {
    let next: unknown = value;
    if (rules.pattern.test(key)) {
      next = value === rules.marker ? value : rules.marker;
      if (next !== value) counter.n += 1;
    } else if (typeof value === 'string' && value.includes('"env"')) {
      try {
        const doc: unknown = JSON.parse(value);
        const scrubbed = scrubDeep(doc, rules, counter);
        if (scrubbed !== doc) next = JSON.stringify(scrubbed);
      } catch {
        // not JSON, yet it names "env": it cannot be scrubbed piecewise, so it goes whole
        next = rules.marker;
        counter.n += 1;
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
