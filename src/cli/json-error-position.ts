/**
 * Where a JSON text stops being JSON, as a line and column, so that a broken config file's error
 * names the place (`JSON.parse` of Node 20 often does not say). Pure.
 */

/**
 * A place in a text: 1-based line and column.
 *
 * @example
 * ```ts
 * const at: TextPosition = { line: 3, column: 12 };
 * ```
 */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/**
 * The line and column of the first character at which `text` is not valid JSON (RFC 8259), or
 * undefined when it is valid. The end of the text counts as a character (an unfinished text fails there).
 *
 * @example
 * ```ts
 * jsonErrorPosition('{\n  "a": 1,\n}'); // { line: 3, column: 1 }
 * ```
 */
export function jsonErrorPosition(text: string): TextPosition | undefined {
  const at = new Scanner(text).check();
  return at === undefined ? undefined : positionOf(text, at);
}

/**
 * The line and column of an offset of `text`.
 *
 * @example
 * ```ts
 * positionOf('a\nbc', 3); // { line: 2, column: 2 }
 * ```
 */
export function positionOf(text: string, offset: number): TextPosition {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i += 1) {
    if (text[i] === '\n') {
      line += 1;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/** Thrown inside the scanner with the offset of the fault; never leaves it. */
class Fault extends Error {
  override readonly name = 'Fault';
  constructor(readonly at: number) {
    super(`not JSON at offset ${at}`);
  }
}

class Scanner {
  private i = 0;
  constructor(private readonly text: string) {}

  check(): number | undefined {
    try {
      this.space();
      this.value();
      this.space();
      if (this.i < this.text.length) throw new Fault(this.i);
      return undefined;
    } catch (error) {
      if (error instanceof Fault) return error.at;
      throw error;
    }
  }

  private space(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] ?? '')) this.i += 1;
  }

  private expect(char: string): void {
    if (this.text[this.i] !== char) throw new Fault(this.i);
    this.i += 1;
  }

  private value(): void {
    const c = this.text[this.i];
    if (c === '{') this.object();
    else if (c === '[') this.array();
    else if (c === '"') this.string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.number();
    else this.word();
  }

  private object(): void {
    this.expect('{');
    this.space();
    if (this.text[this.i] === '}') {
      this.i += 1;
      return;
    }
    for (;;) {
      this.space();
      this.string();
      this.space();
      this.expect(':');
      this.space();
      this.value();
      this.space();
      if (this.text[this.i] !== ',') {
        this.expect('}');
        return;
      }
      this.i += 1;
    }
  }

  private array(): void {
    this.expect('[');
    this.space();
    if (this.text[this.i] === ']') {
      this.i += 1;
      return;
    }
    for (;;) {
      this.space();
      this.value();
      this.space();
      if (this.text[this.i] !== ',') {
        this.expect(']');
        return;
      }
      this.i += 1;
    }
  }

  private string(): void {
    this.expect('"');
    for (;;) {
      const c = this.text[this.i];
      if (c === undefined || c < ' ') throw new Fault(this.i);
      this.i += 1;
      if (c === '"') return;
      if (c === '\\') {
        const e = this.text[this.i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 1, this.i + 5))) throw new Fault(this.i);
          this.i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i += 1;
        else throw new Fault(this.i);
      }
    }
  }

  private number(): void {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i));
    if (match === null) throw new Fault(this.i);
    this.i += match[0].length;
  }

  private word(): void {
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return;
      }
    }
    throw new Fault(this.i);
  }
}
