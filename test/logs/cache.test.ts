import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type Coordinator,
  type LogStreamState,
  type TerminateRequest,
  cachingCoordinator,
} from '../../src/logs/index.js';
import { backendError, NOW, testSecret } from './helpers.js';

const descriptor = {
  prefix: 'test',
  name: 'stream',
  streamType: 0,
  contentType: 'text/plain',
  timestamp: NOW,
  tags: {},
  binaryFileExt: '',
};

/** A coordinator that counts calls, marks its answers 'remote', and can be held or made to fail. */
function countingCoordinator() {
  const c = {
    calls: 0,
    /** Errors to answer with, one per call, before answering normally. */
    errors: [] as Error[],
    /** When set, calls wait for it. */
    hold: undefined as Promise<void> | undefined,
    async registerStream(state: LogStreamState): Promise<LogStreamState> {
      c.calls++;
      if (c.hold !== undefined) await c.hold;
      const error = c.errors.shift();
      if (error !== undefined) throw error;
      return { ...state, protoVersion: 'remote' };
    },
    async terminateStream(_request: TerminateRequest): Promise<void> {
      c.calls++;
      if (c.hold !== undefined) await c.hold;
      const error = c.errors.shift();
      if (error !== undefined) throw error;
    },
  };
  return c satisfies Coordinator;
}

function manualClock() {
  const clock = { t: 0 };
  const scheduler: SchedulerLike = {
    now: () => clock.t,
    schedule: asyncScheduler.schedule.bind(asyncScheduler),
  };
  return { clock, scheduler };
}

const st: LogStreamState = {
  project: 'test-project',
  path: 'test-stream-path',
  id: 'hash12345',
  protoVersion: '1',
  secret: testSecret,
  terminalIndex: -1,
  archived: false,
  purged: false,
};
const tr: TerminateRequest = { project: st.project, path: st.path, secret: testSecret, terminalIndex: 1337 };

function setup(size = 4) {
  const tcc = countingCoordinator();
  const { clock, scheduler } = manualClock();
  const ssc = cachingCoordinator(tcc, { size, expire: 1000, scheduler });
  return { tcc, clock, ssc };
}

