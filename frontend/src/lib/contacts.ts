// The contacts form's logic, apart from its markup: the four handles a
// notification reaches a person by, read from a user, and checked as the
// server checks them (app/contacts.go) so the form can name the field to
// fix before anything is sent. The server checks again and has the last
// word; its refusal names the same fields ("contacts.email", ...).

import { t } from '../i18n';
import type { FormProblem } from './account';
import type { Contacts, UserView } from './types';

/** The handles, in the order the form shows them. */
export const CONTACT_HANDLES = ['email', 'mobile', 'feishu', 'slack'] as const;
export type ContactHandle = (typeof CONTACT_HANDLES)[number];

/** The server's limits (app/contacts.go). */
export const MAX_EMAIL = 254;
export const MAX_FEISHU = 128;
export const MIN_MOBILE = 6;
export const MAX_MOBILE = 20;

const MOBILE = /^\+?[0-9]+$/;
const SLACK = /^[UW][A-Z0-9]{2,20}$/;
// A bare address: something@domain, no space, no angle bracket, no display name.
const EMAIL = /^[^\s<>@]+@[^\s<>@]+$/;
// Spaces and control characters (C0, DEL, C1).
const SPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f-\u009f]/u;

/** A user's handles, each "" when unset (and for a user whose handles are not shown). */
export function contactsOf(user: Pick<UserView, 'contacts'> | null | undefined): Contacts {
  const c = user?.contacts;
  return { email: c?.email ?? '', mobile: c?.mobile ?? '', feishu: c?.feishu ?? '', slack: c?.slack ?? '' };
}

/** Whether two sets of handles are the same (saving the same records nothing). */
export function sameContacts(a: Contacts, b: Contacts): boolean {
  return CONTACT_HANDLES.every((h) => a[h] === b[h]);
}

/** The field the server names for a handle. */
export function contactsField(h: ContactHandle): string {
  return `contacts.${h}`;
}

function length(s: string): number {
  return [...s].length;
}

/** The first handle the server would refuse, or null: an empty handle is cleared, never refused. */
export function checkContacts(c: Contacts): FormProblem | null {
  for (const h of CONTACT_HANDLES) {
    const v = c[h];
    if (v === '') continue;
    const message = problemOf(h, v);
    if (message) return { field: contactsField(h), message };
  }
  return null;
}

function problemOf(h: ContactHandle, v: string): string {
  const n = length(v);
  switch (h) {
    case 'email':
      if (n > MAX_EMAIL) return t('account.contacts.too_long', { n, max: MAX_EMAIL });
      return EMAIL.test(v) ? '' : t('account.contacts.email_bad');
    case 'mobile':
      if (n > MAX_MOBILE) return t('account.contacts.too_long', { n, max: MAX_MOBILE });
      return MOBILE.test(v) && n >= MIN_MOBILE ? '' : t('account.contacts.mobile_bad');
    case 'feishu':
      if (n > MAX_FEISHU) return t('account.contacts.too_long', { n, max: MAX_FEISHU });
      return SPACE_OR_CONTROL.test(v) ? t('account.contacts.feishu_bad') : '';
    case 'slack':
      return SLACK.test(v) ? '' : t('account.contacts.slack_bad');
  }
}
