import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Refresher, debounce, throttle } from './timing';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('debounce', () => {
  it('calls once, after the last call, with its arguments', () => {
    const fn = vi.fn();
    const d = debounce(fn, 200);
    d('a');
    vi.advanceTimersByTime(150);
    d('ab');
    vi.advanceTimersByTime(150);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(50);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith('ab');
  });

  it('cancel drops the pending call', () => {
    const fn = vi.fn();
    const d = debounce(fn, 100);
    d();
    d.cancel();
    vi.advanceTimersByTime(500);
    expect(fn).not.toHaveBeenCalled();
  });
});

describe('throttle', () => {
  it('calls at once, then folds a burst into one trailing call', () => {
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t();
    expect(fn).toHaveBeenCalledTimes(1);
    t();
    t();
    t();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(999);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5000);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('calls at once again after a quiet window', () => {
    const fn = vi.fn();
    const t = throttle(fn, 100);
    t();
    vi.advanceTimersByTime(100);
    t();
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('keeps at most one call per window under a steady stream', () => {
    const fn = vi.fn();
    const t = throttle(fn, 100);
    for (let i = 0; i < 50; i++) {
      t();
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(200);
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(5);
    expect(fn.mock.calls.length).toBeLessThanOrEqual(7);
  });

  it('cancel drops the trailing call', () => {
    const fn = vi.fn();
    const t = throttle(fn, 100);
    t();
    t();
    t.cancel();
    vi.advanceTimersByTime(500);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe('Refresher', () => {
  it('runs at once, then at most once per gap, one in flight', async () => {
    let runs = 0;
    let release: () => void = () => {};
    const r = new Refresher(
      () =>
        new Promise<void>((res) => {
          runs++;
          release = res;
        }),
      500,
      undefined,
      () => Date.now(),
    );
    r.request();
    expect(runs).toBe(1);
    r.request();
    r.request(); // in flight: one more after it
    expect(runs).toBe(1);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1); // waits out the gap
    await vi.advanceTimersByTimeAsync(500);
    expect(runs).toBe(2);
    release();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 20; i++) r.request();
    await vi.advanceTimersByTimeAsync(499);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(3);
    release();
    r.stop();
    r.request();
    await vi.advanceTimersByTimeAsync(2000);
    expect(runs).toBe(3);
  });

  it('reports errors and keeps going', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const r = new Refresher(async () => {
      n++;
      if (n === 1) throw new Error('boom');
    }, 100, (e) => errors.push(e));
    r.request();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    r.request();
    await vi.advanceTimersByTimeAsync(100);
    expect(n).toBe(2);
  });
});
