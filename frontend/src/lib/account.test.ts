import { describe, expect, it } from 'vitest';
import { DEFAULT_TTL, MAX_TOKEN_NAME, TTL_CHOICES, checkPasswordForm, checkTokenName, personalTokens, ttlLabel } from './account';
import { t } from '../i18n';
import type { TokenInfo } from './types';

describe('token lifetimes', () => {
  it('offer a week to a year, and until revoked, within what the server takes', () => {
    expect([...TTL_CHOICES]).toEqual([7, 30, 90, 365, 0]);
    expect(TTL_CHOICES).toContain(DEFAULT_TTL);
    for (const d of TTL_CHOICES) expect(d >= 0 && d <= 3650).toBe(true);
  });

  it('are named for people', () => {
    expect(ttlLabel(30)).toBe(t('account.tokens.ttl_days', { n: 30 }));
    expect(ttlLabel(30)).toContain('30');
    expect(ttlLabel(0)).toBe(t('account.tokens.ttl_forever'));
    expect(ttlLabel(0)).not.toBe(ttlLabel(7));
  });
});

describe('the password form', () => {
  it('asks for the current password first', () => {
    expect(checkPasswordForm('', 'a long new secret', 'a long new secret')?.field).toBe('current_password');
  });

  it('refuses a new password under 10 characters, counted as the server counts them', () => {
    const p = checkPasswordForm('old', 'short', 'short');
    expect(p?.field).toBe('password');
    expect(p?.message).toContain('5');
    // Ten emoji are ten characters, though twenty UTF-16 units.
    expect(checkPasswordForm('old', '😀'.repeat(9), '😀'.repeat(9))?.field).toBe('password');
    expect(checkPasswordForm('old', '😀'.repeat(10), '😀'.repeat(10))).toBeNull();
    expect(checkPasswordForm('old', 'x'.repeat(1025), 'x'.repeat(1025))?.field).toBe('password');
  });

  it('wants the new password typed twice the same', () => {
    expect(checkPasswordForm('old', 'a long new secret', 'a long new secrot')).toEqual({
      field: 'repeat',
      message: t('account.password.mismatch'),
    });
    expect(checkPasswordForm('old', 'a long new secret', 'a long new secret')).toBeNull();
  });
});

describe('tokens', () => {
  it('need a name of at most 64 characters', () => {
    expect(checkTokenName('  ')?.field).toBe('name');
    expect(checkTokenName('x'.repeat(MAX_TOKEN_NAME + 1))?.field).toBe('name');
    expect(checkTokenName(' ci deploy ')).toBeNull();
  });

  it('lists personal tokens only, newest first', () => {
    const tok = (id: string, kind: string, created: string): TokenInfo => ({ id, user: 'alice', kind, created });
    const got = personalTokens([
      tok('tk_1', 'personal', '2026-11-20T08:00:00Z'),
      tok('tk_2', 'session', '2026-11-26T09:00:00Z'),
      tok('tk_3', 'personal', '2026-11-21T14:30:00.5Z'),
    ]);
    expect(got.map((x) => x.id)).toEqual(['tk_3', 'tk_1']);
    expect(personalTokens(null)).toEqual([]);
  });
});
