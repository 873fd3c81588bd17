import {
  type BundleEntry,
  type ButlerLogBundle,
  type LogEntry,
  type LogStreamDescriptor,
  type LogStreamState,
  type MemoryCoordinator,
  memoryCoordinator,
  type Storage,
  type TerminateRequest,
  StreamType,
  encodeMessage,
  decodeLogEntry,
  PREFIX_SECRET_LENGTH,
} from '../../src/logs/index.js';

export const testSecret = new Uint8Array(PREFIX_SECRET_LENGTH).fill(0x55);
export const NOW = { seconds: 1_700_000_000, nanos: 0 };
const encoder = new TextEncoder();

/** A coordinator that records calls and can fail on demand, over an in-memory one. */
export interface TestCoordinator extends MemoryCoordinator {
  registerCallback?: (state: LogStreamState) => void;
  terminateCallback?: (request: TerminateRequest) => void;
  registerCalls: number;
  terminateCalls: number;
}

export function testCoordinator(): TestCoordinator {
  const inner = memoryCoordinator();
  const tcc: TestCoordinator = {
    ...inner,
    registerCalls: 0,
    terminateCalls: 0,
    async registerStream(state, desc) {
      tcc.registerCalls++;
      tcc.registerCallback?.(state);
      return inner.registerStream(state, desc);
    },
    async terminateStream(request) {
      tcc.terminateCalls++;
      tcc.terminateCallback?.(request);
      return inner.terminateStream(request);
    },
  };
  return tcc;
}

/** A storage whose put can fail on demand. */
export function failingStorage(inner: Storage, fail: () => Error | undefined): Storage {
  return {
    ...inner,
    put: (request) => {
      const error = fail();
      return error === undefined ? inner.put(request) : Promise.reject(error);
    },
  };
}

/** An error a backend throws, transient or not. */
export function backendError(transient: boolean): Error & { transient: boolean } {
  return Object.assign(new Error('test error'), { transient });
}

/** Builds bundles as LogDog's collector tests do. */
export class BundleBuilder {
  base: {
    project: string;
    prefix: string;
    secret: Uint8Array;
    entries: BundleEntry[];
  } = this.fresh();

  private fresh() {
    return { project: 'test-project', prefix: 'foo', secret: testSecret, entries: [] as BundleEntry[] };
  }

  logEntry(index: number): LogEntry {
    return {
      prefixIndex: 0,
      streamIndex: index,
      sequence: index,
      content: { kind: 'text', lines: [{ value: encoder.encode(`Line #${index}`), delimiter: '\n' }] },
    };
  }

  genBundleEntry(path: string, terminalIndex: number, ...indexes: number[]): BundleEntry & { logs: LogEntry[] } {
    const at = path.indexOf('/+/');
    const desc: LogStreamDescriptor = {
      prefix: path.slice(0, at),
      name: path.slice(at + 3),
      streamType: StreamType.Text,
      contentType: 'application/test-message',
      timestamp: NOW,
      tags: {},
      binaryFileExt: '',
    };
    const logs = indexes.map((i) => this.logEntry(i));
    const terminal = indexes.length > 0 && terminalIndex >= 0;
    return { desc, terminal, terminalIndex: terminal ? terminalIndex : 0, logs };
  }

  addBundleEntry(entry: BundleEntry): void {
    this.base.entries.push(entry);
  }

  addStreamEntries(path: string, terminalIndex: number, ...indexes: number[]): void {
    this.addBundleEntry(this.genBundleEntry(path, terminalIndex, ...indexes));
  }

  addFullStream(path: string, count: number): void {
    this.addStreamEntries(path, count - 1, ...Array.from({ length: count }, (_, i) => i));
  }

  bundleValue(): ButlerLogBundle {
    const b = { ...this.base, timestamp: NOW };
    this.base = this.fresh();
    return b;
  }

  /** The message, compressed as LogDog's tests do; resets the builder. */
  bundle(): Uint8Array {
    return encodeMessage(this.bundleValue(), { compress: true });
  }
}

/** The stream indexes stored for a stream, read back and decoded. */
export async function storedIndexes(storage: Storage, project: string, path: string): Promise<number[]> {
  const entries = await storage.get({ project, path });
  return entries.map((e) => {
    const decoded = decodeLogEntry(e.data);
    if (decoded.streamIndex !== e.index) throw new Error(`entry at ${e.index} holds index ${decoded.streamIndex}`);
    return e.index;
  });
}

export function range(start: number, end: number): number[] {
  return Array.from({ length: end - start + 1 }, (_, i) => start + i);
}
