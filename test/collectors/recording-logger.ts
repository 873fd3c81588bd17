import type { LogFields, Logger } from '../../src/util/logger.js';

/** One call to a {@link RecordingLogger}. */
export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields | undefined;
}

/** A logger that keeps what it is told, for assertions. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  debug(message: string, fields?: LogFields): void {
    this.records.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.records.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.records.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.records.push({ level: 'error', message, fields });
  }
  at(level: LogRecord['level']): LogRecord[] {
    return this.records.filter((record) => record.level === level);
  }
}
