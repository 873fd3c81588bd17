import { readFileSync } from 'node:fs';
import { firstValueFrom, of } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CreateTaggerOptions,
  type DefaultTaggerApi,
  TaggerAlreadyInitializedError,
  TaggerNotInitializedError,
  silentLogger,
  streamCollector,
  tagInfo,
} from '../../src/index.js';
import * as local from '../../src/tagger/default/local.js';

const A = 'container_id://a';
const config: CreateTaggerOptions = {
  collectors: [streamCollector('static', of(tagInfo({ entity: A, source: 'static', low: ['team:core'] })))],
  logger: silentLogger,
};

afterEach(() => {
  local.shutdown();
});

describe('the default tagger (tagstream/default, local)', () => {
  it('implements the default tagger API', () => {
    const api: DefaultTaggerApi<CreateTaggerOptions> = local;
    expect(Object.keys(api).sort()).toEqual(['defaultTagger', 'init', 'shutdown', 'tag', 'tags$']);
  });

  it('says to call init when used before it', async () => {
    await expect(local.tag(A)).rejects.toBeInstanceOf(TaggerNotInitializedError);
    await expect(local.tag(A)).rejects.toThrow(/call init\(config\)/);
    await expect(firstValueFrom(local.tags$(A))).rejects.toBeInstanceOf(TaggerNotInitializedError);
    expect(() => local.defaultTagger()).toThrow(TaggerNotInitializedError);
  });

  it('answers tag() and tags$() after init, and refuses a second init', async () => {
    local.init(config);
    expect(await local.tag(A)).toEqual(['team:core']);
    expect(await firstValueFrom(local.tags$(A))).toEqual(['team:core']);
    expect(() => local.init(config)).toThrow(TaggerAlreadyInitializedError);
    expect(local.defaultTagger().telemetry().entities).toBe(1);
  });

  it('can be initialized again after shutdown', async () => {
    local.init(config);
    local.shutdown();
    local.shutdown();
    await expect(local.tag(A)).rejects.toBeInstanceOf(TaggerNotInitializedError);
    local.init(config);
    expect(await local.tag(A)).toEqual(['team:core']);
  });

  it('is what the package export tagstream/default resolves to, types first', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      exports: Record<string, Record<string, string> | string>;
    };
    const entry = pkg.exports['./default'];
    expect(typeof entry).toBe('object');
    const conditions = entry as Record<string, string>;
    expect(Object.keys(conditions)[0]).toBe('types');
    expect(conditions.default).toBe('./dist/tagger/default/local.js');
  });
});
