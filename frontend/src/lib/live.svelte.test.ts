import { describe, expect, it, vi } from 'vitest';
import { LiveFeed, reloadOnLive, touches, WINDOW_EVENT } from './live.svelte';
import { setApiToken } from './api';
import type { LiveMessage } from './types';

function msg(position: number, extra: Partial<LiveMessage> = {}): LiveMessage {
  return { position, type: 'step.output', time: '2026-11-26T03:00:00Z', actor: 'runner', stream: 'deploy/d1', ...extra };
}

/** A scheduler that runs queued frames only when told. */
function frames() {
  const queue: Array<() => void> = [];
  return {
    schedule: (fn: () => void) => queue.push(fn),
    run: () => queue.splice(0).forEach((fn) => fn()),
    pending: () => queue.length,
  };
}

class FakeEventSource {
  static last: FakeEventSource | null = null;
  url: string;
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, (ev: MessageEvent<string>) => void>();
  closed = false;
  constructor(url: string) {
    this.url = url;
    FakeEventSource.last = this;
  }
  addEventListener(kind: string, fn: (ev: MessageEvent<string>) => void) {
    this.listeners.set(kind, fn);
  }
  emit(kind: string, m: LiveMessage) {
    this.listeners.get(kind)?.({ data: JSON.stringify(m) } as MessageEvent<string>);
  }
  close() {
    this.closed = true;
  }
}

