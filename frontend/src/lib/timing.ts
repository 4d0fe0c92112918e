// Small timing helpers for views that refetch: a debounce for typing, a
// throttle for live batches, and a refresher that keeps one fetch in flight;
// all cancellable when the view goes away.

export interface Timed<A extends unknown[]> {
  (...args: A): void;
  /** Drops a pending call. */
  cancel(): void;
}

/** Calls fn once, ms after the last call (with that call's arguments). */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): Timed<A> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const d = (...args: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn(...args);
    }, ms);
  };
  d.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  return d;
}

/**
 * Calls fn at once, then at most once per ms: calls within the window are
 * folded into one trailing call at its end, so the last change is never lost.
 */
export function throttle(fn: () => void, ms: number): Timed<[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending = false;
  const open = () => {
    timer = setTimeout(() => {
      timer = undefined;
      if (pending) {
        pending = false;
        fn();
        open();
      }
    }, ms);
  };
  const t = () => {
    if (timer !== undefined) {
      pending = true;
      return;
    }
    fn();
    open();
  };
  t.cancel = () => {
    clearTimeout(timer);
    timer = undefined;
    pending = false;
  };
  return t;
}

/**
 * Coalesces refetch requests: at most one fetch in flight, starts at least
 * `minGapMs` apart (or twice the last fetch's duration when that is longer,
 * so a big deployment's refetches never pile up). Errors go to onError.
 */
export class Refresher {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = false;
  #again = false;
  #lastStart = -Infinity;
  #lastDuration = 0;
  #stopped = false;

  constructor(
    readonly run: () => Promise<void>,
    readonly minGapMs = 500,
    readonly onError: (err: unknown) => void = () => {},
    readonly clock: () => number = () => Date.now(),
  ) {}

  get gap(): number {
    return Math.max(this.minGapMs, this.#lastDuration * 2);
  }

  request(): void {
    if (this.#stopped) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) return;
    const wait = this.#lastStart + this.gap - this.clock();
    if (wait <= 0) void this.#go();
    else this.#timer = setTimeout(() => void this.#go(), wait);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #go(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#inFlight = true;
    this.#again = false;
    const start = this.clock();
    this.#lastStart = start;
    try {
      await this.run();
    } catch (err) {
      this.onError(err);
    } finally {
      this.#lastDuration = this.clock() - start;
      this.#inFlight = false;
    }
    if (this.#again) this.request();
  }
}
