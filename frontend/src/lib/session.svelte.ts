// Who is signed in. The token lives in sessionStorage: a tab keeps its
// session across reloads, two browser contexts (or two people on one
// machine) never share one, and closing the tab forgets it.

import { getMe, isApiError, login as apiLogin, logout as apiLogout, setApiToken, startReview } from './api';
import type { Me } from './types';
import { t } from '../i18n';

const KEY = 'releasedesk.token';

function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled: the session lasts as long as the page
  }
}

export class Session {
  /** Who is signed in and what they may do; null when nobody is. */
  me = $state<Me | null>(null);
  /** The first check of a stored token (or of offline review) is under way. */
  loading = $state(true);
  /**
   * The server serves an archive for offline review and this page has no
   * review session: only the link `releasedesk open` printed lets it in.
   */
  reviewLocked = $state(false);
  /**
   * Why the last session ended, for the sign-in page to say (a catalog key,
   * '' for none): e.g. a password change, which signs every session out.
   */
  notice = $state('');

  get signedIn(): boolean {
    return this.me !== null;
  }

  /** Offline review of an archive: everything reads, nothing writes. */
  get offline(): boolean {
    return this.me?.offline === true;
  }

  /** Restores a stored token, or enters offline review when the server serves an archive. */
  async restore(): Promise<void> {
    this.loading = true;
    try {
      const stored = storage()?.getItem(KEY) ?? null;
      setApiToken(stored);
      try {
        this.me = await getMe();
      } catch (err) {
        // A stale token: forget it and show the sign-in page.
        if (isApiError(err) && err.status === 401) {
          this.#forget();
          this.reviewLocked = err.code === 'review_secret_required';
        } else throw err;
      }
    } finally {
      this.loading = false;
    }
  }

  /** Offline review: spends the review link's secret for a read-only session. */
  async review(secret: string): Promise<void> {
    this.loading = true;
    try {
      const { token } = await startReview(secret);
      setApiToken(token);
      storage()?.setItem(KEY, token);
      this.me = await getMe();
      this.reviewLocked = false;
    } finally {
      this.loading = false;
    }
  }

  async login(user: string, password: string): Promise<void> {
    const { token } = await apiLogin(user, password);
    setApiToken(token);
    storage()?.setItem(KEY, token);
    this.me = await getMe();
    this.notice = '';
  }

  /**
   * The server ended this session itself (a password change revokes every
   * session): forget it here without asking the server, and leave the
   * sign-in page notice, a catalog key, to say why.
   */
  ended(notice: string): void {
    this.#forget();
    this.notice = notice;
  }

  async logout(): Promise<void> {
    try {
      if (!this.offline) await apiLogout();
    } finally {
      this.#forget();
    }
  }

  /** Re-reads the user's roles (after an admin changed them). */
  async refresh(): Promise<void> {
    this.me = await getMe();
  }

  /** Whether the user may take action on project (the server decides anyway). */
  can(project: string, action: string): boolean {
    if (!this.me || this.offline) return false;
    if (this.me.user.admin) return true;
    return (this.me.permissions[project] ?? []).includes(action) || (this.me.global ?? []).includes(action);
  }

  /** The user's roles, for the header: "admin" or "shop: developer, tester". */
  get rolesLine(): string {
    const u = this.me?.user;
    if (!u) return '';
    const sep = t('common.list_separator');
    const parts = Object.entries(u.roles ?? {})
      .filter(([, rs]) => rs.length > 0)
      .map(([p, rs]) => t('app.roles_line', { project: p, roles: rs.map((r) => t(`common.role.${r}`)).join(sep) }));
    if (u.admin) parts.unshift(t('app.roles_admin'));
    return parts.join(' · ') || t('app.roles_none');
  }

  #forget(): void {
    storage()?.removeItem(KEY);
    setApiToken(null);
    this.me = null;
  }
}
