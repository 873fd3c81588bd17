/**
 * The Docker collector's options, checked without a daemon: defaults, and the typed error (option,
 * value, what was expected) for each value out of range.
 */
import { describe, expect, it } from 'vitest';
import { DockerCollectorOptionError } from '../../../src/collectors/docker/errors.js';
import { resolveDockerOptions } from '../../../src/collectors/docker/options.js';
import type { DockerCollectorOptions } from '../../../src/collectors/docker/options.js';

describe('resolveDockerOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveDockerOptions({})).toMatchObject({
      source: 'docker',
      inspectConcurrency: 8,
      reconnect: { initial: 500, max: 30_000 },
      inspectRetries: 4,
      inspectRetry: { initial: 500, max: 4_000 },
      imageCacheSize: 256,
      stoppedGrace: 300_000,
      docker: undefined,
    });
  });

  it('keeps the values given', () => {
    const resolved = resolveDockerOptions({ inspectConcurrency: 2, reconnectDelay: { base: 10, max: 10 }, inspectRetry: { retries: 0, base: 1 }, stoppedGrace: 1.5 });
    expect(resolved).toMatchObject({ inspectConcurrency: 2, reconnect: { initial: 10, max: 10 }, inspectRetries: 0, inspectRetry: { initial: 1, max: 4_000 }, stoppedGrace: 1.5 });
  });

  it.each<[DockerCollectorOptions, string, unknown, string]>([
    [{ inspectConcurrency: 0 }, 'inspectConcurrency', 0, 'a positive integer'],
    [{ inspectConcurrency: 1.5 }, 'inspectConcurrency', 1.5, 'a positive integer'],
    [{ reconnectDelay: { base: -1 } }, 'reconnectDelay.base', -1, 'a positive number of milliseconds'],
    [{ reconnectDelay: { base: 1000, max: 10 } }, 'reconnectDelay.max', 10, 'at least reconnectDelay.base (1000)'],
    [{ inspectRetry: { retries: -1 } }, 'inspectRetry.retries', -1, 'a non-negative integer'],
    [{ inspectRetry: { retries: 1.5 } }, 'inspectRetry.retries', 1.5, 'a non-negative integer'],
    [{ inspectRetry: { max: Number.NaN } }, 'inspectRetry.max', Number.NaN, 'a positive number of milliseconds'],
    [{ inspectRetry: { base: 1000, max: 10 } }, 'inspectRetry.max', 10, 'at least inspectRetry.base (1000)'],
    [{ imageCacheSize: 0 }, 'imageCacheSize', 0, 'a positive integer'],
    [{ stoppedGrace: Number.POSITIVE_INFINITY }, 'stoppedGrace', Number.POSITIVE_INFINITY, 'a positive number of milliseconds'],
  ])('refuses %j', (options, option, value, expected) => {
    let thrown: unknown;
    try {
      resolveDockerOptions(options);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DockerCollectorOptionError);
    expect(thrown).toMatchObject({ tag: 'DockerCollectorOption', option, value, expected });
    expect((thrown as Error).message).toBe(`invalid dockerCollector option ${option}=${String(value)}: expected ${expected}`);
  });
});
