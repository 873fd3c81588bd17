/**
 * The Docker collector's own state machine (connection, retries, counters), without IO: examples,
 * and properties against a simple model — whatever the sequence of inputs, reconnection delays
 * follow `backoffDelay` over the losses since the last complete list, an inspect is retried at most
 * `inspectRetries` times and only when retryable, every counter counts its inputs, and the stream
 * resumes from the latest event seen (else from the last open).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDockerCollectorState, resumeFrom, stepDockerCollector } from '../../../src/collectors/docker/collector-state.js';
import type { DockerCollectorInput, DockerCollectorOutput } from '../../../src/collectors/docker/collector-state.js';
import { DockerCollectorError } from '../../../src/collectors/docker/errors.js';
import { backoffDelay } from '../../../src/util/backoff.js';

const CONFIG = { reconnect: { initial: 500, max: 30_000 }, inspectRetries: 4, inspectRetry: { initial: 500, max: 4_000 } };
const LOST = new DockerCollectorError('events-ended', 'the event stream ended');

describe('stepDockerCollector', () => {
  it('starts idle with every counter at 0', () => {
    const state = createDockerCollectorState(CONFIG);
    expect(state.status).toEqual({ status: 'idle' });
    expect(Object.values(state.counters).every((n) => n === 0)).toBe(true);
    expect(resumeFrom(state)).toBeUndefined();
  });

  it('connects, loses the daemon with a doubling delay, and resets the backoff on a complete list', () => {
    const state = createDockerCollectorState(CONFIG);
    stepDockerCollector(state, { type: 'subscribed' });
    stepDockerCollector(state, { type: 'opening' });
    expect(state.status).toEqual({ status: 'connecting', attempt: 0 });
    expect(stepDockerCollector(state, { type: 'lost', reason: LOST })).toEqual({ type: 'reconnect', attempt: 1, delayMs: 500 });
    expect(state.status).toEqual({ status: 'retrying', attempt: 1, delayMs: 500, reason: LOST });
    stepDockerCollector(state, { type: 'opening' });
    expect(state.status).toEqual({ status: 'connecting', attempt: 1 });
    expect(stepDockerCollector(state, { type: 'lost', reason: LOST })).toEqual({ type: 'reconnect', attempt: 2, delayMs: 1000 });
    stepDockerCollector(state, { type: 'listed', containers: 3 });
    expect(state.status).toEqual({ status: 'connected', containers: 3 });
    expect(stepDockerCollector(state, { type: 'lost', reason: LOST })).toEqual({ type: 'reconnect', attempt: 1, delayMs: 500 });
    expect(state.counters.reconnects).toBe(3);
    stepDockerCollector(state, { type: 'unsubscribed' });
    expect(state.status).toEqual({ status: 'idle' });
  });

  it('retries an inspect 500, 1000, 2000, 4000 ms, then gives up; never a failure that is not retryable', () => {
    const state = createDockerCollectorState(CONFIG);
    const outputs = [0, 1, 2, 3, 4].map((retry) => stepDockerCollector(state, { type: 'inspectFailed', retry, retryable: true }));
    expect(outputs).toEqual([
      { type: 'retryInspect', retry: 1, delayMs: 500 },
      { type: 'retryInspect', retry: 2, delayMs: 1000 },
      { type: 'retryInspect', retry: 3, delayMs: 2000 },
      { type: 'retryInspect', retry: 4, delayMs: 4000 },
      { type: 'giveUp', attempts: 5 },
    ]);
    expect(stepDockerCollector(state, { type: 'inspectFailed', retry: 0, retryable: false })).toEqual({ type: 'giveUp', attempts: 1 });
    expect(state.counters).toMatchObject({ inspectRetries: 4, inspectGiveUps: 2 });
  });

  it('resumes from the latest event time, else from the last open; a fresh subscription forgets both', () => {
    const state = createDockerCollectorState(CONFIG);
    stepDockerCollector(state, { type: 'opened', daemonTime: 100 });
    expect(resumeFrom(state)).toBe(100);
    stepDockerCollector(state, { type: 'opened', daemonTime: undefined });
    expect(resumeFrom(state)).toBe(100);
    stepDockerCollector(state, { type: 'event', time: 120 });
    stepDockerCollector(state, { type: 'event', time: 110 });
    stepDockerCollector(state, { type: 'event', time: 0 });
    expect(resumeFrom(state)).toBe(120);
    expect(state.counters.events).toBe(3);
    stepDockerCollector(state, { type: 'subscribed' });
    expect(resumeFrom(state)).toBeUndefined();
  });

  it('counts the deletes of vanished and expired containers only', () => {
    const state = createDockerCollectorState(CONFIG);
    for (const reason of ['tags', 'destroyed', 'expired', 'vanished', 'gone', 'vanished'] as const) stepDockerCollector(state, { type: 'emitted', reason });
    expect(state.counters).toMatchObject({ vanished: 2, expired: 1 });
  });
});

const input: fc.Arbitrary<DockerCollectorInput> = fc.oneof(
  fc.constant<DockerCollectorInput>({ type: 'subscribed' }),
  fc.constant<DockerCollectorInput>({ type: 'opening' }),
  fc.option(fc.integer({ min: 1, max: 1_000 }), { nil: undefined }).map((daemonTime): DockerCollectorInput => ({ type: 'opened', daemonTime })),
  fc.constant<DockerCollectorInput>({ type: 'malformedEvent' }),
  fc.integer({ min: 0, max: 1_000 }).map((time): DockerCollectorInput => ({ type: 'event', time })),
  fc.nat(50).map((containers): DockerCollectorInput => ({ type: 'listed', containers })),
  fc.constant<DockerCollectorInput>({ type: 'lost', reason: LOST }),
  fc.constant<DockerCollectorInput>({ type: 'inspectSent' }),
  fc.constant<DockerCollectorInput>({ type: 'inspectError' }),
  fc.record({ retry: fc.nat(8), retryable: fc.boolean() }).map(({ retry, retryable }): DockerCollectorInput => ({ type: 'inspectFailed', retry, retryable })),
  fc.constantFrom('tags', 'destroyed', 'expired', 'vanished', 'gone').map((reason): DockerCollectorInput => ({ type: 'emitted', reason })),
  fc.constant<DockerCollectorInput>({ type: 'unsubscribed' }),
);

const bounds = fc
  .record({ initial: fc.integer({ min: 1, max: 10_000 }), extra: fc.integer({ min: 0, max: 100_000 }) })
  .map(({ initial, extra }) => ({ initial, max: initial + extra }));

describe('stepDockerCollector properties', () => {
  it('agrees with a simple model on every sequence of inputs', () => {
    fc.assert(
      fc.property(bounds, bounds, fc.nat(6), fc.array(input, { maxLength: 200 }), (reconnect, inspectRetry, inspectRetries, inputs) => {
        const state = createDockerCollectorState({ reconnect, inspectRetries, inspectRetry });
        // The model: losses since the last list or subscription, and the counts of each input.
        let losses = 0;
        let lastEvent: number | undefined;
        let lastOpen: number | undefined;
        const count = (type: DockerCollectorInput['type']): number => inputs.filter((i) => i.type === type).length;
        let retries = 0;
        let giveUps = 0;
        for (const i of inputs) {
          const out: DockerCollectorOutput = stepDockerCollector(state, i);
          switch (i.type) {
            case 'subscribed':
              losses = 0;
              lastEvent = undefined;
              lastOpen = undefined;
              break;
            case 'listed':
              losses = 0;
              expect(state.status).toEqual({ status: 'connected', containers: i.containers });
              break;
            case 'opened':
              lastOpen = i.daemonTime ?? lastOpen;
              break;
            case 'event':
              if (i.time > 0) lastEvent = Math.max(lastEvent ?? 0, i.time);
              break;
            case 'lost':
              losses += 1;
              expect(out).toEqual({ type: 'reconnect', attempt: losses, delayMs: backoffDelay(losses, reconnect.initial, reconnect.max) });
              expect(out.type === 'reconnect' && out.delayMs >= reconnect.initial && out.delayMs <= reconnect.max).toBe(true);
              expect(state.status).toMatchObject({ status: 'retrying', attempt: losses });
              break;
            case 'inspectFailed':
              if (i.retryable && i.retry < inspectRetries) {
                retries += 1;
                expect(out).toEqual({ type: 'retryInspect', retry: i.retry + 1, delayMs: backoffDelay(i.retry + 1, inspectRetry.initial, inspectRetry.max) });
              } else {
                giveUps += 1;
                expect(out).toEqual({ type: 'giveUp', attempts: i.retry + 1 });
              }
              break;
            case 'opening':
              expect(state.status).toEqual({ status: 'connecting', attempt: losses });
              break;
            case 'unsubscribed':
              expect(state.status).toEqual({ status: 'idle' });
              break;
            default:
              expect(out).toEqual({ type: 'none' });
          }
          expect(state.attempt).toBe(losses);
          expect(resumeFrom(state)).toBe(lastEvent ?? lastOpen);
        }
        const emitted = (reason: string): number => inputs.filter((i) => i.type === 'emitted' && i.reason === reason).length;
        expect(state.counters).toEqual({
          events: count('event'),
          malformedEvents: count('malformedEvent'),
          inspects: count('inspectSent'),
          inspectErrors: count('inspectError'),
          inspectRetries: retries,
          inspectGiveUps: giveUps,
          reconnects: count('lost'),
          vanished: emitted('vanished'),
          expired: emitted('expired'),
        });
      }),
      { numRuns: 300 },
    );
  });
});
