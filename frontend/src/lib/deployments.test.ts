import { describe, expect, it } from 'vitest';
import {
  MAX_FILTER_LEN,
  NO_FILTERS,
  PAGE_SIZE,
  appendPage,
  deploymentsHash,
  deploymentsTouched,
  durationOf,
  filtersFromQuery,
  hasFilters,
  hostCounts,
  listQuery,
  reloadLimit,
} from './deployments';
import { parseHash } from './router.svelte';
import type { Deployment, LiveMessage } from './types';

function dep(id: string, over: Partial<Deployment> = {}): Deployment {
  return {
    id,
    kind: 'deploy',
    project: 'shop',
    environment: 'production',
    commit: '0598d3292c4b8aa3e28cada152101cd4d219d47b',
    version: '20261126060236-0598d32',
    requested_by: 'dev',
    state: 'succeeded',
    runs: 1,
    plan: { batches: null, parallel: 0, on_failure: '', manifest_hash: '', files: 0, bytes: 0 },
    hosts: [],
    steps: null,
    requested: '2026-11-26T10:00:00Z',
    duration_ms: 0,
    position: 1,
    ...over,
  };
}

describe('the filters in the address', () => {
  it('go into the hash and come back the same, so a link can be shared', () => {
    const f = { project: 'shop', env: 'production', state: 'failed', requested_by: 'alice', kind: 'rollback' };
    const hash = deploymentsHash(f);
    expect(hash).toBe('#/deployments?project=shop&env=production&state=failed&requested_by=alice&kind=rollback');
    const r = parseHash(hash);
    expect(r.name).toBe('deployments');
    expect(filtersFromQuery(r.query)).toEqual(f);
  });

  it('leave the hash bare when none is set, and escape what they hold', () => {
    expect(deploymentsHash(NO_FILTERS)).toBe('#/deployments');
    const f = { ...NO_FILTERS, project: 'a&b=c', requested_by: ' bob ' };
    const hash = deploymentsHash(f);
    expect(hash).toBe('#/deployments?project=a%26b%3Dc&requested_by=bob');
    expect(filtersFromQuery(parseHash(hash).query)).toEqual({ ...NO_FILTERS, project: 'a&b=c', requested_by: 'bob' });
  });

  it('drop what the server would refuse: an unknown kind or state, an over-long name', () => {
    const q = new URLSearchParams({
      kind: 'retry',
      state: 'failed,sleeping,interrupted,failed',
      project: 'p'.repeat(300),
      env: '  test ',
    });
    const f = filtersFromQuery(q);
    expect(f.kind).toBe('');
    expect(f.state).toBe('failed,interrupted');
    expect(f.project).toHaveLength(MAX_FILTER_LEN);
    expect(f.env).toBe('test');
    expect(filtersFromQuery(new URLSearchParams('state=bogus')).state).toBe('');
    expect(filtersFromQuery(new URLSearchParams(''))).toEqual(NO_FILTERS);
  });

  it('say whether any is set', () => {
    expect(hasFilters(NO_FILTERS)).toBe(false);
    expect(hasFilters({ ...NO_FILTERS, kind: 'deploy' })).toBe(true);
    expect(hasFilters({ ...NO_FILTERS, requested_by: '  ' })).toBe(false);
  });
});

describe('the API query', () => {
  it('sends the set filters and the page', () => {
    expect(listQuery(NO_FILTERS)).toEqual({ limit: PAGE_SIZE });
    expect(listQuery({ ...NO_FILTERS, state: 'failed,interrupted', requested_by: 'alice' }, 50, 25)).toEqual({
      state: 'failed,interrupted',
      requested_by: 'alice',
      offset: 50,
      limit: 25,
    });
  });

  it('reloads what is shown, within the server limit', () => {
    expect(reloadLimit(0)).toBe(PAGE_SIZE);
    expect(reloadLimit(120)).toBe(120);
    expect(reloadLimit(5000)).toBe(1000);
  });

  it('appends a page without showing a deployment twice', () => {
    const loaded = [dep('d3'), dep('d2')];
    const page = [dep('d2', { state: 'failed' }), dep('d1')];
    const out = appendPage(loaded, page);
    expect(out.map((d) => d.id)).toEqual(['d3', 'd2', 'd1']);
    expect(out[1]?.state).toBe('failed');
  });
});

describe('a row', () => {
  it('counts the hosts on the version and those that failed', () => {
    const d = dep('d1', {
      hosts: [
        { host: 'a', state: 'switched' },
        { host: 'b', state: 'observed' },
        { host: 'c', state: 'failed' },
        { host: 'd', state: 'reverted' },
        { host: 'e', state: 'pending' },
      ],
    });
    expect(hostCounts(d)).toEqual({ ok: 2, failed: 1, total: 5 });
    expect(hostCounts(dep('d2'))).toEqual({ ok: 0, failed: 0, total: 0 });
  });

  it('takes the runner\'s duration once finished, else runs the clock from the start', () => {
    const now = Date.parse('2026-11-26T10:01:00Z');
    expect(durationOf({ started: '2026-11-26T10:00:00Z', finished: '2026-11-26T10:00:30Z', duration_ms: 29_500 }, now)).toBe(29_500);
    expect(durationOf({ started: '2026-11-26T10:00:00Z', finished: '2026-11-26T10:00:30Z', duration_ms: 0 }, now)).toBe(30_000);
    expect(durationOf({ started: '2026-11-26T10:00:00Z', duration_ms: 0 }, now)).toBe(60_000);
    expect(durationOf({ duration_ms: 0 }, now)).toBeNull();
  });
});

describe('the live feed', () => {
  const msg = (type: string): LiveMessage => ({ position: 1, type, time: '', actor: 'runner', stream: 'deploy/d1' });
  it('refreshes the list on a deployment or host event, not on steps or output', () => {
    expect(deploymentsTouched([msg('deploy.requested')])).toBe(true);
    expect(deploymentsTouched([msg('deploy.host_switched')])).toBe(true);
    expect(deploymentsTouched([msg('step.output'), msg('step.finished'), msg('release.approved')])).toBe(false);
  });
});
