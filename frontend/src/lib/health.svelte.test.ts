import { flushSync } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HEALTH as OK, json, stubFetch, type FetchMock } from './fetchstub';
import { HealthMonitor } from './health.svelte';

// The monitor is driven through the real api.ts with a stubbed global fetch,
// so these tests cover the whole path from HTTP answer to page state. This
// file is compiled as a Svelte module (the `.svelte.` infix) and runs on
// Svelte's client runtime (vite.config.ts), so runes behave as in the app.

/** A fetch answer the test releases by hand, to look at the state in between. */
function deferred() {
  let resolve!: (r: Response) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Response>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let fetchMock: FetchMock;
let monitor: HealthMonitor | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-11-26T03:00:00Z'));
  fetchMock = stubFetch();
});

afterEach(() => {
  monitor?.stop();
  monitor = undefined;
  vi.useRealTimers();
});

describe('HealthMonitor', () => {
  it('starts in checking, then shows the first answer', async () => {
    const answer = deferred();
    fetchMock.mockReturnValueOnce(answer.promise);
    monitor = new HealthMonitor();

    monitor.start();
    expect(monitor.kind).toBe('checking');
    expect(monitor.checking).toBe(true);
    expect(monitor.checkedAt).toBeNull();
    expect(fetchMock).toHaveBeenCalledTimes(1);

    answer.resolve(json(OK));
    await vi.advanceTimersByTimeAsync(0);

    expect(monitor.kind).toBe('ok');
    expect(monitor.checking).toBe(false);
    expect(monitor.health?.version).toBe('0.1.0');
    expect(monitor.health?.events.count).toBe(12);
    expect(monitor.checkedAt?.toISOString()).toBe('2026-11-26T03:00:00.000Z');
  });

  it('polls every interval and follows ok -> degraded -> unreachable -> ok', async () => {
    fetchMock
      .mockResolvedValueOnce(json(OK))
      .mockResolvedValueOnce(json({ ...OK, status: 'degraded', read_only: true, problem: 'disk full' }))
      .mockRejectedValueOnce(new TypeError('Failed to fetch'))
      .mockResolvedValueOnce(json({ ...OK, events: { count: 13, head: { position: 13, hash: 'cd34' } } }));
    monitor = new HealthMonitor({ intervalMs: 5000 });

    monitor.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(monitor.kind).toBe('ok');

    await vi.advanceTimersByTimeAsync(4999);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(monitor.kind).toBe('degraded');
    expect(monitor.health?.problem).toBe('disk full');
    expect(monitor.health?.read_only).toBe(true);

    await vi.advanceTimersByTimeAsync(5000);
    expect(monitor.kind).toBe('unreachable');
    expect(monitor.error?.code).toBe('network');
    // The last answer stays, shown as last known.
    expect(monitor.health?.status).toBe('degraded');
    expect(monitor.healthAt?.toISOString()).toBe('2026-11-26T03:00:05.000Z');
    expect(monitor.checkedAt?.toISOString()).toBe('2026-11-26T03:00:10.000Z');

    await vi.advanceTimersByTimeAsync(5000);
    expect(monitor.kind).toBe('ok');
    expect(monitor.error).toBeNull();
    expect(monitor.health?.events.count).toBe(13);
  });

  it('keeps the server error code and message', async () => {
    fetchMock.mockResolvedValue(json({ error: { code: 'unauthorized', message: 'token expired' } }, 401));
    monitor = new HealthMonitor();

    await monitor.check();

    // The server answered, so it is not "unreachable": the page says error.
    expect(monitor.kind).toBe('error');
    expect(monitor.error?.status).toBe(401);
    expect(monitor.error?.code).toBe('unauthorized');
    expect(monitor.error?.message).toBe('token expired');
  });

  it('counts a hung server as unreachable after timeoutMs, and polls again', async () => {
    fetchMock.mockImplementationOnce(
      (_url, init) =>
        new Promise<Response>((_res, reject) => {
          init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    fetchMock.mockResolvedValue(json(OK));
    monitor = new HealthMonitor({ intervalMs: 5000, timeoutMs: 4000 });

    monitor.start();
    await vi.advanceTimersByTimeAsync(3999);
    expect(monitor.kind).toBe('checking');
    await vi.advanceTimersByTimeAsync(1);
    expect(monitor.kind).toBe('unreachable');
    expect(monitor.error?.message).toContain('did not answer');

    await vi.advanceTimersByTimeAsync(5000);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(monitor.kind).toBe('ok');
  });

  it('"Check now" during a check reuses it, and restarts the interval', async () => {
    const answer = deferred();
    fetchMock.mockReturnValueOnce(answer.promise);
    fetchMock.mockResolvedValue(json(OK));
    monitor = new HealthMonitor({ intervalMs: 5000 });

    monitor.start();
    const again = monitor.check();
    expect(fetchMock).toHaveBeenCalledTimes(1);
    answer.resolve(json(OK));
    await again;

    await vi.advanceTimersByTimeAsync(3000);
    await monitor.check(); // manual check at t=3s
    expect(fetchMock).toHaveBeenCalledTimes(2);

    // The next poll is 5 s after the manual check (t=8s), not at t=5s.
    await vi.advanceTimersByTimeAsync(4999);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it('stop() ends polling and ignores the answer in flight', async () => {
    const answer = deferred();
    fetchMock.mockResolvedValueOnce(json(OK));
    fetchMock.mockReturnValueOnce(answer.promise);
    monitor = new HealthMonitor({ intervalMs: 5000 });

    const stop = monitor.start();
    await vi.advanceTimersByTimeAsync(5000); // second check now in flight
    expect(fetchMock).toHaveBeenCalledTimes(2);
    const checkedAt = monitor.checkedAt;

    stop();
    expect(fetchMock.mock.calls[1]![1]?.signal?.aborted).toBe(true);
    answer.resolve(json({ ...OK, status: 'degraded', problem: 'late' }));
    await vi.advanceTimersByTimeAsync(60_000);

    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(monitor.kind).toBe('ok');
    expect(monitor.checking).toBe(false);
    expect(monitor.checkedAt).toBe(checkedAt);
  });

  it('notifies reactive readers (as a component would re-render)', async () => {
    fetchMock
      .mockResolvedValueOnce(json(OK))
      .mockResolvedValueOnce(json({ ...OK, status: 'degraded', problem: 'disk full' }));
    monitor = new HealthMonitor({ intervalMs: 5000 });
    const m = monitor;
    const seen: string[] = [];
    const dispose = $effect.root(() => {
      $effect(() => {
        seen.push(m.kind);
      });
    });

    try {
      flushSync();
      m.start();
      await vi.advanceTimersByTimeAsync(0);
      flushSync();
      await vi.advanceTimersByTimeAsync(5000);
      flushSync();
    } finally {
      dispose();
    }

    expect(seen).toEqual(['checking', 'ok', 'degraded']);
  });
});
