// Live updates from the server, the same in both homes of the page: in a
// browser from the SSE stream (/api/v1/stream), in the desktop window from
// Wails events (a Wails asset-server response cannot stream). Listeners get
// messages in batches, at most one batch per animation frame, so a
// deployment to 100 hosts with steady output costs one render per frame.

import { streamTicket, streamURL } from './api';
import { throttle } from './timing';
import type { LiveKind, LiveMessage } from './types';

const KINDS: LiveKind[] = ['release', 'deployment', 'host', 'step', 'output', 'project', 'user', 'other'];

/** The Wails event carrying the stream's messages (app.WindowEventName). */
export const WINDOW_EVENT = 'releasedesk:event';

interface WailsRuntime {
  EventsOn(name: string, cb: (...data: unknown[]) => void): () => void;
}

function wailsRuntime(): WailsRuntime | null {
  const rt = (globalThis as { runtime?: Partial<WailsRuntime> }).runtime;
  return rt && typeof rt.EventsOn === 'function' ? (rt as WailsRuntime) : null;
}

export type LiveStatus = 'off' | 'connecting' | 'live' | 'reconnecting';

type Listener = (batch: LiveMessage[]) => void;

export interface LiveOptions {
  /** Injection points for tests. */
  eventSource?: (url: string) => EventSource;
  /** Fetches a one-time stream ticket (default: POST /api/v1/stream/ticket). */
  ticket?: () => Promise<string>;
  /** Waits before each reconnect in ms, the last one repeating. */
  retryMs?: readonly number[];
  schedule?: (fn: () => void) => void;
  wails?: WailsRuntime | null;
}

const RETRY_MS = [1000, 2000, 5000, 10000] as const;

function nextFrame(fn: () => void): void {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
}

export class LiveFeed {
  status = $state<LiveStatus>('off');
  /** Position of the last message received. */
  last = $state(0);

  #listeners = new Set<Listener>();
  #queue: LiveMessage[] = [];
  #scheduled = false;
  #close: (() => void) | null = null;
  readonly #opts: LiveOptions;

  constructor(opts: LiveOptions = {}) {
    this.#opts = opts;
  }

  /** Calls fn with every batch until the returned function is called. */
  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Connects (again): after sign-in, since the stream's token changed. */
  connect(): void {
    this.disconnect();
    const wails = this.#opts.wails !== undefined ? this.#opts.wails : wailsRuntime();
    if (wails) {
      this.status = 'live';
      this.#close = wails.EventsOn(WINDOW_EVENT, (_kind, msg) => this.push(msg as LiveMessage));
      return;
    }
    const make = this.#opts.eventSource ?? ((url: string) => new EventSource(url));
    const getTicket = this.#opts.ticket ?? (async () => (await streamTicket()).ticket);
    const waits = this.#opts.retryMs ?? RETRY_MS;
    this.status = 'connecting';
    let closed = false;
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    // A ticket is good once: EventSource's own reconnect would present it
    // again and be refused, so on any error the feed closes the source and
    // opens a new one with a new ticket, resuming after the last message.
    const retry = () => {
      if (closed) return;
      this.status = 'reconnecting';
      const ms = waits[Math.min(failures, waits.length - 1)] ?? 1000;
      failures++;
      timer = setTimeout(() => void open(), ms);
    };
    const onMessage = (ev: MessageEvent<string>) => {
      try {
        this.push(JSON.parse(ev.data) as LiveMessage);
      } catch {
        // Not our message: ignore it rather than break the feed.
      }
    };
    const open = async () => {
      let ticket: string;
      try {
        ticket = await getTicket();
      } catch {
        retry();
        return;
      }
      if (closed) return;
      const source = make(streamURL(ticket, this.last > 0 ? this.last : undefined));
      es = source;
      source.onopen = () => {
        failures = 0;
        this.status = 'live';
      };
      source.onerror = () => {
        source.close();
        if (es === source) es = null;
        retry();
      };
      for (const k of KINDS) source.addEventListener(k, onMessage as EventListener);
    };
    void open();
    this.#close = () => {
      closed = true;
      clearTimeout(timer);
      es?.close();
    };
  }

  disconnect(): void {
    this.#close?.();
    this.#close = null;
    this.status = 'off';
  }

  /** Queues a message for the next frame's batch (public for tests and the window). */
  push(m: LiveMessage): void {
    if (!m || typeof m.position !== 'number' || m.position <= this.last) return; // a replay after reconnecting
    this.last = m.position;
    this.#queue.push(m);
    if (this.#scheduled) return;
    this.#scheduled = true;
    (this.#opts.schedule ?? nextFrame)(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    for (const fn of this.#listeners) {
      try {
        fn(batch);
      } catch (err) {
        console.error('live listener failed', err);
      }
    }
  }
}

/** Whether a batch touches what a view shows: e.g. touches(batch, { deployment: 'd7' }). */
export function touches(batch: LiveMessage[], what: Partial<Pick<LiveMessage, 'release' | 'deployment' | 'project' | 'environment'>>): boolean {
  return batch.some((m) =>
    Object.entries(what).every(([k, v]) => v === undefined || (m as unknown as Record<string, unknown>)[k] === v),
  );
}

/**
 * Keeps a view fresh: after each live batch that matters to it, calls reload,
 * at most once per ms (a burst folds into one trailing call). Returns what
 * stops it (for onMount's cleanup): unsubscribes and drops a pending call.
 */
export function reloadOnLive(
  live: Pick<LiveFeed, 'subscribe'>,
  matters: (batch: LiveMessage[]) => boolean,
  reload: () => void,
  ms: number,
): () => void {
  const refresh = throttle(reload, ms);
  const stop = live.subscribe((batch) => {
    if (matters(batch)) refresh();
  });
  return () => {
    stop();
    refresh.cancel();
  };
}
