// The one module that talks to the Release Desk backend.
//
// Every request is a same-origin fetch to /api/v1/...: inside the Wails window,
// Wails hands /api/ to the Go http.Handler; in a browser, `releasedesk serve`
// answers. Callers get typed values or an ApiError, never a raw Response.

const BASE = '/api/v1';

/** Codes made up on this side; any other code is the server's own. */
export const ClientErrorCode = {
  /** The server could not be reached, or did not answer in time. */
  Network: 'network',
  /** A non-2xx answer without the standard `{"error": {...}}` body. */
  Http: 'http_error',
  /** A 2xx answer that is not the JSON we expect (e.g. an HTML page). */
  InvalidResponse: 'invalid_response',
} as const;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** Machine-readable: the server's `error.code`, or a ClientErrorCode. */
  readonly code: string;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}

// --- auth --------------------------------------------------------------------

let token: string | null = null;

/** Sets the bearer token sent with every request; null or '' removes it. */
export function setApiToken(value: string | null): void {
  token = value || null;
}

// --- transport ---------------------------------------------------------------

export interface RequestOptions {
  /** Cancels the request; the promise then rejects with the signal's reason, not an ApiError. */
  signal?: AbortSignal;
  /** Gives up after this many ms with a `network` ApiError. 0 or absent: no limit. */
  timeoutMs?: number;
}

/** Thrown by a response parser when the JSON is not the shape it needs. */
class ShapeError extends Error {}

async function requestJSON<T>(
  path: string,
  init: RequestInit,
  parse: (raw: unknown) => T,
  opts: RequestOptions = {},
): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('Accept', 'application/json');
  if (token) headers.set('Authorization', `Bearer ${token}`);

  // One controller for both the caller's cancel and our timeout, so a hung
  // server cannot keep a request (and a poller waiting on it) open forever.
  const controller = new AbortController();
  const { signal, timeoutMs } = opts;
  const forward = () => controller.abort(signal?.reason);
  if (signal?.aborted) forward();
  signal?.addEventListener('abort', forward, { once: true });
  let timedOut = false;
  const timer =
    timeoutMs && timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs)
      : undefined;

  let res: Response;
  let text: string;
  try {
    res = await fetch(BASE + path, { ...init, headers, signal: controller.signal });
    text = await res.text();
  } catch (err) {
    if (signal?.aborted && !timedOut) throw signal.reason ?? err;
    const message = timedOut
      ? `The Release Desk server did not answer within ${formatSeconds(timeoutMs ?? 0)}.`
      : 'Cannot reach the Release Desk server. Is it running?';
    throw new ApiError(0, ClientErrorCode.Network, message, { cause: err });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }

  if (!res.ok) throw errorFromBody(res.status, res.statusText, text);

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // Typically index.html from a fallback route: the API is not behind this address.
    throw new ApiError(
      res.status,
      ClientErrorCode.InvalidResponse,
      `The server's answer to ${path} is not JSON. Is the API served at this address?`,
      { cause: err },
    );
  }
  try {
    return parse(raw);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    throw new ApiError(res.status, ClientErrorCode.InvalidResponse, `Unexpected answer to ${path}: ${err.message}.`, {
      cause: err,
    });
  }
}

function errorFromBody(status: number, statusText: string, body: string): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const e = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
  const code = typeof e?.code === 'string' && e.code ? e.code : undefined;
  const message = typeof e?.message === 'string' && e.message ? e.message : undefined;
  if (code || message) {
    return new ApiError(status, code ?? ClientErrorCode.Http, message ?? httpLine(status, statusText));
  }
  // Not our error shape: a proxy page, Go's plain-text http.Error, an empty body.
  // Plain text is worth a short quote; HTML and JSON of another shape are noise.
  const text = body.trim();
  const quotable = text !== '' && parsed === undefined && !text.startsWith('<');
  const detail = quotable ? `: ${truncate(text.split('\n', 1)[0] ?? '', 200)}` : '';
  return new ApiError(status, ClientErrorCode.Http, httpLine(status, statusText) + detail);
}

function httpLine(status: number, statusText: string): string {
  return statusText ? `HTTP ${status} ${statusText}` : `HTTP ${status}`;
}

// --- endpoints -----------------------------------------------------------------

export interface EventHead {
  position: number;
  hash: string;
}

/** GET /api/v1/health. Field names follow the wire format. */
export interface Health {
  /** 'ok' or 'degraded'; kept open so a new server state shows instead of failing. */
  status: 'ok' | 'degraded' | (string & {});
  version: string;
  read_only: boolean;
  /** Why the status is not ok; '' when it is. */
  problem: string;
  events: {
    count: number;
    /** Position 0 means an empty log. */
    head: EventHead;
  };
  /** Server clock, RFC 3339. */
  time: string;
}

export async function getHealth(opts?: RequestOptions): Promise<Health> {
  return requestJSON('/health', { method: 'GET' }, parseHealth, opts);
}

// Checked at the edge so the UI never renders half a health object; optional
// details default, the fields that make the answer meaningful are required.
function parseHealth(raw: unknown): Health {
  if (!isObject(raw)) throw new ShapeError('not a JSON object');
  if (typeof raw.status !== 'string' || raw.status === '') throw new ShapeError('no status');
  const events = isObject(raw.events) ? raw.events : {};
  const head = isObject(events.head) ? events.head : {};
  return {
    status: raw.status,
    version: typeof raw.version === 'string' ? raw.version : '',
    read_only: raw.read_only === true,
    problem: typeof raw.problem === 'string' ? raw.problem : '',
    events: {
      count: toCount(events.count),
      head: { position: toCount(head.position), hash: typeof head.hash === 'string' ? head.hash : '' },
    },
    time: typeof raw.time === 'string' ? raw.time : '',
  };
}

// --- helpers -------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toCount(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
