import { describe, expect, it } from 'vitest';
import { link, parseHash } from './router.svelte';

describe('parseHash', () => {
  it.each([
    ['', 'inbox', {}],
    ['#/inbox', 'inbox', {}],
    ['#/dashboard', 'dashboard', {}],
    ['#/inbox/x', 'not-found', {}],
    ['#/releases', 'board', {}],
    ['#/releases/new', 'new-release', {}],
    ['#/releases/42', 'release', { id: '42' }],
    ['#/deployments', 'deployments', {}],
    ['#/deployments?state=failed', 'deployments', {}],
    ['#/deployments/d7', 'deployment', { id: 'd7' }],
    ['#/deployments/d7/x', 'not-found', {}],
    ['#/account', 'account', {}],
    ['#/account/x', 'not-found', {}],
    ['#/versions/shop/production', 'versions', { project: 'shop', env: 'production' }],
    ['#/audit', 'audit', {}],
    ['#/projects', 'projects', {}],
    ['#/projects/shop', 'project', { id: 'shop' }],
    ['#/users', 'users', {}],
    ['#/nowhere', 'not-found', {}],
    ['#/releases/1/2', 'not-found', {}],
  ])('%s is %s', (hash, name, params) => {
    const r = parseHash(hash);
    expect(r.name).toBe(name);
    expect(r.params).toEqual(params);
  });

  it('keeps the query and decodes segments', () => {
    const r = parseHash('#/versions/my%20app/prod%2Feu?from=a');
    expect(r.params).toEqual({ project: 'my app', env: 'prod/eu' });
    expect(r.query.get('from')).toBe('a');
  });

  it('link escapes what it is given, so a name cannot change the route', () => {
    expect(link('releases', '42')).toBe('#/releases/42');
    expect(link('versions', 'a/b', 'c?d')).toBe('#/versions/a%2Fb/c%3Fd');
    expect(parseHash(link('versions', 'a/b', 'c?d')).params).toEqual({ project: 'a/b', env: 'c?d' });
  });
});
