/**
 * The lines an event stream holds for its reader, oldest first, taken in pieces of a bounded size
 * (a line longer than the piece goes in several). No IO: the stream writer (event-stream.ts) hands
 * the pieces to the socket.
 *
 * @example
 * ```ts
 * const queue = new LineQueue();
 * queue.push('{"type":"modified",...}\n');
 * queue.take(64 * 1024); // the line, whole
 * queue.isEmpty(); // true
 * ```
 */
export class LineQueue {
  private readonly lines: string[] = [];
  /** Lines before this one are taken. */
  private start = 0;
  /** Characters of the first line not yet taken that are taken already. */
  private head = 0;
  /** Bytes of the lines held (less what is taken of the first one, approximately). */
  private bytes = 0;

  /** Adds a line at the end. */
  push(line: string): void {
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line);
  }

  /** True when nothing is held. */
  isEmpty(): boolean {
    return this.start === this.lines.length;
  }

  /** Bytes held (approximately, once a line was taken in part). */
  get queuedBytes(): number {
    return this.bytes;
  }

  /**
   * Bytes held behind the line the reader will take next: what a backlog bound is checked
   * against, so that one line larger than the bound does not cut a reader that reads.
   */
  waitingBytes(): number {
    const next = this.lines[this.start];
    return this.bytes - (next === undefined ? 0 : Buffer.byteLength(next) - this.head);
  }

  /**
   * Takes up to `limit` characters from the front: whole lines while they fit, and a line longer
   * than what is left of `limit` in part (the rest of it comes first next time). '' when empty.
   */
  take(limit: number): string {
    let text = '';
    while (this.start < this.lines.length && text.length < limit) {
      const line = this.lines[this.start] ?? '';
      const piece = line.slice(this.head, this.head + limit - text.length);
      text += piece;
      this.head += piece.length;
      if (this.head < line.length) break;
      this.lines[this.start] = '';
      this.start += 1;
      this.head = 0;
    }
    this.bytes = Math.max(0, this.bytes - Buffer.byteLength(text));
    if (this.start === this.lines.length) {
      this.lines.length = 0;
      this.start = 0;
    } else if (this.start > 1024 && this.start * 2 > this.lines.length) {
      this.lines.splice(0, this.start);
      this.start = 0;
    }
    return text;
  }

  /** Takes everything held, as one string. */
  takeAll(): string {
    const rest = this.lines.slice(this.start);
    if (rest.length > 0 && rest[0] !== undefined) rest[0] = rest[0].slice(this.head);
    this.clear();
    return rest.join('');
  }

  /** Drops everything held. */
  clear(): void {
    this.lines.length = 0;
    this.start = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
