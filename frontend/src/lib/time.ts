// Times are shown in the viewer's local time; the exact UTC value goes into a
// tooltip, because release logs and servers speak UTC.

/** `2026-11-26T03:00:00Z`: ISO 8601 in UTC, whole seconds. */
export function formatUtc(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Local time of day; the date is added when `d` is not on the same local day as `now`. */
export function formatLocal(d: Date, now: Date = new Date(), locale?: string): string {
  const sameDay = d.toDateString() === now.toDateString();
  const opts: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', second: '2-digit' };
  if (!sameDay) Object.assign(opts, { year: 'numeric', month: 'short', day: 'numeric' });
  return d.toLocaleString(locale, opts);
}

/** An RFC 3339 time as ms since the epoch; null when absent or unreadable. */
export function parseTime(t: string | undefined | null): number | null {
  if (!t) return null;
  const v = Date.parse(t);
  return Number.isNaN(v) ? null : v;
}
