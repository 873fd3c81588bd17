import { type Observable, type Subscription } from 'rxjs';
import { jsonCodec, type KeyCodec } from '../../src/kvstore/index.js';
import type { LogFields, Logger } from '../../src/util/logger.js';

/** The key type of the contract tests: a name and a value. */
export interface Item {
  readonly name: string;
  readonly value: string;
}

/** The codec of {@link Item}: JSON, named by `name`, checked when read. */
export const itemCodec: KeyCodec<Item> = jsonCodec<Item>({
  keyName: (item) => item.name,
  parse: (value) => {
    if (typeof value !== 'object' || value === null) return undefined;
    const { name, value: v } = value as Record<string, unknown>;
    return typeof name === 'string' && typeof v === 'string' ? { name, value: v } : undefined;
  },
});

let counter = 0;
/** A prefix no other case uses, so cases can share one server. */
export const freshPrefix = (label = 'store'): string => `test/${label}-${process.pid}-${++counter}-${Date.now()}`;

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects what an Observable emits (and whether it completed) until `stop()`. */
export function record<T>(source$: Observable<T>): { readonly values: T[]; readonly done: () => boolean; stop(): void } {
  const values: T[] = [];
  let completed = false;
  const subscription: Subscription = source$.subscribe({
    next: (value) => values.push(value),
    complete: () => {
      completed = true;
    },
  });
  return { values, done: () => completed, stop: () => subscription.unsubscribe() };
}

/** A logger that keeps every line, to assert what was reported. */
export function recordingLogger(): Logger & { readonly lines: { level: string; message: string; fields?: LogFields }[] } {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields): void => {
    lines.push(fields === undefined ? { level, message } : { level, message, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The cache of a store as a plain object, name -> value. */
export function cacheOf(keys: ReadonlyMap<string, Item>): Record<string, string> {
  return Object.fromEntries([...keys].map(([name, item]) => [name, item.value]));
}
