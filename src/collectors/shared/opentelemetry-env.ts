import type { TagBuilder } from './tag-builder.js';

/** `OTEL_RESOURCE_ATTRIBUTES` keys read as unified service tags: attribute -> tag name. */
const RESOURCE_ATTRIBUTES: ReadonlyMap<string, string> = new Map([
  ['service.name', 'service'],
  ['service.version', 'version'],
  ['deployment.environment', 'env'],
  ['deployment.environment.name', 'env'],
]);

/**
 * Adds the unified service tags (`env`, `service`, `version`, low) that an OpenTelemetry SDK's
 * environment sets, as the Datadog Agent reads them: `OTEL_RESOURCE_ATTRIBUTES` is split at `,`,
 * each pair at its first `=`, both sides trimmed, and `service.name`, `service.version`,
 * `deployment.environment` and `deployment.environment.name` are kept; then
 * `OTEL_SERVICE_NAME` gives `service`. Pairs without `=` and empty values give nothing.
 *
 * There is no precedence against `DD_ENV` / `DD_SERVICE` / `DD_VERSION`: the Agent adds both,
 * so a container whose variables disagree carries both values (as the tag builder keeps every
 * distinct value of a name).
 *
 * @example
 * ```ts
 * const tags = new TagBuilder();
 * addOpenTelemetryServiceTags(tags, new Map([['OTEL_RESOURCE_ATTRIBUTES', 'service.name=cart, deployment.environment=prod']]));
 * tags.build().low; // ['service:cart', 'env:prod']
 * ```
 */
export function addOpenTelemetryServiceTags(tags: TagBuilder, env: ReadonlyMap<string, string>): void {
  const attributes = env.get('OTEL_RESOURCE_ATTRIBUTES');
  if (attributes !== undefined) {
    for (const pair of attributes.split(',')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      const tagName = RESOURCE_ATTRIBUTES.get(pair.slice(0, eq).trim());
      if (tagName !== undefined) tags.addLow(tagName, pair.slice(eq + 1).trim());
    }
  }
  tags.addLow('service', env.get('OTEL_SERVICE_NAME') ?? '');
}
