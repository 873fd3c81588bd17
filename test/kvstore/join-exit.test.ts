import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/join-unreachable.ts', import.meta.url));

describe('joinSharedStore in a process that does nothing else', () => {
  it('keeps the process alive until the join rejects with KvJoinTimeoutError', () => {
    // Port 1 on loopback: nothing listens, so etcd never answers.
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, '127.0.0.1:1', '1500'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout).toContain('rejected: KvJoinTimeoutError');
  });
});
