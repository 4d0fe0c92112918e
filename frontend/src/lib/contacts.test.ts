import { describe, expect, it } from 'vitest';
import { CONTACT_HANDLES, checkContacts, contactsOf, sameContacts } from './contacts';
import { t } from '../i18n';
import type { Contacts } from './types';

const good: Contacts = { email: 'ann@example.com', mobile: '+8613800138000', feishu: 'ou_84aad35d084aa403a838cf73ee18467', slack: 'U012AB3CD' };

describe('contacts', () => {
  it('reads a user without handles, or whose handles are hidden, as four empty ones', () => {
    expect(contactsOf({})).toEqual({ email: '', mobile: '', feishu: '', slack: '' });
    expect(contactsOf(null)).toEqual({ email: '', mobile: '', feishu: '', slack: '' });
    expect(contactsOf({ contacts: good })).toEqual(good);
  });

  it('takes good handles, and empty ones (cleared)', () => {
    expect(checkContacts(good)).toBeNull();
    expect(checkContacts({ email: '', mobile: '', feishu: '', slack: '' })).toBeNull();
    expect(checkContacts({ ...good, feishu: 'ann@example.com', mobile: '13800138000', slack: 'W0ABC' })).toBeNull();
  });

  it('names the first handle the server would refuse, as the server names it', () => {
    const cases: [Partial<Contacts>, string, string][] = [
      [{ email: 'ann' }, 'contacts.email', t('account.contacts.email_bad')],
      [{ email: 'Ann <ann@example.com>' }, 'contacts.email', t('account.contacts.email_bad')],
      [{ email: 'a'.repeat(250) + '@example.com' }, 'contacts.email', t('account.contacts.too_long', { n: 262, max: 254 })],
      [{ mobile: '12345' }, 'contacts.mobile', t('account.contacts.mobile_bad')],
      [{ mobile: '138-0013-8000' }, 'contacts.mobile', t('account.contacts.mobile_bad')],
      [{ mobile: '1'.repeat(21) }, 'contacts.mobile', t('account.contacts.too_long', { n: 21, max: 20 })],
      [{ feishu: 'ou_1 2' }, 'contacts.feishu', t('account.contacts.feishu_bad')],
      [{ feishu: 'ou_\u0007' }, 'contacts.feishu', t('account.contacts.feishu_bad')],
      [{ slack: 'ann' }, 'contacts.slack', t('account.contacts.slack_bad')],
      [{ slack: 'u012ab3cd' }, 'contacts.slack', t('account.contacts.slack_bad')],
    ];
    for (const [change, field, message] of cases) {
      expect(checkContacts({ ...good, ...change })).toEqual({ field, message });
    }
    // The first bad one, in the form's order.
    expect(checkContacts({ ...good, mobile: 'x', slack: 'x' })?.field).toBe('contacts.mobile');
  });

  it('tells the same handles from changed ones', () => {
    expect(sameContacts(good, { ...good })).toBe(true);
    for (const h of CONTACT_HANDLES) expect(sameContacts(good, { ...good, [h]: '' })).toBe(false);
  });
});
