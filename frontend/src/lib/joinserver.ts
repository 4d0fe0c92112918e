// Which desk the desktop window works on: this computer's (the default) or
// a team's server it joined (app/window, issue 15). Only the window has
// these routes (/window/...): its Go side answers them, and on a server
// passes the page's /api requests through, so every other screen works
// unchanged. In a browser none of this runs: a browser is on the server
// it was opened on.

import { currentLocale, t } from '../i18n';
import { ApiError, ClientErrorCode, errorFromBody } from './api';

/** What a probe of a server found (app/window.Probe). */
export interface Probe {
  url: string;
  /** trusted: joined or joinable; confirm: an unknown self-signed certificate; changed: not the pinned one (refused); unreachable. */
  state: 'trusted' | 'confirm' | 'changed' | 'unreachable';
  /** SHA-256 of the certificate shown, in hex. */
  fingerprint?: string;
  /** SHA-256 of the certificate pinned before (changed). */
  pinned?: string;
  reason?: string;
  version?: string;
}

export interface RecentServer {
  url: string;
  pinned: boolean;
  last_used: string;
}

/** GET /window/state (app/window.WindowState). */
export interface WindowState {
  mode: 'local' | 'server' | 'none';
  server?: string;
  joinable: boolean;
  language?: string;
  pending?: Probe;
  recent: RecentServer[];
}

export interface ConnectAnswer {
  joined: boolean;
  probe: Probe;
  state: WindowState;
}

/** Whether this page runs in the desktop window (the Wails runtime is there). */
export function inWindow(): boolean {
  const rt = (globalThis as { runtime?: { EventsOn?: unknown } }).runtime;
  return typeof rt?.EventsOn === 'function';
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Accept-Language': currentLocale() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    text = await res.text();
  } catch (err) {
    throw new ApiError(0, ClientErrorCode.Network, t('api.unreachable'), { cause: err });
  }
  if (!res.ok) throw errorFromBody(res.status, res.statusText, text);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ApiError(res.status, ClientErrorCode.InvalidResponse, t('api.not_json', { path }), { cause: err });
  }
}

export const windowState = () => call<WindowState>('GET', '/window/state');
/** Probes url and joins it if trusted, or if fingerprint is the certificate its user confirmed. */
export const connectServer = (url: string, fingerprint = '') =>
  call<ConnectAnswer>('POST', '/window/connect', { url, fingerprint });
export const useThisComputer = () => call<WindowState>('POST', '/window/local');
export const forgetServer = (url: string) => call<WindowState>('POST', '/window/forget', { url });

/**
 * Checks what was typed before asking the window: a catalog key of the
 * problem, or '' when it is worth a probe. The window checks again
 * (ServerURL), this is for an answer while typing.
 */
export function serverURLProblem(raw: string): string {
  const s = raw.trim();
  if (!s) return 'join.url_empty';
  const withScheme = s.includes('://') ? s : `https://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return 'join.url_invalid';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'join.url_scheme';
  if (!u.hostname) return 'join.url_invalid';
  if (u.username || u.password || u.search || u.hash || u.pathname.replace(/\/+$/, '') !== '') return 'join.url_path';
  if (u.protocol === 'http:' && !isLoopback(u.hostname)) return 'join.url_plain_http';
  return '';
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A fingerprint as people compare them: upper-case byte pairs, colons between ("AB:CD:…"). */
export function formatFingerprint(hex: string | undefined): string {
  if (!hex) return '';
  return (hex.toUpperCase().match(/.{1,2}/g) ?? []).join(':');
}

/** A server's URL as the header names it: its host (and port), without https://. */
export function serverLabel(url: string | undefined): string {
  if (!url) return '';
  return url.replace(/^https:\/\//, '');
}

/** The recent servers, most recent first, without the one the window is on. */
export function otherServers(state: WindowState | null): RecentServer[] {
  if (!state) return [];
  return [...state.recent]
    .filter((s) => !(state.mode === 'server' && s.url === state.server))
    .sort((a, b) => b.last_used.localeCompare(a.last_used));
}
