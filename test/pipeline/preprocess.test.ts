import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { PipelineTelemetry, PreprocessError, preprocessWith, stripManagedFields } from '../../src/pipeline/index.js';
import type { Entry } from '../../src/pipeline/index.js';
import type { Logger, LogFields } from '../../src/util/logger.js';
import { entry, uids } from './fixtures.js';

function recordingLogger(): Logger & { errors: LogFields[] } {
  const errors: LogFields[] = [];
  const nop = (): void => undefined;
  return { errors, debug: nop, info: nop, warn: nop, error: (_m, f) => void errors.push(f ?? {}) };
}

describe('preprocess', () => {
  it('runs the functions in order, each on the output of the previous one', async () => {
    const rename = (tag: string) => (e: Entry): Entry => ({ ...e, object: { ...e.object, kind: `${e.object.kind ?? ''}${tag}` } });
    const out = await lastValueFrom(from([entry('a')]).pipe(preprocessWith({}, rename('1'), rename('2')), toArray()));
    expect(out[0]!.object.kind).toBe('12');
  });

  it('drops an entry on null (counted as filtered) and keeps the others in order', async () => {
    const telemetry = new PipelineTelemetry();
    const out = await lastValueFrom(
      from([entry('a'), entry('b'), entry('c')]).pipe(preprocessWith({ telemetry }, (e) => (e.uid === 'b' ? null : e)), toArray()),
    );
    expect(uids(out)).toBe('ac');
    expect(telemetry.snapshot().dropped['preprocess-filtered']).toBe(1);
  });

  it('a throwing function drops that entry with a counted, logged PreprocessError; the stream goes on', async () => {
    const logger = recordingLogger();
    const telemetry = new PipelineTelemetry();
    function explode(e: Entry): Entry {
      if (e.uid === 'b') throw new Error('bad object');
      return e;
    }
    const later: string[] = [];
    const out = await lastValueFrom(
      from([entry('a'), entry('b'), entry('c')]).pipe(
        preprocessWith({ logger, telemetry }, explode, (e) => (later.push(e.uid), e)),
        toArray(),
      ),
    );
    expect(uids(out)).toBe('ac');
    expect(later).toEqual(['a', 'c']); // the later step never saw the dropped entry
    expect(telemetry.snapshot().dropped['preprocess-error']).toBe(1);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]!['preprocessor']).toBe('explode');
    expect(logger.errors[0]!['error']).toBeInstanceOf(PreprocessError);
  });

  it('refuses a function that returns something else than an entry or null', async () => {
    const logger = recordingLogger();
    const broken = (() => undefined) as unknown as (e: Entry) => Entry;
    const out = await lastValueFrom(from([entry('a')]).pipe(preprocessWith({ logger }, broken), toArray()));
    expect(out).toEqual([]);
    expect(logger.errors).toHaveLength(1);
  });

  it('stripManagedFields removes managedFields without touching the input', () => {
    const input: Entry = { ...entry('a'), object: { metadata: { uid: 'a', managedFields: [{ manager: 'kubectl' }] } } };
    const out = stripManagedFields(input);
    expect(out.object.metadata).toEqual({ uid: 'a' });
    expect(input.object.metadata?.managedFields).toHaveLength(1);
  });
});
