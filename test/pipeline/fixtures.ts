import type { Entry, EntryChange, EntryKind, KubeObject } from '../../src/pipeline/index.js';

/** A test entry for `uid` with `change`; `tag` tells entries of the same uid apart. */
export function entry(uid: string, change: EntryChange = 'add', tag = '', kind: EntryKind = 'pod'): Entry {
  const object: KubeObject = { metadata: { uid, name: `${uid}${tag}`, namespace: 'default' } };
  return { uid, kind, change, object, source: 'test', observedAt: 0 };
}

/** The uids of a batch, joined, for compact assertions. */
export const uids = (batch: readonly Entry[]): string => batch.map((e) => e.uid).join('');
