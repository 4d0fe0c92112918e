// The release board's logic, apart from its markup: which columns show,
// grouping a page of releases into them, paging, and the filters in the URL.

import { RELEASE_STATES, type LiveMessage, type Release, type ReleaseState } from './types';

/** The board's columns, in workflow order; cancelled is shown on request. */
export const BOARD_STATES: readonly ReleaseState[] = RELEASE_STATES.filter((s) => s !== 'cancelled');

/** Releases asked for per page (the server allows up to 1000). */
export const PAGE_SIZE = 100;
const SERVER_MAX = 1000;

export function shownStates(showCancelled: boolean): ReleaseState[] {
  return showCancelled ? [...BOARD_STATES, 'cancelled'] : [...BOARD_STATES];
}

/** One list per shown state, keeping the page's order (newest update first). */
export function groupByState(releases: readonly Release[], states: readonly ReleaseState[]): Record<string, Release[]> {
  const out: Record<string, Release[]> = {};
  for (const s of states) out[s] = [];
  for (const r of releases) out[r.state]?.push(r);
  return out;
}

/**
 * Appends the next page to what is loaded. A release that moved while the
 * user paged can come twice: the copy already shown wins its place, the
 * newer copy its content.
 */
export function appendPage(loaded: readonly Release[], page: readonly Release[]): Release[] {
  const fresh = new Map(page.map((r) => [r.id, r]));
  const out = loaded.map((r) => fresh.get(r.id) ?? r);
  const seen = new Set(loaded.map((r) => r.id));
  for (const r of page) {
    if (!seen.has(r.id)) {
      seen.add(r.id);
      out.push(r);
    }
  }
  return out;
}

/** How many to ask for when reloading what is shown (after a live change). */
export function reloadLimit(loaded: number): number {
  return Math.min(SERVER_MAX, Math.max(PAGE_SIZE, loaded));
}

export interface BoardFilters {
  project: string;
  q: string;
  cancelled: boolean;
}

export function filtersFromQuery(query: URLSearchParams): BoardFilters {
  return {
    project: query.get('project') ?? '',
    q: query.get('q') ?? '',
    cancelled: query.get('cancelled') === '1',
  };
}

/** The board's address with its filters, so a reload or "back" keeps them. */
export function boardHash(f: BoardFilters): string {
  const q = new URLSearchParams();
  if (f.project) q.set('project', f.project);
  if (f.q.trim()) q.set('q', f.q.trim());
  if (f.cancelled) q.set('cancelled', '1');
  const s = q.toString();
  return s ? `#/releases?${s}` : '#/releases';
}

/**
 * A column's heading count. Without a search the server's `counts` (per
 * state, for the project filter) is the truth; with one, counts ignore the
 * search, so the column says how many matches are loaded.
 */
export function columnCount(
  state: string,
  counts: Record<string, number>,
  loadedInColumn: number,
  searching: boolean,
): { shown: number; total: number | null } {
  if (searching) return { shown: loadedInColumn, total: null };
  return { shown: loadedInColumn, total: counts[state] ?? 0 };
}

/** Whether a live batch may change the board: a release event or a deployment's start or end. */
export function boardTouched(batch: readonly LiveMessage[]): boolean {
  return batch.some(
    (m) => m.type.startsWith('release.') || (m.type.startsWith('deploy.') && !m.type.startsWith('deploy.host_')),
  );
}