describe('LiveFeed', () => {
  it('delivers messages in one batch per frame, in order', () => {
    const f = frames();
    const feed = new LiveFeed({ schedule: f.schedule, wails: null });
    const batches: LiveMessage[][] = [];
    feed.subscribe((b) => batches.push(b));
    for (let i = 1; i <= 500; i++) feed.push(msg(i));
    expect(f.pending()).toBe(1); // 500 messages, one frame scheduled
    f.run();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((m) => m.position)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it('drops messages it has already seen (a replay after reconnecting)', () => {
    const f = frames();
    const feed = new LiveFeed({ schedule: f.schedule, wails: null });
    const got: number[] = [];
    feed.subscribe((b) => got.push(...b.map((m) => m.position)));
    feed.push(msg(1));
    feed.push(msg(2));
    feed.push(msg(2));
    feed.push(msg(1));
    feed.push(msg(3));
    f.run();
    expect(got).toEqual([1, 2, 3]);
    expect(feed.last).toBe(3);
  });

  it('opens the SSE stream with a one-time ticket, never a token, and resumes from the last position', async () => {
    const f = frames();
    setApiToken('rd_secret');
    let n = 0;
    const feed = new LiveFeed({
      schedule: f.schedule,
      wails: null,
      ticket: async () => `rdt_${++n}`,
      eventSource: (u) => new FakeEventSource(u) as unknown as EventSource,
    });
    const got: LiveMessage[] = [];
    feed.subscribe((b) => got.push(...b));
    feed.connect();
    expect(feed.status).toBe('connecting');
    await vi.waitFor(() => expect(FakeEventSource.last?.url).toBe('/api/v1/stream?ticket=rdt_1'));
    const es1 = FakeEventSource.last!;
    expect(es1.url).not.toContain('rd_secret');
    es1.onopen?.();
    expect(feed.status).toBe('live');
    es1.emit('output', msg(7, { text: 'hello\n' }));
    es1.emit('release', msg(8, { type: 'release.approved', release: '4' }));
    f.run();
    expect(got.map((m) => m.text ?? m.type)).toEqual(['hello\n', 'release.approved']);

    feed.connect(); // e.g. after signing in again
    expect(es1.closed).toBe(true);
    await vi.waitFor(() => expect(FakeEventSource.last?.url).toBe('/api/v1/stream?ticket=rdt_2&since=8'));
    feed.disconnect();
    setApiToken(null);
  });

  it('reconnects after a drop with a new ticket (the old one is spent), after a wait', async () => {
    vi.useFakeTimers();
    try {
      let n = 0;
      const feed = new LiveFeed({
        schedule: (fn) => fn(),
        wails: null,
        retryMs: [1000, 5000],
        ticket: async () => `rdt_${++n}`,
        eventSource: (u) => new FakeEventSource(u) as unknown as EventSource,
      });
      feed.connect();
      await vi.waitFor(() => expect(FakeEventSource.last?.url).toBe('/api/v1/stream?ticket=rdt_1'));
      const es1 = FakeEventSource.last!;
      es1.onopen?.();
      es1.emit('host', msg(12, { type: 'deploy.host_started' }));
      es1.onerror?.();
      expect(es1.closed).toBe(true);
      expect(feed.status).toBe('reconnecting');
      await vi.advanceTimersByTimeAsync(999);
      expect(FakeEventSource.last).toBe(es1); // waits before trying again
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeEventSource.last?.url).toBe('/api/v1/stream?ticket=rdt_2&since=12');
      feed.disconnect();
      await vi.advanceTimersByTimeAsync(60000);
      expect(FakeEventSource.last?.url).toBe('/api/v1/stream?ticket=rdt_2&since=12'); // stopped for good
      expect(feed.status).toBe('off');
    } finally {
      vi.useRealTimers();
    }
  });

  it('listens to the Wails event inside the desktop window', () => {
    const f = frames();
    let handler: ((...data: unknown[]) => void) | undefined;
    const off = vi.fn();
    const wails = {
      EventsOn: (name: string, cb: (...data: unknown[]) => void) => {
        expect(name).toBe(WINDOW_EVENT);
        handler = cb;
        return off;
      },
    };
    const feed = new LiveFeed({ schedule: f.schedule, wails });
    const got: number[] = [];
    feed.subscribe((b) => got.push(...b.map((m) => m.position)));
    feed.connect();
    expect(feed.status).toBe('live');
    handler?.('output', msg(1));
    handler?.('step', msg(2, { type: 'step.finished' }));
    f.run();
    expect(got).toEqual([1, 2]);
    feed.disconnect();
    expect(off).toHaveBeenCalledOnce();
    expect(feed.status).toBe('off');
  });

  it('keeps delivering to other listeners when one throws', () => {
    const f = frames();
    const feed = new LiveFeed({ schedule: f.schedule, wails: null });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const got: number[] = [];
    feed.subscribe(() => {
      throw new Error('boom');
    });
    feed.subscribe((b) => got.push(...b.map((m) => m.position)));
    feed.push(msg(1));
    f.run();
    expect(got).toEqual([1]);
    expect(errors).toHaveBeenCalled();
  });
});

describe('touches', () => {
  it('matches a batch on every given field', () => {
    const b = [msg(1, { deployment: 'd1', project: 'shop' }), msg(2, { release: '4', project: 'shop' })];
    expect(touches(b, { deployment: 'd1' })).toBe(true);
    expect(touches(b, { deployment: 'd2' })).toBe(false);
    expect(touches(b, { release: '4', project: 'shop' })).toBe(true);
    expect(touches(b, { release: '4', project: 'blog' })).toBe(false);
  });
});

describe('reloadOnLive', () => {
  it('reloads on the batches that matter, at most once per window, until stopped', () => {
    vi.useFakeTimers();
    try {
      const f = frames();
      const feed = new LiveFeed({ schedule: f.schedule, wails: null });
      const reload = vi.fn();
      const stop = reloadOnLive(feed, (b) => b.some((m) => m.type.startsWith('user.')), reload, 2000);
      feed.push(msg(1));
      f.run();
      expect(reload).not.toHaveBeenCalled(); // output only: nothing to reload
      feed.push(msg(2, { type: 'user.created' }));
      f.run();
      expect(reload).toHaveBeenCalledTimes(1);
      feed.push(msg(3, { type: 'user.disabled' }));
      f.run();
      expect(reload).toHaveBeenCalledTimes(1); // folded into the trailing call
      vi.advanceTimersByTime(2000);
      expect(reload).toHaveBeenCalledTimes(2);
      feed.push(msg(4, { type: 'user.enabled' }));
      f.run();
      stop(); // drops the pending trailing call and the subscription
      vi.advanceTimersByTime(5000);
      feed.push(msg(5, { type: 'user.created' }));
      f.run();
      expect(reload).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
