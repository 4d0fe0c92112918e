import { describe, expect, it } from 'vitest';
import {
  BOARD_STATES,
  PAGE_SIZE,
  appendPage,
  boardHash,
  boardTouched,
  columnCount,
  filtersFromQuery,
  groupByState,
  reloadLimit,
  shownStates,
} from './board';
import { t } from '../i18n';
import type { LiveMessage, Release, ReleaseState } from './types';

function rel(id: string, state: ReleaseState, title = `Release ${id}`): Release {
  return {
    id,
    project: 'shop',
    branch: `b-${id}`,
    title,
    state,
    requester: 'dev',
    created: '2026-11-26T09:00:00Z',
    updated: '2026-11-26T09:00:00Z',
    deployments: null,
    position: Number(id),
  };
}

function msg(type: string, extra: Partial<LiveMessage> = {}): LiveMessage {
  return { position: 1, type, time: '2026-11-26T09:00:00Z', actor: 'dev', stream: 's', ...extra };
}

describe('shownStates', () => {
  it('hides cancelled unless asked', () => {
    expect(shownStates(false)).toEqual(['open', 'testing', 'tested', 'approved', 'live', 'accepted', 'completed']);
    expect(shownStates(true)).toEqual([...BOARD_STATES, 'cancelled']);
  });
});

describe('groupByState', () => {
  it('puts each release in its column, keeping order, with every shown column present', () => {
    const g = groupByState([rel('3', 'open'), rel('2', 'live'), rel('1', 'open')], shownStates(false));
    expect(g.open?.map((r) => r.id)).toEqual(['3', '1']);
    expect(g.live?.map((r) => r.id)).toEqual(['2']);
    expect(g.tested).toEqual([]);
    expect(Object.keys(g)).toHaveLength(7);
  });

  it('drops releases of a hidden state', () => {
    const g = groupByState([rel('1', 'cancelled')], shownStates(false));
    expect(Object.values(g).flat()).toEqual([]);
    expect(groupByState([rel('1', 'cancelled')], shownStates(true)).cancelled).toHaveLength(1);
  });

  it('groups 10,000 releases, each in its column, in order', () => {
    // Correctness at scale only: timing targets live in benchmarks, not tests.
    const states = shownStates(true);
    const many = Array.from({ length: 10_000 }, (_, i) => rel(String(i), states[i % states.length]!));
    const g = groupByState(many, states);
    expect(g.open).toHaveLength(1250);
    expect(g.open?.[1]?.id).toBe(String(states.length));
  });
});

describe('appendPage', () => {
  it('appends the next page', () => {
    const out = appendPage([rel('5', 'open'), rel('4', 'open')], [rel('3', 'live')]);
    expect(out.map((r) => r.id)).toEqual(['5', '4', '3']);
  });

  it('keeps a release that moved between pages once, in its first place, with its new content', () => {
    const out = appendPage([rel('5', 'open'), rel('4', 'open')], [rel('4', 'testing'), rel('3', 'live')]);
    expect(out.map((r) => r.id)).toEqual(['5', '4', '3']);
    expect(out[1]?.state).toBe('testing');
  });

  it('does not change the loaded list', () => {
    const loaded = [rel('1', 'open')];
    appendPage(loaded, [rel('2', 'open')]);
    expect(loaded).toHaveLength(1);
  });
});

describe('reloadLimit', () => {
  it('asks for at least a page and at most the server limit', () => {
    expect(reloadLimit(0)).toBe(PAGE_SIZE);
    expect(reloadLimit(PAGE_SIZE * 3)).toBe(PAGE_SIZE * 3);
    expect(reloadLimit(50_000)).toBe(1000);
  });
});

describe('filters in the URL', () => {
  it('round-trips through the hash', () => {
    const f = { project: 'shop', q: 'sale banner', cancelled: true };
    const hash = boardHash(f);
    expect(hash).toBe('#/releases?project=shop&q=sale+banner&cancelled=1');
    expect(filtersFromQuery(new URLSearchParams(hash.split('?')[1]))).toEqual(f);
  });

  it('leaves empty filters out', () => {
    expect(boardHash({ project: '', q: '  ', cancelled: false })).toBe('#/releases');
    expect(filtersFromQuery(new URLSearchParams())).toEqual({ project: '', q: '', cancelled: false });
  });
});

describe('columnCount', () => {
  it("uses the server's counts without a search", () => {
    expect(columnCount('open', { open: 40, live: 2 }, 12, false)).toEqual({ shown: 12, total: 40 });
    expect(columnCount('tested', { open: 40 }, 0, false)).toEqual({ shown: 0, total: 0 });
  });

  it('counts the loaded matches with a search (counts ignore it)', () => {
    expect(columnCount('open', { open: 40 }, 3, true)).toEqual({ shown: 3, total: null });
  });
});

describe('boardTouched', () => {
  it('is true for release events and deployment starts and ends', () => {
    expect(boardTouched([msg('release.approved', { release: '4' })])).toBe(true);
    expect(boardTouched([msg('deploy.succeeded', { deployment: 'd1' })])).toBe(true);
  });

  it('ignores output, steps, host progress and other kinds', () => {
    expect(
      boardTouched([
        msg('step.output', { release: '4', text: 'x' }),
        msg('step.started'),
        msg('deploy.host_switched', { release: '4' }),
        msg('user.created'),
      ]),
    ).toBe(false);
    expect(boardTouched([])).toBe(false);
  });
});
