import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Session } from './session.svelte';
import { setApiToken } from './api';
import { json, stubFetch, type FetchMock } from './fetchstub';

const ME = {
  user: { name: 'tess', admin: false, roles: { shop: ['tester'], blog: ['developer', 'manager'] }, disabled: false },
  permissions: { shop: ['release.test', 'audit.read'], blog: ['release.open'] },
  global: ['audit.read'],
  offline: false,
};

let fetchMock: FetchMock;
let store: Map<string, string>;

beforeEach(() => {
  fetchMock = stubFetch();
  store = new Map();
  vi.stubGlobal('sessionStorage', {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  });
});

afterEach(() => setApiToken(null));

describe('Session', () => {
  it('signs in: keeps the token for this tab and sends it from then on', async () => {
    fetchMock.mockResolvedValueOnce(json({ token: 'rd_abc', user: ME.user })).mockResolvedValueOnce(json(ME));
    const s = new Session();
    await s.login('tess', 'pw');
    expect(s.signedIn).toBe(true);
    expect(store.get('releasedesk.token')).toBe('rd_abc');
    const [, init] = fetchMock.mock.calls[1]!;
    expect(new Headers(init?.headers).get('Authorization')).toBe('Bearer rd_abc');
  });

  it('a session the server ended is forgotten without asking it, and the sign-in page says why', async () => {
    fetchMock.mockResolvedValueOnce(json({ token: 'rd_abc', user: ME.user })).mockResolvedValueOnce(json(ME));
    const s = new Session();
    await s.login('tess', 'pw');
    const calls = fetchMock.mock.calls.length;
    s.ended('account.password.signed_out');
    expect(s.signedIn).toBe(false);
    expect(s.notice).toBe('account.password.signed_out');
    expect(store.has('releasedesk.token')).toBe(false);
    expect(fetchMock.mock.calls.length).toBe(calls); // no logout: the token is revoked already
    // Signing in again clears the notice.
    fetchMock.mockResolvedValueOnce(json({ token: 'rd_new', user: ME.user })).mockResolvedValueOnce(json(ME));
    await s.login('tess', 'a new password');
    expect(s.notice).toBe('');
    expect(store.get('releasedesk.token')).toBe('rd_new');
  });

  it('offline review: locked without the review session; the link\'s secret opens it', async () => {
    fetchMock.mockResolvedValueOnce(
      json({ error: { code: 'review_secret_required', message: 'open the link that releasedesk open printed' } }, 401),
    );
    const s = new Session();
    await s.restore();
    expect(s.reviewLocked).toBe(true);
    expect(s.signedIn).toBe(false);

    fetchMock.mockResolvedValueOnce(json({ token: 'rdr_x' })).mockResolvedValueOnce(json({ ...ME, offline: true }));
    await s.review('rdv_secret');
    expect(JSON.parse(String(fetchMock.mock.calls[1]?.[1]?.body))).toEqual({ secret: 'rdv_secret' });
    expect(new Headers(fetchMock.mock.calls[2]?.[1]?.headers).get('Authorization')).toBe('Bearer rdr_x');
    expect(store.get('releasedesk.token')).toBe('rdr_x');
    expect(s.reviewLocked).toBe(false);
    expect(s.offline).toBe(true);
  });

  it('a spent review link says so and signs nobody in', async () => {
    fetchMock.mockResolvedValueOnce(
      json({ error: { code: 'review_secret_spent', message: 'this review link was used already' } }, 401),
    );
    const s = new Session();
    await expect(s.review('rdv_old')).rejects.toMatchObject({ status: 401, code: 'review_secret_spent' });
    expect(s.signedIn).toBe(false);
    expect(s.loading).toBe(false);
    expect(store.size).toBe(0);
  });

  it('a failed sign-in stores nothing', async () => {
    fetchMock.mockResolvedValueOnce(json({ error: { code: 'unauthorized', message: 'wrong name or password' } }, 401));
    const s = new Session();
    await expect(s.login('tess', 'nope')).rejects.toMatchObject({ status: 401, message: 'wrong name or password' });
    expect(s.signedIn).toBe(false);
    expect(store.size).toBe(0);
  });

  it('restores a stored token, and forgets one the server no longer takes', async () => {
    store.set('releasedesk.token', 'rd_old');
    fetchMock.mockResolvedValueOnce(json({ error: { code: 'unauthorized', message: 'token revoked' } }, 401));
    const s = new Session();
    await s.restore();
    expect(s.signedIn).toBe(false);
    expect(s.loading).toBe(false);
    expect(store.has('releasedesk.token')).toBe(false);

    store.set('releasedesk.token', 'rd_good');
    fetchMock.mockResolvedValueOnce(json(ME));
    await s.restore();
    expect(s.me?.user.name).toBe('tess');
  });

  it('can() follows the server permissions; offline review can do nothing', async () => {
    fetchMock.mockResolvedValueOnce(json({ token: 't', user: ME.user })).mockResolvedValueOnce(json(ME));
    const s = new Session();
    await s.login('tess', 'pw');
    expect(s.can('shop', 'release.test')).toBe(true);
    expect(s.can('shop', 'release.approve')).toBe(false);
    expect(s.can('blog', 'release.open')).toBe(true);
    expect(s.rolesLine).toBe('shop: tester · blog: developer, manager');

    s.me = { ...ME, offline: true };
    expect(s.offline).toBe(true);
    expect(s.can('shop', 'release.test')).toBe(false);
  });

  it('signs out: revokes the session on the server and forgets it here, even if the server fails', async () => {
    store.set('releasedesk.token', 'rd_abc');
    fetchMock.mockResolvedValueOnce(json(ME)).mockRejectedValueOnce(new TypeError('network down'));
    const s = new Session();
    await s.restore();
    await expect(s.logout()).rejects.toBeTruthy();
    expect(s.signedIn).toBe(false);
    expect(store.has('releasedesk.token')).toBe(false);
    expect(fetchMock.mock.calls[1]?.[0]).toBe('/api/v1/logout');
  });
});
