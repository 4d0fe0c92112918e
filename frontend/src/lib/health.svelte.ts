// Keeps the backend's health fresh for the page: polls GET /api/v1/health and
// exposes the result as reactive state (Svelte 5 runes), so any component that
// reads it re-renders when it changes.

import { t } from '../i18n';
import { ApiError, ClientErrorCode, getHealth, isApiError, type Health, type RequestOptions } from './api';

/**
 * checking: no answer yet; ok / degraded: what the server says;
 * unreachable: no answer (network, timeout); error: an answer that is not a
 * health report (HTTP error, wrong content), e.g. the API refusing us.
 */
export type HealthKind = 'checking' | 'ok' | 'degraded' | 'unreachable' | 'error';

export interface HealthMonitorOptions {
  /** Time between the end of one check and the start of the next. */
  intervalMs?: number;
  /** A check that takes longer counts as unreachable. Below intervalMs, so checks never pile up. */
  timeoutMs?: number;
  /** Injection points for tests. */
  fetchHealth?: (opts: RequestOptions) => Promise<Health>;
  now?: () => Date;
}

export const DEFAULT_INTERVAL_MS = 5000;
export const DEFAULT_TIMEOUT_MS = 4000;

// A declared function, not an inline arrow: the Svelte compiler misplaces the
// /* @__PURE__ */ note esbuild puts on `new Date()` in an arrow, and Rollup warns.
function systemNow(): Date {
  return new Date();
}

export class HealthMonitor {
  /** Last successful answer; kept while the server is unreachable, to show as last known. */
  health = $state<Health | null>(null);
  /** Error of the latest check; null once a check succeeds. */
  error = $state<ApiError | null>(null);
  /** When the latest check finished, whatever its outcome. */
  checkedAt = $state<Date | null>(null);
  /** When `health` was received. */
  healthAt = $state<Date | null>(null);
  /** A check is in flight. */
  checking = $state(false);

  /** One word for the page: what the latest finished check says. */
  kind: HealthKind = $derived.by(() => {
    if (this.error) return this.error.code === ClientErrorCode.Network ? 'unreachable' : 'error';
    if (!this.health) return 'checking';
    return this.health.status === 'ok' ? 'ok' : 'degraded';
  });

  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #fetchHealth: (opts: RequestOptions) => Promise<Health>;
  readonly #now: () => Date;

  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inflight: Promise<void> | null = null;
  #abort: AbortController | null = null;

  constructor(opts: HealthMonitorOptions = {}) {
    this.#intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fetchHealth = opts.fetchHealth ?? getHealth;
    this.#now = opts.now ?? systemNow;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Checks now, then every intervalMs until stop(). Returns stop, for use as an effect/onMount cleanup. */
  start(): () => void {
    if (!this.#running) {
      this.#running = true;
      void this.check();
    }
    return () => this.stop();
  }

  /** Stops polling and drops the check in flight: its outcome is ignored. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    this.#abort = null;
    this.#inflight = null;
    this.checking = false;
  }

  /**
   * Checks now ("Check now" button). While a check is in flight, returns that
   * one instead of starting another. The next poll is counted from this check.
   */
  check(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const p: Promise<void> = this.#run().finally(() => {
      if (this.#inflight !== p) return; // stopped meanwhile: stop() owns the state
      this.#inflight = null;
      if (this.#running) this.#timer = setTimeout(() => void this.check(), this.#intervalMs);
    });
    this.#inflight = p;
    return p;
  }

  async #run(): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    this.checking = true;
    // Only the check that is still current may write state; one dropped by
    // stop() must not overwrite what a later check found.
    const current = () => this.#abort === abort;
    try {
      const health = await this.#fetchHealth({ signal: abort.signal, timeoutMs: this.#timeoutMs });
      if (!current()) return;
      this.health = health;
      this.healthAt = this.#now();
      this.error = null;
    } catch (err) {
      if (!current()) return;
      this.error = isApiError(err)
        ? err
        : new ApiError(0, ClientErrorCode.Network, t('api.health_failed'), { cause: err });
    } finally {
      if (current()) {
        this.#abort = null;
        this.checkedAt = this.#now();
        this.checking = false;
      }
    }
  }
}
