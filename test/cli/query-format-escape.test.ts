/**
 * Issue 11, item 4: control characters in entity ids and tags cannot forge lines nor send terminal
 * escapes in the text output of `tag`, `list` and `watch`; `--json` stays exact.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeControls, formatEntities, formatStreamLine, formatTags } from '../../src/cli/query-format.js';

/** A control character other than the line ends the formatter writes itself. */
function controls(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0)).filter((c) => c !== 0x0a && (c < 0x20 || (c >= 0x7f && c <= 0x9f)));
}

/** Strings rich in control characters. */
const nasty = fc.string({ unit: fc.oneof(fc.constantFrom('\n', '\r', '\t', '\x1b', '\x7f', '\u009b', '\u0085', '\0', '[', '\\'), fc.string({ maxLength: 1 })), maxLength: 12 });

describe('escapeControls', () => {
  it('writes C0, DEL and C1 controls as escapes', () => {
    expect(escapeControls('a\nenv:prod')).toBe('a\\nenv:prod');
    expect(escapeControls('\r\t')).toBe('\\r\\t');
    expect(escapeControls('\x1b[2J\x07')).toBe('\\x1b[2J\\x07');
    expect(escapeControls('\x7f\u009b\u0085')).toBe('\\x7f\\u009b\\u0085');
  });

  it('leaves text without controls as it is (unicode and backslashes too)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(controls(text).length === 0 && !text.includes('\n'));
        expect(escapeControls(text)).toBe(text);
      }),
    );
  });
});

describe('text output', () => {
  it('tag: one line per tag, whatever the tags hold, and no control character', () => {
    fc.assert(
      fc.property(fc.array(nasty, { maxLength: 8 }), (tags) => {
        const text = formatTags({ entity: 'container_id://a', cardinality: 'low', tags }, false);
        expect(text.split('\n').slice(0, -1)).toHaveLength(tags.length);
        expect(controls(text)).toEqual([]);
      }),
    );
  });

  it('list: the lines are the layout’s, whatever the entity ids and tags hold', () => {
    fc.assert(
      fc.property(nasty, fc.array(nasty, { minLength: 1, maxLength: 5 }), (id, tags) => {
        const entity = `container_id://${id}`;
        const text = formatEntities({ entities: [{ entity, sources: ['docker'], tags: { low: tags, orchestrator: tags, high: tags } }] }, false);
        // Entity line, one `low` line, the count.
        expect(text.split('\n').slice(0, -1)).toHaveLength(3);
        expect(controls(text)).toEqual([]);
      }),
    );
  });

  it('watch: one line per event', () => {
    fc.assert(
      fc.property(nasty, fc.array(nasty, { maxLength: 5 }), (id, tags) => {
        const text = formatStreamLine({ type: 'added', entity: `container_id://${id}`, tags }, 0, false);
        expect(text.split('\n')).toHaveLength(2);
        expect(controls(text)).toEqual([]);
      }),
    );
  });

  it('--json keeps every character', () => {
    fc.assert(
      fc.property(fc.array(nasty, { maxLength: 8 }), (tags) => {
        const text = formatTags({ entity: 'container_id://a', cardinality: 'low', tags }, true);
        expect((JSON.parse(text) as { tags: string[] }).tags).toEqual(tags);
        const line = formatStreamLine({ type: 'modified', entity: 'container_id://a', tags }, 0, true);
        expect((JSON.parse(line) as { tags: string[] }).tags).toEqual(tags);
      }),
    );
  });
});
