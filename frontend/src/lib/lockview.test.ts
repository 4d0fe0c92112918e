import { describe, expect, it } from 'vitest';
import type { EnvDrift, LockBreak } from './types';
import { brokenLines, driftCounts, isLockFailure, unlockLink, unlockRequested } from './lockview';
import { parseHash } from './router.svelte';

describe('a lock failure', () => {
  it('is a failed host whose failed step is the lock, whatever the message says', () => {
    expect(isLockFailure({ state: 'failed', failedStep: 'lock' })).toBe(true);
    expect(isLockFailure({ state: 'failed', failedStep: 'transfer' })).toBe(false);
    expect(isLockFailure({ state: 'failed' })).toBe(false);
    // Retried since: the host is no longer failed.
    expect(isLockFailure({ state: 'pending', failedStep: 'lock' })).toBe(false);
  });
});

describe('the link to break a lock', () => {
  it('opens the versions screen of the environment with the host asked for', () => {
    const href = unlockLink('shop', 'production', 'www@10.0.1.2:22');
    expect(href).toBe('#/versions/shop/production?unlock=www%4010.0.1.2%3A22');
    const r = parseHash(href);
    expect(r.name).toBe('versions');
    expect(r.params).toEqual({ project: 'shop', env: 'production' });
    expect(unlockRequested(r.query, ['www@10.0.1.1:22', 'www@10.0.1.2:22'])).toBe('www@10.0.1.2:22');
  });

  it('asks for nothing without the key, nor for a host the environment does not have (never for every host)', () => {
    expect(unlockRequested(new URLSearchParams(''), ['local'])).toBeNull();
    expect(unlockRequested(new URLSearchParams('unlock=www@10.0.0.9:22'), ['local'])).toBeNull();
    expect(unlockRequested(new URLSearchParams('unlock='), ['local'])).toBeNull();
  });
});

describe('what a break did', () => {
  it('lists the hosts reached, with the lock found, then the hosts not reached', () => {
    const res: LockBreak = {
      project: 'shop',
      environment: 'production',
      broken: {
        deployment: 'd7',
        hosts: [
          { host: 'a', deployment: 'd7', holder: 'alice', since: '2026-11-26T09:58:00Z' },
          { host: 'b' },
        ],
      },
      unreachable: [{ host: 'c', error: 'connect: refused' }],
    };
    expect(brokenLines(res)).toEqual([
      { host: 'a', kind: 'removed', deployment: 'd7', holder: 'alice' },
      { host: 'b', kind: 'none' },
      { host: 'c', kind: 'unreachable', error: 'connect: refused' },
    ]);
  });
});

describe('a drift check', () => {
  it('counts the hosts that drifted and those that could not be read', () => {
    const d: EnvDrift = {
      checked: '2026-11-26T12:00:00Z',
      by: 'runner',
      scheduled: true,
      hosts: [
        { host: 'a', expected: 'v2', actual: 'v1', drifted: true },
        { host: 'b', expected: 'v2', actual: 'v2', drifted: false },
        { host: 'c', expected: 'v2', actual: '', drifted: false, error: 'timeout' },
      ],
    };
    expect(driftCounts(d)).toEqual({ drifted: 1, unreadable: 1, total: 3 });
  });
});
