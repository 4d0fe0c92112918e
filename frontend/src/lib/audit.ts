// The audit screen's logic, kept out of the component so it can be tested:
// the filter form (datetime-local inputs in the viewer's time zone) becomes
// the API's query (RFC 3339 in UTC), and the chain's verification becomes a
// sentence.

import type { AuditQuery } from './api';
import type { LiveMessage, VerifyResult } from './types';
import { formatUtc } from './time';
import { t } from '../i18n';

/** The filter form as typed: times are `<input type="datetime-local">` values. */
export interface AuditFilters {
  project: string;
  actor: string;
  type: string;
  since: string;
  until: string;
}

export const EMPTY_FILTERS: AuditFilters = { project: '', actor: '', type: '', since: '', until: '' };

/** A filter the user must correct, named by its form field. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
  readonly field: keyof AuditFilters;
  constructor(field: keyof AuditFilters, message: string) {
    super(message);
    this.field = field;
  }
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

/**
 * A datetime-local value ("2026-11-26T09:30", seconds optional) read in the
 * viewer's time zone, as RFC 3339 in UTC ("2026-11-26T08:30:00Z" in Paris).
 * '' stays ''; anything else that is not such a value is null.
 */
export function localToRfc3339(value: string): string | null {
  const v = value.trim();
  if (v === '') return '';
  const m = LOCAL.exec(v);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? '0')) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').padEnd(3, '0'));
  // Reject what Date silently rolls over (Feb 30th, hour 25).
  const cal = new Date(Date.UTC(y, mo - 1, d));
  if (cal.getUTCMonth() !== mo - 1 || cal.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  // A local time skipped by a daylight-saving jump comes out an hour later.
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  if (Number.isNaN(date.getTime())) return null;
  return formatUtc(date);
}

/** An RFC 3339 time as a datetime-local value in the viewer's time zone ('' when empty or invalid). */
export function rfc3339ToLocal(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The API query for the filters and a page; throws FilterError on a time that cannot be read. */
export function buildAuditQuery(f: AuditFilters, offset = 0, limit = 100): AuditQuery {
  const since = localToRfc3339(f.since);
  if (since === null) throw new FilterError('since', t('audit.filter.since_invalid'));
  const until = localToRfc3339(f.until);
  if (until === null) throw new FilterError('until', t('audit.filter.until_invalid'));
  if (since && until && Date.parse(since) >= Date.parse(until)) {
    throw new FilterError('until', t('audit.filter.until_before_since'));
  }
  const q: AuditQuery = {};
  const project = f.project.trim();
  const actor = f.actor.trim();
  const type = f.type.trim();
  if (project) q.project = project;
  if (actor) q.actor = actor;
  if (type) q.type = type;
  if (since) q.since = since;
  if (until) q.until = until;
  if (offset > 0) q.offset = offset;
  q.limit = limit;
  return q;
}

/** Whether any filter is set (the empty state then says to clear them). */
export function hasFilters(f: AuditFilters): boolean {
  return Object.values(f).some((v) => v.trim() !== '');
}

/** The verification's answer, with the problem the server adds when the chain is broken. */
export type Verification = VerifyResult & {
  problem?: { position: number; kind: string; reason: string };
};

/** "verified: 412 events", or "broken at position 142: edited (its hash does not match its content)". */
export function verifyLine(v: Verification): { ok: boolean; text: string } {
  const n = v.count;
  if (v.ok) return { ok: true, text: t('audit.verify.verified', { n }) };
  if (v.problem) {
    const why = v.problem.reason ? t('audit.verify.why', { kind: v.problem.kind, reason: v.problem.reason }) : v.problem.kind;
    return { ok: false, text: t('audit.verify.broken_at', { position: v.problem.position, why }) };
  }
  const m = /position (\d+):\s*(.*)$/.exec(v.message ?? '');
  if (m) return { ok: false, text: t('audit.verify.broken_at', { position: m[1], why: m[2] }) };
  return { ok: false, text: t('audit.verify.broken', { message: v.message || t('audit.verify.does_not_verify') }) };
}

/** Whether a live batch may change what a filtered first page shows. */
export function batchMatters(batch: LiveMessage[], f: AuditFilters): boolean {
  const project = f.project.trim();
  const actor = f.actor.trim();
  const type = f.type.trim();
  return batch.some(
    (m) =>
      m.type !== 'step.output' &&
      (!project || m.project === project) &&
      (!actor || m.actor === actor) &&
      (!type || m.type.startsWith(type)),
  );
}

/** Hands text to the browser as a file download. */
export function downloadText(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
