/** Where a config file stops being JSON: agrees with JSON.parse on what is JSON, and names the place. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorPosition, positionOf } from '../../src/cli/json-error-position.js';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('jsonErrorPosition', () => {
  it('names the line and column of the fault', () => {
    expect(jsonErrorPosition('{\n  "socket": "/run/t.sock",\n  "pruneInterval": 10,\n}\n')).toEqual({ line: 4, column: 1 });
    expect(jsonErrorPosition('{\n  "disable": ["ecs" "docker"]\n}')).toEqual({ line: 2, column: 21 });
    expect(jsonErrorPosition('{"a": tru}')).toEqual({ line: 1, column: 7 });
    expect(jsonErrorPosition('{"a": 1')).toEqual({ line: 1, column: 8 });
    expect(jsonErrorPosition('')).toEqual({ line: 1, column: 1 });
    expect(jsonErrorPosition('{"a": [1, {"b": null}], "c": "\\u00e9\\n", "d": -1.5e3}')).toBeUndefined();
    expect(positionOf('a\nbc', 3)).toEqual({ line: 2, column: 2 });
  });

  it('finds a fault exactly when JSON.parse refuses the text (JSON, broken JSON, any text)', () => {
    const json = fc.json().map((text) => text);
    // Valid JSON with a character dropped, replaced or inserted: mostly broken, sometimes not.
    const broken = fc.tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', ' ', 'x', '\n')).map(([text, at, insert]) => {
      const i = at % (text.length + 1);
      return text.slice(0, i) + insert + text.slice(i + (insert === ' ' ? 0 : 1));
    });
    fc.assert(
      fc.property(fc.oneof(json, broken, fc.string()), (text) => {
        expect(jsonErrorPosition(text) === undefined).toBe(parses(text));
      }),
      { numRuns: 2000 },
    );
  });
});
