// The one module that talks to the Release Desk backend.
//
// Every request is a same-origin fetch to /api/v1/...: inside the Wails window,
// Wails hands /api/ to the Go http.Handler; in a browser, `releasedesk serve`
// answers. Callers get typed values or an ApiError, never a raw Response.

import { currentLocale, t } from '../i18n';
import type * as T from './types';
import type * as app from './wire/app';
import type * as catalog from './wire/catalog';
import type * as events from './wire/events';
import type * as httpapi from './wire/httpapi';
import type * as projectconfig from './wire/projectconfig';

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

/** One problem of a configuration document, named by its path. */
export type FieldProblem = projectconfig.FieldError;

/**
 * What the server said beyond code and message (httpapi.Error): the request
 * field a 400 is about, every problem of a project configuration (400
 * invalid_config), the rule a 403 applied. Where a form shows it.
 */
export type ErrorDetail = Pick<httpapi.Error, 'field' | 'fields' | 'rule'>;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** Machine-readable: the server's `error.code`, or a ClientErrorCode. */
  readonly code: string;
  readonly field?: string;
  readonly fields?: FieldProblem[];
  readonly rule?: string;

  constructor(status: number, code: string, message: string, options?: { cause?: unknown; detail?: ErrorDetail }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.field = options?.detail?.field;
    this.fields = options?.detail?.fields;
    this.rule = options?.detail?.rule;
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
  // The page's language: the server writes its refusals, health's warnings
  // and the read-only reason in it (and logs it). A switch of language
  // reloads the page, so nothing stays in the language before.
  headers.set('Accept-Language', currentLocale());
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
      ? t('api.timeout', { seconds: formatSeconds(timeoutMs ?? 0) })
      : t('api.unreachable');
    throw new ApiError(0, ClientErrorCode.Network, message, { cause: err });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }

  if (!res.ok) throw errorFromBody(res.status, res.statusText, text);
  if (res.status === 204) return parse(null);

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // Typically index.html from a fallback route: the API is not behind this address.
    throw new ApiError(
      res.status,
      ClientErrorCode.InvalidResponse,
      t('api.not_json', { path }),
      { cause: err },
    );
  }
  try {
    return parse(raw);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    throw new ApiError(res.status, ClientErrorCode.InvalidResponse, t('api.unexpected', { path, detail: err.message }), {
      cause: err,
    });
  }
}

/** The ApiError an answer that is not 2xx stands for (also for the window's own routes, joinserver.ts). */
export function errorFromBody(status: number, statusText: string, body: string): ApiError {
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
    const detail: ErrorDetail = {};
    if (typeof e?.field === 'string' && e.field) detail.field = e.field;
    if (typeof e?.rule === 'string' && e.rule) detail.rule = e.rule;
    if (Array.isArray(e?.fields)) {
      detail.fields = e.fields.filter(isObject).map((f) => ({
        path: typeof f.path === 'string' ? f.path : '',
        reason: typeof f.reason === 'string' ? f.reason : '',
      }));
    }
    return new ApiError(status, code ?? ClientErrorCode.Http, message ?? httpLine(status, statusText), { detail });
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

/** The log's last position (0: an empty log) and that event's hash. */
export type EventHead = events.Head;

/**
 * GET /api/v1/health, as parseHealth keeps it. status is 'ok' or
 * 'degraded', kept open so a new server state shows instead of failing;
 * problem says why it is not ok ('' when it is); time is the server's clock.
 */
export type Health = Pick<
  httpapi.HealthResponse,
  'status' | 'version' | 'read_only' | 'problem' | 'events' | 'time' | 'warnings' | 'window_language'
>;

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
    warnings: Array.isArray(raw.warnings)
      ? raw.warnings.filter(isObject).map((w) => ({ code: String(w.code ?? ''), message: String(w.message ?? '') }))
      : [],
    window_language: typeof raw.window_language === 'string' ? raw.window_language : undefined,
  };
}

// --- the workflow's endpoints (docs/api.md) ------------------------------------
//
// The server checks every answer's shape on its side; here an answer is
// taken as its documented type once it is a JSON object (or null for 204).

function asIs<T>(raw: unknown): T {
  if (raw !== null && !isObject(raw)) throw new ShapeError('not a JSON object');
  return raw as T;
}

/** Path segment: user text never reaches a URL unescaped. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function send<T>(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  return requestJSON(path, init, asIs<T>, opts);
}

const get = <T>(path: string, opts?: RequestOptions) => send<T>('GET', path, undefined, opts);

// People and tokens.
export const login = (user: string, password: string) =>
  send<httpapi.LoginResponse>('POST', '/login', { user, password } satisfies httpapi.LoginRequest);
export const logout = () => send<null>('POST', '/logout');
/** Offline review: the review link's secret, exchanged once for a read-only session. */
export const startReview = (secret: string) =>
  send<httpapi.ReviewResponse>('POST', '/review', { secret } satisfies httpapi.ReviewRequest);
