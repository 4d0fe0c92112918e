// The account screen's logic, apart from its markup: the password form's
// checks before anything is sent, the lifetimes a personal token can be
// given, and which of one's tokens the page lists.

import { t } from '../i18n';
import type { TokenInfo } from './types';
import { MaxPasswordLen, MinPasswordLen } from './wire/app';

/** A personal token's lifetimes on offer, in days; 0 is until revoked. */
export const TTL_CHOICES = [7, 30, 90, 365, 0] as const;
export const DEFAULT_TTL = 90;

/** The longest token name the server takes. */
export const MAX_TOKEN_NAME = 64;

/** A lifetime for people: "30 days", "until revoked". */
export function ttlLabel(days: number): string {
  return days === 0 ? t('account.tokens.ttl_forever') : t('account.tokens.ttl_days', { n: days });
}

/** A problem of a form, named by the field it is about (the server's field name). */
export interface FormProblem {
  field: string;
  message: string;
}

/** Characters as the server counts them (code points, not UTF-16 units). */
function length(s: string): number {
  return [...s].length;
}

/**
 * The password form's problem, or null when it may be sent: the current
 * password given, the new one long enough (and not too long), typed twice
 * the same. The server checks again; this spares a round trip and says
 * which field to fix.
 */
export function checkPasswordForm(current: string, next: string, repeat: string): FormProblem | null {
  if (current === '') return { field: 'current_password', message: t('account.password.current_required') };
  const n = length(next);
  if (n < MinPasswordLen) return { field: 'password', message: t('account.password.too_short', { n, min: MinPasswordLen }) };
  if (n > MaxPasswordLen) return { field: 'password', message: t('account.password.too_long', { n, max: MaxPasswordLen }) };
  if (next !== repeat) return { field: 'repeat', message: t('account.password.mismatch') };
  return null;
}

/** A new token's name checked as the server will: required, at most 64 characters. */
export function checkTokenName(name: string): FormProblem | null {
  const v = name.trim();
  if (v === '') return { field: 'name', message: t('account.tokens.name_required') };
  if (length(v) > MAX_TOKEN_NAME) return { field: 'name', message: t('account.tokens.name_too_long', { max: MAX_TOKEN_NAME }) };
  return null;
}

/** One's personal tokens, newest first: sessions are signed-in browsers, not what this page manages. */
export function personalTokens(tokens: readonly TokenInfo[] | null | undefined): TokenInfo[] {
  return (tokens ?? []).filter((x) => x.kind === 'personal').sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
}