describe('cachingCoordinator', () => {
  it('asks the coordinator once per stream', async () => {
    const { tcc, ssc } = setup();
    expect((await ssc.registerStream(st, descriptor)).protoVersion).toBe('remote');
    expect((await ssc.registerStream(st, descriptor)).protoVersion).toBe('remote');
    expect(tcc.calls).toBe(1);
  });

  it('asks again once the entry has expired', async () => {
    const { tcc, clock, ssc } = setup();
    await ssc.registerStream(st, descriptor);
    clock.t += 999;
    await ssc.registerStream(st, descriptor);
    expect(tcc.calls).toBe(1);
    clock.t += 1;
    expect((await ssc.registerStream(st, descriptor)).protoVersion).toBe('remote');
    expect(tcc.calls).toBe(2);
  });

  it('carries the terminal index of a successful terminate into later answers', async () => {
    const { tcc, ssc } = setup();
    await ssc.registerStream(st, descriptor);
    await ssc.terminateStream(tr);
    expect(tcc.calls).toBe(2);
    const s = await ssc.registerStream({ ...st, terminalIndex: 123 }, descriptor);
    expect(s.terminalIndex).toBe(1337);
    expect(s.protoVersion).toBe('remote');
    expect(tcc.calls).toBe(2);
  });

  it('skips terminate when the coordinator is known to hold a terminal index', async () => {
    const { tcc, ssc } = setup();
    await ssc.registerStream({ ...st, terminalIndex: 1337 }, descriptor);
    expect(tcc.calls).toBe(1);
    await ssc.terminateStream({ ...tr, terminalIndex: 12345 });
    expect(tcc.calls).toBe(1);
    const s = await ssc.registerStream({ ...st, terminalIndex: 0 }, descriptor);
    expect(s.terminalIndex).toBe(1337);
    expect(tcc.calls).toBe(1);
  });

  it('collapses concurrent callers into one request', async () => {
    const { tcc, ssc } = setup();
    let release!: () => void;
    tcc.hold = new Promise((r) => (release = r));
    const answers = Array.from({ length: 256 }, () => ssc.registerStream(st, descriptor));
    await new Promise((r) => setTimeout(r, 5));
    expect(tcc.calls).toBe(1);
    release();
    const states = await Promise.all(answers);
    expect(states.every((s) => s.protoVersion === 'remote')).toBe(true);
    expect(tcc.calls).toBe(1);
  });

  it('makes a second request when the first expires while it is pending', async () => {
    const { tcc, clock, ssc } = setup();
    let release!: () => void;
    tcc.hold = new Promise((r) => (release = r));
    const first = ssc.registerStream(st, descriptor);
    clock.t += 1000;
    const second = ssc.registerStream(st, descriptor);
    release();
    expect((await first).protoVersion).toBe('remote');
    expect((await second).protoVersion).toBe('remote');
    expect(tcc.calls).toBe(2);
  });

  it('registers many streams at once, one request each', async () => {
    const { tcc, ssc } = setup(4096);
    const states = await Promise.all(
      Array.from({ length: 2048 }, (_, i) => ssc.registerStream({ ...st, path: `ID:${i}` }, descriptor)),
    );
    expect(states.filter((s) => s.protoVersion === 'remote')).toHaveLength(2048);
    expect(tcc.calls).toBe(2048);
  });

  describe('registerStream failures', () => {
    it('forgets a transient failure: the next call retries and succeeds', async () => {
      const { tcc, ssc } = setup();
      tcc.errors.push(backendError(true));
      await expect(ssc.registerStream(st, descriptor)).rejects.toMatchObject({ transient: true });
      expect(tcc.calls).toBe(1);
      await expect(ssc.registerStream(st, descriptor)).resolves.toMatchObject({ protoVersion: 'remote' });
      expect(tcc.calls).toBe(2);
    });

    it('remembers a permanent failure until the entry expires', async () => {
      const { tcc, clock, ssc } = setup();
      tcc.errors.push(backendError(false));
      await expect(ssc.registerStream(st, descriptor)).rejects.toMatchObject({ transient: false });
      await expect(ssc.registerStream(st, descriptor)).rejects.toMatchObject({ transient: false });
      expect(tcc.calls).toBe(1);
      clock.t += 1000;
      await expect(ssc.registerStream(st, descriptor)).resolves.toMatchObject({ protoVersion: 'remote' });
      expect(tcc.calls).toBe(2);
    });
  });

  describe('terminateStream failures', () => {
    it('forgets a transient failure: the next call retries and succeeds', async () => {
      const { tcc, ssc } = setup();
      tcc.errors.push(backendError(true));
      await expect(ssc.terminateStream(tr)).rejects.toMatchObject({ transient: true });
      expect(tcc.calls).toBe(1);
      await expect(ssc.terminateStream(tr)).resolves.toBeUndefined();
      expect(tcc.calls).toBe(2);
    });

    it('remembers a permanent failure', async () => {
      const { tcc, ssc } = setup();
      tcc.errors.push(backendError(false));
      await expect(ssc.terminateStream(tr)).rejects.toMatchObject({ transient: false });
      await expect(ssc.terminateStream(tr)).rejects.toMatchObject({ transient: false });
      expect(tcc.calls).toBe(1);
    });
  });

  it('keeps streams of different projects apart', async () => {
    const { tcc, ssc } = setup();
    const projects = ['', 'foo', 'bar'];
    for (const [i, project] of projects.entries()) {
      const s = await ssc.registerStream({ ...st, project }, descriptor);
      await ssc.terminateStream({ project: s.project, path: s.path, secret: s.secret, terminalIndex: i });
    }
    expect(tcc.calls).toBe(6);
    for (const [i, project] of projects.entries()) {
      const s = await ssc.registerStream({ ...st, project, terminalIndex: -1 }, descriptor);
      expect(s.terminalIndex).toBe(i);
    }
    expect(tcc.calls).toBe(6);
  });

  it('forgets the least recently used stream beyond its size', async () => {
    const { tcc, ssc } = setup(2);
    await ssc.registerStream({ ...st, path: 'a' }, descriptor);
    await ssc.registerStream({ ...st, path: 'b' }, descriptor);
    await ssc.registerStream({ ...st, path: 'a' }, descriptor); // a is now the most recent
    await ssc.registerStream({ ...st, path: 'c' }, descriptor); // b goes
    expect(tcc.calls).toBe(3);
    await ssc.registerStream({ ...st, path: 'a' }, descriptor);
    expect(tcc.calls).toBe(3);
    await ssc.registerStream({ ...st, path: 'b' }, descriptor);
    expect(tcc.calls).toBe(4);
  });
});