/** A one-time ticket for the live stream: EventSource cannot send the bearer header. */
export const streamTicket = () => send<httpapi.StreamTicket>('POST', '/stream/ticket');
export const getMe = (opts?: RequestOptions) => get<T.Me>('/me', opts);
/** Reads what each host of an environment runs now, against what was recorded (drift.checked). */
export const checkDrift = (project: string, env: string) =>
  send<catalog.DriftReport>('POST', `/projects/${seg(project)}/environments/${seg(env)}/drift`);
/** Breaks a stale deploy lock (admins): on host, or on every host of the environment when host is ''. */
export const unlockEnvironment = (project: string, env: string, host: string, reason: string) =>
  send<T.LockBreak>('POST', `/projects/${seg(project)}/environments/${seg(env)}/unlock`, {
    host,
    reason,
  } satisfies httpapi.UnlockRequest);
/** Sends a project's channel a test message now (admins): the delivery, sent or failed with the receiver's answer. */
export const testChannel = (project: string, channel: string) =>
  send<T.Delivery>('POST', `/projects/${seg(project)}/channels/${seg(channel)}/test`, {});
/** Every project's every environment: what runs there and what needs a look. */
export const getDashboard = () => get<httpapi.DashboardResponse>('/dashboard');
/** What waits for the signed-in user, oldest first. */
export const getInbox = () => get<httpapi.InboxResponse>('/inbox');
/** Records the UI's language the signed-in user chose ("en" or "zh-CN"). */
export const setMyLanguage = (language: string) =>
  send<T.UserView>('PUT', '/me/language', { language } satisfies httpapi.LanguageRequest);
export const listUsers = () => get<httpapi.UserList>('/users');
export const createUser = (u: httpapi.CreateUserRequest) => send<T.UserView>('POST', '/users', u);
export const setRoles = (name: string, admin: boolean, roles: Record<string, string[]>) =>
  send<T.UserView>('PUT', `/users/${seg(name)}`, { admin, roles } satisfies httpapi.RolesRequest);
/** Sets a user's four contact handles at once (an empty one is cleared): one's own, or anyone's for an admin. */
export const setContacts = (name: string, c: httpapi.ContactsRequest) =>
  send<T.UserView>('PUT', `/users/${seg(name)}/contacts`, c satisfies httpapi.ContactsRequest);
export const setPassword = (name: string, password: string, currentPassword?: string) =>
  send<null>('POST', `/users/${seg(name)}/password`, {
    password,
    current_password: currentPassword ?? '',
  } satisfies httpapi.PasswordRequest);
export const disableUser = (name: string, reason: string) =>
  send<T.UserView>('POST', `/users/${seg(name)}/disable`, { reason } satisfies httpapi.ReasonRequest);
export const enableUser = (name: string, reason: string) =>
  send<T.UserView>('POST', `/users/${seg(name)}/enable`, { reason } satisfies httpapi.ReasonRequest);
export const listTokens = () => get<httpapi.TokenList>('/tokens');
export const createToken = (name: string, ttlDays: number) =>
  send<httpapi.TokenResponse>('POST', '/tokens', { name, ttl_days: ttlDays } satisfies httpapi.TokenRequest);
export const revokeToken = (id: string) => send<null>('DELETE', `/tokens/${seg(id)}`);

// Projects, hosts, versions.
export const listProjects = () => get<httpapi.ProjectList>('/projects');
export const getProject = (id: string) => get<T.ProjectResponse>(`/projects/${seg(id)}`);
/** Configures a project from a YAML or JSON document, sent as typed. */
export function putProject(id: string, doc: string, format: 'yaml' | 'json') {
  const contentType = format === 'json' ? 'application/json' : 'application/yaml';
  return requestJSON(
    `/projects/${seg(id)}`,
    { method: 'PUT', body: doc, headers: { 'Content-Type': contentType } },
    asIs<httpapi.ProjectApplied>,
  );
}
export function validateProject(doc: string, format: 'yaml' | 'json') {
  const contentType = format === 'json' ? 'application/json' : 'application/yaml';
  return requestJSON(
    '/projects/validate',
    { method: 'POST', body: doc, headers: { 'Content-Type': contentType } },
    asIs<httpapi.ProjectValidated>,
  );
}
export const listBranches = (project: string) => get<httpapi.BranchList>(`/projects/${seg(project)}/branches`);
export const compare = (project: string, from: string, to: string, env?: string) =>
  get<T.CompareResult>(`/projects/${seg(project)}/compare${query({ from, to, env })}`);
export const getVersions = (project: string, env: string) =>
  get<T.EnvVersions>(`/projects/${seg(project)}/environments/${seg(env)}/versions`);
export const rollback = (project: string, env: string, version: string, reason: string) =>
  send<T.DeployResult>('POST', `/projects/${seg(project)}/environments/${seg(env)}/rollback`, {
    version,
    reason,
  } satisfies httpapi.RollbackRequest);
export const markBad = (project: string, env: string, version: string, reason: string) =>
  send<T.VersionEntry>(
    'POST',
    `/projects/${seg(project)}/environments/${seg(env)}/versions/${seg(version)}/bad`,
    { reason } satisfies httpapi.ReasonRequest,
  );
