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
