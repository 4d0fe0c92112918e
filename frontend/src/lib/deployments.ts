// The deployments screen's logic, apart from its markup: its filters as the
// address's query (so a filtered list is a link to share), the API query
// they make, and what a row says about its hosts and its duration.

import type { DeploymentListQuery } from './api';
import { DEPLOY_STATES, type Deployment, type LiveMessage } from './types';

/** Deployments asked for per page (the server allows up to 1000). */
export const PAGE_SIZE = 50;
const SERVER_MAX = 1000;

/** The kinds of deployment the server knows (a retry is the same deployment run again). */
export const DEPLOY_KINDS = ['deploy', 'rollback'] as const;

/** The longest name the server takes in a filter (app.MaxFilterLen). */
export const MAX_FILTER_LEN = 128;

/** The list's filters, as the address holds them; '' selects all. */
export interface DeploymentFilters {
  project: string;
  env: string;
  /** One state, or several comma-separated (a shared link may hold "failed,interrupted"). */
  state: string;
  requested_by: string;
  kind: string;
}

export const NO_FILTERS: DeploymentFilters = { project: '', env: '', state: '', requested_by: '', kind: '' };

/** The filters in the address's order, which is the order they are written back in. */
const KEYS = ['project', 'env', 'state', 'requested_by', 'kind'] as const;

/** A name as typed: trimmed, and never longer than the server takes. */
function name(v: string | null): string {
  return (v ?? '').trim().slice(0, MAX_FILTER_LEN);
}

/**
 * The filters of an address's query. What the server would refuse is
 * dropped rather than shown as an error: an unknown kind, unknown states
 * (the known ones of a list are kept), an over-long name cut to size.
 */
export function filtersFromQuery(query: URLSearchParams): DeploymentFilters {
  const kind = name(query.get('kind'));
  const states = name(query.get('state'))
    .split(',')
    .filter((s) => (DEPLOY_STATES as readonly string[]).includes(s));
  return {
    project: name(query.get('project')),
    env: name(query.get('env')),
    state: [...new Set(states)].join(','),
    requested_by: name(query.get('requested_by')),
    kind: (DEPLOY_KINDS as readonly string[]).includes(kind) ? kind : '',
  };
}

/** The screen's address with its filters: #/deployments?project=shop&state=failed. */
export function deploymentsHash(f: DeploymentFilters): string {
  const q = new URLSearchParams();
  for (const k of KEYS) {
    const v = f[k].trim();
    if (v) q.set(k, v);
  }
  const s = q.toString();
  return s ? `#/deployments?${s}` : '#/deployments';
}

/** Whether any filter is set (the empty list then offers to clear them). */
export function hasFilters(f: DeploymentFilters): boolean {
  return KEYS.some((k) => f[k].trim() !== '');
}

/** The API query for the filters and a page. */
export function listQuery(f: DeploymentFilters, offset = 0, limit = PAGE_SIZE): DeploymentListQuery {
  const q: DeploymentListQuery = { limit };
  for (const k of KEYS) {
    const v = f[k].trim();
    if (v) q[k] = v;
  }
  if (offset > 0) q.offset = offset;
  return q;
}

/** How many to ask for when reloading what is shown (after a live change). */
export function reloadLimit(loaded: number): number {
  return Math.min(SERVER_MAX, Math.max(PAGE_SIZE, loaded));
}

/** Appends the next page; a deployment the list already holds keeps its place with the newer copy. */
export function appendPage(loaded: readonly Deployment[], page: readonly Deployment[]): Deployment[] {
  const fresh = new Map(page.map((d) => [d.id, d]));
  const out = loaded.map((d) => fresh.get(d.id) ?? d);
  const seen = new Set(loaded.map((d) => d.id));
  return [...out, ...page.filter((d) => !seen.has(d.id))];
}

/** A row's hosts: on the version (switched, or observed there), failed, and all of them. */
export function hostCounts(d: Pick<Deployment, 'hosts'>): { ok: number; failed: number; total: number } {
  let ok = 0;
  let failed = 0;
  for (const h of d.hosts ?? []) {
    if (h.state === 'switched' || h.state === 'observed') ok++;
    else if (h.state === 'failed') failed++;
  }
  return { ok, failed, total: d.hosts?.length ?? 0 };
}

/**
 * How long it took, in ms: the runner's own measure once it ended, else
 * from its start to now (null before it started).
 */
export function durationOf(d: Pick<Deployment, 'started' | 'finished' | 'duration_ms'>, now: number): number | null {
  if (d.finished && d.duration_ms > 0) return d.duration_ms;
  const start = d.started ? Date.parse(d.started) : NaN;
  if (Number.isNaN(start)) return null;
  const end = d.finished ? Date.parse(d.finished) : now;
  return Math.max(0, (Number.isNaN(end) ? now : end) - start);
}

/** Whether a live batch may change the list: any deployment event, a host's included (not steps or output). */
export function deploymentsTouched(batch: readonly LiveMessage[]): boolean {
  return batch.some((m) => m.type.startsWith('deploy.'));
}