/** hosts is null while no host is known. */
export const listHosts = () => get<httpapi.HostList>('/hosts');
export const scanHostKey = (addr: string) => get<T.HostKeyInfo>(`/hosts/key${query({ addr })}`);
export const trustHost = (addr: string, key: string) =>
  send<T.HostKey>('POST', '/hosts/trust', { addr, key } satisfies httpapi.TrustRequest);

// Releases.
export interface BoardQuery {
  project?: string;
  state?: string;
  q?: string;
  sort?: 'created' | 'updated';
  offset?: number;
  limit?: number;
}
export const getBoard = (q: BoardQuery = {}, opts?: RequestOptions) =>
  get<T.BoardResponse>(`/releases${query({ ...q })}`, opts);
export const openRelease = (r: app.OpenReleaseInput) => send<T.ReleaseResponse>('POST', '/releases', r);
export const getRelease = (id: string, opts?: RequestOptions) => get<T.ReleaseResponse>(`/releases/${seg(id)}`, opts);
export const deployRelease = (id: string, env: string) =>
  send<T.DeployResult>('POST', `/releases/${seg(id)}/deploy`, { env } satisfies httpapi.DeployRequest);
export const testRelease = (id: string, passed: boolean, note: string) =>
  send<T.ReleaseResponse>('POST', `/releases/${seg(id)}/test`, { passed, note } satisfies httpapi.TestRequest);
/** approve and accept take a note; reject, refuse and cancel a reason. */
export function decideRelease(
  id: string,
  action: 'approve' | 'accept' | 'reject' | 'refuse' | 'cancel',
  text: string,
): Promise<T.ReleaseResponse> {
  const body: httpapi.NoteRequest | httpapi.ReasonRequest =
    action === 'approve' || action === 'accept' ? { note: text } : { reason: text };
  return send<T.ReleaseResponse>('POST', `/releases/${seg(id)}/${action}`, body);
}
/** A refusal; with rollback, production goes back to the version before the release in the same decision. */
export const refuseRelease = (id: string, reason: string, rollback: boolean) =>
  send<T.ReleaseResponse>('POST', `/releases/${seg(id)}/refuse`, {
    reason,
    ...(rollback ? { rollback } : {}),
  } satisfies httpapi.RefuseRequest);
export const completeRelease = (id: string) => send<T.ReleaseResponse>('POST', `/releases/${seg(id)}/complete`, {});

// Deployments.
/** GET /api/v1/deployments's filters: state is a comma-separated list, kind deploy or rollback. */
export interface DeploymentListQuery {
  project?: string;
  env?: string;
  release?: string;
  state?: string;
  requested_by?: string;
  kind?: string;
  offset?: number;
  limit?: number;
}
/** Deployments without their steps (steps is null), newest first. */
export const listDeployments = (q: DeploymentListQuery = {}, opts?: RequestOptions) =>
  get<httpapi.DeploymentList>(`/deployments${query({ ...q })}`, opts);
export const getDeployment = (id: string, opts?: RequestOptions) => get<T.Deployment>(`/deployments/${seg(id)}`, opts);
export const cancelDeployment = (id: string, reason: string) =>
  send<T.Deployment>('POST', `/deployments/${seg(id)}/cancel`, { reason } satisfies httpapi.ReasonRequest);
export const retryDeployment = (id: string) => send<T.Deployment>('POST', `/deployments/${seg(id)}/retry`, {});

// Audit.
export interface AuditQuery {
  project?: string;
  actor?: string;
  type?: string;
  since?: string;
  until?: string;
  offset?: number;
  limit?: number;
}
export const getAudit = (q: AuditQuery = {}) => get<T.AuditPage>(`/audit${query({ ...q })}`);
export const verifyAudit = () => get<T.VerifyResult>('/audit/verify');

/** Downloads the filtered audit as CSV or JSONL: the file's text and its suggested name. */
export async function exportAudit(q: AuditQuery, format: 'csv' | 'jsonl'): Promise<{ name: string; text: string }> {
  const headers = new Headers();
  if (token) headers.set('Authorization', `Bearer ${token}`);
  const { offset: _o, limit: _l, ...filters } = q;
  let res: Response;
  try {
    res = await fetch(`${BASE}/audit/export${query({ ...filters, format })}`, { headers });
  } catch (err) {
    throw new ApiError(0, ClientErrorCode.Network, t('api.unreachable'), { cause: err });
  }
  const text = await res.text();
  if (!res.ok) throw errorFromBody(res.status, res.statusText, text);
  const cd = res.headers.get('Content-Disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(cd)?.[1] ?? `releasedesk-audit.${format}`;
  return { name, text };
}

/**
 * The live stream's URL for EventSource, with a ticket from streamTicket:
 * good once and for seconds, so no session token is ever in a URL.
 */
export function streamURL(ticket: string, since?: number): string {
  return `${BASE}/stream${query({ ticket, since })}`;
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
