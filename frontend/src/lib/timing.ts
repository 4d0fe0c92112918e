// Small timing helpers for views that refetch: a debounce for typing and a
// throttle for live batches, both cancellable when the view goes away.

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
