/**
 * The Kubernetes collector's options, checked without an API server: defaults, the node name from
 * the environment, and the typed error (option, value, what was expected) for each value out of range.
 */
import { describe, expect, it } from 'vitest';
import { KubernetesCollectorOptionError } from '../../../src/collectors/kubernetes/errors.js';
import { resolveKubernetesOptions } from '../../../src/collectors/kubernetes/options.js';
import type { KubernetesCollectorOptions } from '../../../src/collectors/kubernetes/options.js';

describe('resolveKubernetesOptions', () => {
  it('fills in the defaults and reads NODE_NAME when no node name is given', () => {
    expect(resolveKubernetesOptions({}, { NODE_NAME: ' node-1 ' })).toMatchObject({
      nodeName: 'node-1',
      period: 5000,
      requestTimeout: 10_000,
      pageSize: 500,
      backoff: { initial: 1000, max: 30_000 },
      source: 'kubernetes',
      listServices: false,
      kubeConfig: undefined,
    });
    expect(resolveKubernetesOptions({ nodeName: 'n', backoff: { initial: 10 }, listServices: true }, {})).toMatchObject({
      nodeName: 'n',
      backoff: { initial: 10, max: 30_000 },
      listServices: true,
    });
  });

  it.each<[KubernetesCollectorOptions, Record<string, string>, string, unknown, string]>([
    [{}, {}, 'nodeName', undefined, 'the name of the node (set options.nodeName or NODE_NAME)'],
    [{ nodeName: '  ' }, { NODE_NAME: 'n' }, 'nodeName', '  ', 'the name of the node (set options.nodeName or NODE_NAME)'],
    [{ nodeName: 'n', period: 0 }, {}, 'period', 0, 'a positive number of milliseconds'],
    [{ nodeName: 'n', requestTimeout: Number.NaN }, {}, 'requestTimeout', Number.NaN, 'a positive number of milliseconds'],
    [{ nodeName: 'n', pageSize: 1.5 }, {}, 'pageSize', 1.5, 'an integer >= 1'],
    [{ nodeName: 'n', pageSize: 0 }, {}, 'pageSize', 0, 'an integer >= 1'],
    [{ nodeName: 'n', backoff: { initial: 100, max: 10 } }, {}, 'backoff', '{"initial":100,"max":10}', '0 < initial <= max'],
    [{ nodeName: 'n', backoff: { initial: 0 } }, {}, 'backoff', '{"initial":0}', '0 < initial <= max'],
    [{ nodeName: 'n', backoff: { max: Number.POSITIVE_INFINITY } }, {}, 'backoff', '{"max":null}', '0 < initial <= max'],
    [{ nodeName: 'n', source: '' }, {}, 'source', '', 'a non-empty string'],
  ])('refuses %j (env %j)', (options, env, option, value, expected) => {
    let thrown: unknown;
    try {
      resolveKubernetesOptions(options, env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KubernetesCollectorOptionError);
    expect(thrown).toMatchObject({ tag: 'KubernetesCollectorOption', option, value, expected });
    expect((thrown as Error).message).toBe(`invalid kubernetesCollector option ${option}=${String(value)}: expected ${expected}`);
  });
});
