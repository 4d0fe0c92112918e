import { t } from '../i18n';

// Small formatting helpers any screen may use: durations, commits, sizes of
// text and lists of names, written the way Release Desk shows them.

/** 850 ms → "0.8s", 65 s → "1m 05s", 3723 s → "1h 02m 03s". */
export function formatElapsed(msValue: number): string {
  const v = Math.max(0, msValue);
  if (v < 10_000) return `${(Math.floor(v / 100) / 10).toFixed(1)}s`;
  const total = Math.floor(v / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/** Seconds of a Go duration as Go writes it ("30m0s", "1h30m0s", "168h0m0s"); null if it is not one. */
export function goDurationSeconds(d: string): number | null {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(d);
  if (!m || d === '') return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** An interval in the reader's words: "7 days", "2 hours", "1 h 30 min", "30 minutes" (Go's text if unreadable). */
export function formatInterval(goDuration: string): string {
  const s = goDurationSeconds(goDuration);
  if (s === null) return goDuration;
  const min = Math.round(s / 60);
  if (min % 1440 === 0 && min > 0) return t('format.interval.days', { n: min / 1440 });
  if (min % 60 === 0 && min > 0) return t('format.interval.hours', { n: min / 60 });
  if (min > 60) return t('format.interval.hours_minutes', { h: Math.floor(min / 60), m: min % 60 });
  return t('format.interval.minutes', { n: min });
}

/** A commit as people read it: its first seven characters ('' for none). */
export function shortSha(sha: string | undefined | null): string {
  return sha ? sha.slice(0, 7) : '';
}

/** A length of text (UTF-16 code units): "900 characters", or "12 KiB" from 1024 on. */
export function formatTextSize(n: number): string {
  return n < 1024 ? t('format.characters', { n }) : t('format.kib', { n: Math.round(n / 1024) });
}

/** Names joined with commas, or "none" when there are none. */
export function listOrNone(names: readonly string[] | undefined): string {
  return names && names.length > 0 ? names.join(t('common.list_separator')) : t('common.none');
}
