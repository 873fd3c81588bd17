import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isImageId, parseImageReference } from '../../../src/collectors/shared/image-reference.js';
import { parseJsonTagList, parseJsonTagMap } from '../../../src/collectors/shared/json-tags.js';
import { applyMetadataAsTags, compileMetadataAsTags } from '../../../src/collectors/shared/metadata-as-tags.js';
import { TagBuilder } from '../../../src/collectors/shared/tag-builder.js';
import { cronJobOfJob, deploymentOfReplicaSet } from '../../../src/collectors/kubernetes/owner-names.js';
import type { TagCardinality } from '../../../src/tagger/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { RecordingLogger } from '../recording-logger.js';

const lowerAlnum = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const component = fc.tuple(lowerAlnum, fc.option(fc.tuple(fc.constantFrom('.', '_', '-'), lowerAlnum), { nil: undefined })).map(
  ([head, tail]) => (tail === undefined ? head : `${head}${tail[0]}${tail[1]}`),
);
const registry = fc.option(
  fc.tuple(fc.constantFrom('registry.example.com', 'localhost', 'gcr.io', '10.0.0.5'), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(
    ([host, port]) => (port === undefined ? host : `${host}:${port}`),
  ),
  { nil: undefined },
);
const tag = fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), { nil: undefined });
const digest = fc.option(fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`), { nil: undefined });

describe('parseImageReference', () => {
  it('takes any well-formed reference apart into its repository, last segment and tag', () => {
    fc.assert(
      fc.property(registry, fc.array(component, { minLength: 1, maxLength: 4 }), tag, digest, (host, path, imageTag, imageDigest) => {
        const name = [...(host === undefined ? [] : [host]), ...path].join('/');
        const reference = `${name}${imageTag === undefined ? '' : `:${imageTag}`}${imageDigest === undefined ? '' : `@${imageDigest}`}`;
        const parsed = parseImageReference(reference);
        expect(parsed).toEqual({
          dockerImage: imageTag === undefined ? name : `${name}:${imageTag}`,
          imageName: name,
          shortImage: path[path.length - 1],
          ...(imageTag === undefined ? {} : { imageTag }),
        });
      }),
    );
  });

  it.each(['', '   ', 'sha256:3b6d2f4c9e1a', '3b6d2f4c9e1a7b5d8c0e2f4a6b8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0a2b4d', '@sha256:abc', ':7'])(
    'names nothing for %j',
    (reference) => {
      expect(parseImageReference(reference)).toBeUndefined();
    },
  );

  it('tells image ids from names', () => {
    expect(isImageId('sha256:3b6d2f4c')).toBe(true);
    expect(isImageId('3b6d2f4c9e1a7b5d8c0e2f4a6b8d0c2e4f6a8b0d2c4e6f8a0b2d4c6e8f0a2b4d')).toBe(true);
    expect(isImageId('redis:7')).toBe(false);
    expect(isImageId('3b6d2f4c9e1a')).toBe(false);
  });
});

describe('TagBuilder', () => {
  const cardinality = fc.constantFrom<TagCardinality>('low', 'orchestrator', 'high');
  const rank = { low: 0, orchestrator: 1, high: 2 } as const;

  it('keeps every added tag exactly once, at the lowest cardinality it was added at', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(cardinality, fc.constantFrom('a', 'b', 'c'), fc.constantFrom('1', '2', '')), { maxLength: 30 }), (adds) => {
        const builder = new TagBuilder();
        const model = new Map<string, TagCardinality>();
        for (const [at, name, value] of adds) {
          builder.add(at, name, value);
          if (value === '') continue;
          const tag = `${name}:${value}`;
          const seen = model.get(tag);
          if (seen === undefined || rank[at] < rank[seen]) model.set(tag, at);
        }
        const built = builder.build();
        const all = [...built.low, ...built.orchestrator, ...built.high];
        expect(new Set(all).size).toBe(all.length);
        expect(all.length).toBe(model.size);
        for (const [tagValue, at] of model) expect(built[at]).toContain(tagValue);
      }),
    );
  });

  it("sends '+' names to high and leaves a copy's parent unchanged", () => {
    const parent = new TagBuilder().addAuto('team', 'a');
    const child = parent.copy().addAuto('+owner', 'alice');
    expect(parent.build()).toEqual({ low: ['team:a'], orchestrator: [], high: [] });
    expect(child.build()).toEqual({ low: ['team:a'], orchestrator: [], high: ['owner:alice'] });
    expect(child.toTagInfo('container_id://x', 'docker')).toEqual({
      entity: 'container_id://x',
      source: 'docker',
      lowCardTags: ['team:a'],
      orchestratorCardTags: [],
      highCardTags: ['owner:alice'],
    });
  });
});

describe('metadata as tags', () => {
  it('matches names case-insensitively, prefers the exact entry, and fills the placeholder with the original name', () => {
    const compiled = compileMetadataAsTags({ 'App.*': '+app_%%label%%', 'app.tier': 'tier', '*': 'any_%%label%%' }, 'label', silentLogger);
    const builder = new TagBuilder();
    applyMetadataAsTags(builder, 'APP.Tier', 'gold', compiled);
    applyMetadataAsTags(builder, 'app.Zone', 'a', compiled);
    expect(builder.build()).toEqual({ low: ['tier:gold', 'any_app.Zone:a'], orchestrator: [], high: ['app_app.Zone:a'] });
  });

  it('treats regular expression characters in names literally', () => {
    const compiled = compileMetadataAsTags({ 'a.b*': 'x' }, 'label', silentLogger);
    const builder = new TagBuilder();
    applyMetadataAsTags(builder, 'aXb-1', 'v', compiled);
    applyMetadataAsTags(builder, 'a.b-1', 'w', compiled);
    expect(builder.build().low).toEqual(['x:w']);
  });

  it('reports and ignores entries with an empty tag name', () => {
    const logger = new RecordingLogger();
    const compiled = compileMetadataAsTags({ a: '', b: '+', c: 'c' }, 'env', logger);
    expect([...compiled.exact.keys()]).toEqual(['c']);
    expect(logger.at('warn')).toHaveLength(2);
  });
});

describe('JSON tag values', () => {
  it('splits list items at the first colon', () => {
    expect(parseJsonTagList('["url:http://x:8080/a"]')).toEqual({ entries: [['url', 'http://x:8080/a']], problems: [] });
  });

  it('reports bad JSON as one problem', () => {
    expect(parseJsonTagMap('{').problems).toHaveLength(1);
    expect(parseJsonTagList('[').problems).toHaveLength(1);
  });
});

describe('Kubernetes owner names', () => {
  it.each([
    ['checkout-7d9f8c6b5d', 'checkout'],
    ['a-b-c-bcd', 'a-b-c'],
    ['legacy-3847261950', 'legacy'],
    ['x-1', 'x'],
    ['web-bc', undefined],
    ['web-abc', undefined],
    ['web-BCD', undefined],
    ['-bcd', undefined],
    ['web', undefined],
    ['web-', undefined],
  ])('deploymentOfReplicaSet(%j) is %j', (name, expected) => {
    expect(deploymentOfReplicaSet(name)).toBe(expected);
  });

  it.each([
    ['nightly-28930680', 'nightly'],
    ['a-b-123', 'a-b'],
    ['a-12', undefined],
    ['a-12a', undefined],
    ['migrate', undefined],
    ['-123', undefined],
  ])('cronJobOfJob(%j) is %j', (name, expected) => {
    expect(cronJobOfJob(name)).toBe(expected);
  });
});
