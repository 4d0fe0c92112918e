import { describe, expect, it } from 'vitest';
import {
  EMPTY_FILTERS,
  FilterError,
  batchMatters,
  buildAuditQuery,
  hasFilters,
  localToRfc3339,
  rfc3339ToLocal,
  verifyLine,
} from './audit';
import type { LiveMessage } from './types';

// A datetime-local value is the viewer's wall clock: compare against Date's
// own local reading, so the tests hold in any time zone.
const utcOfLocal = (y: number, mo: number, d: number, h: number, mi: number, s = 0) =>
  new Date(y, mo - 1, d, h, mi, s).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('localToRfc3339', () => {
  it('reads minutes and seconds in local time and prints UTC', () => {
    expect(localToRfc3339('2026-11-26T09:30')).toBe(utcOfLocal(2026, 11, 26, 9, 30));
    expect(localToRfc3339('2026-11-26T09:30:15')).toBe(utcOfLocal(2026, 11, 26, 9, 30, 15));
    expect(localToRfc3339('2026-11-26T09:30')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00Z$/);
  });

  it('keeps empty empty', () => {
    expect(localToRfc3339('')).toBe('');
    expect(localToRfc3339('   ')).toBe('');
  });

  it('refuses what is not a date and time', () => {
    expect(localToRfc3339('yesterday')).toBeNull();
    expect(localToRfc3339('2026-02-30T10:00')).toBeNull();
    expect(localToRfc3339('2026-11-26T25:00')).toBeNull();
    expect(localToRfc3339('2026-11-26')).toBeNull();
  });

  it('round-trips with rfc3339ToLocal', () => {
    const utc = localToRfc3339('2026-03-01T00:05');
    expect(utc).not.toBeNull();
    expect(rfc3339ToLocal(utc ?? '')).toBe('2026-03-01T00:05');
    expect(rfc3339ToLocal('')).toBe('');
    expect(rfc3339ToLocal('nonsense')).toBe('');
  });
});

describe('buildAuditQuery', () => {
  it('leaves out empty filters and trims the rest', () => {
    expect(buildAuditQuery(EMPTY_FILTERS)).toEqual({ limit: 100 });
    expect(buildAuditQuery({ ...EMPTY_FILTERS, project: ' shop ', actor: 'dev', type: 'release.' }, 200, 50)).toEqual({
      project: 'shop',
      actor: 'dev',
      type: 'release.',
      offset: 200,
      limit: 50,
    });
  });

  it('converts since and until to UTC', () => {
    const q = buildAuditQuery({ ...EMPTY_FILTERS, since: '2026-11-26T09:00', until: '2026-11-27T09:00' });
    expect(q.since).toBe(utcOfLocal(2026, 11, 26, 9, 0));
    expect(q.until).toBe(utcOfLocal(2026, 11, 27, 9, 0));
  });

  it('names the field of a bad time', () => {
    const bad = (f: Partial<typeof EMPTY_FILTERS>) => {
      try {
        buildAuditQuery({ ...EMPTY_FILTERS, ...f });
      } catch (err) {
        return err instanceof FilterError ? err.field : 'other';
      }
      return 'none';
    };
    expect(bad({ since: 'x' })).toBe('since');
    expect(bad({ until: '2026-13-01T00:00' })).toBe('until');
    expect(bad({ since: '2026-11-27T00:00', until: '2026-11-26T00:00' })).toBe('until');
    expect(bad({ since: '2026-11-26T00:00', until: '2026-11-27T00:00' })).toBe('none');
  });

  it('hasFilters', () => {
    expect(hasFilters(EMPTY_FILTERS)).toBe(false);
    expect(hasFilters({ ...EMPTY_FILTERS, actor: 'x' })).toBe(true);
  });
});

describe('verifyLine', () => {
  const head = { position: 412, hash: 'abc' };
  it('says verified with the count', () => {
    expect(verifyLine({ ok: true, count: 412, head })).toEqual({ ok: true, text: 'verified: 412 events' });
    expect(verifyLine({ ok: true, count: 1, head }).text).toBe('verified: 1 event');
  });
  it('says where a chain breaks', () => {
    expect(
      verifyLine({
        ok: false,
        count: 141,
        head,
        problem: { position: 142, kind: 'edited', reason: 'its hash does not match its content' },
        message: 'events: chain broken at position 142: edited (its hash does not match its content)',
      }),
    ).toEqual({ ok: false, text: 'broken at position 142: edited (its hash does not match its content)' });
    expect(verifyLine({ ok: false, count: 9, head, message: 'events: chain broken at position 10: missing' }).text).toBe(
      'broken at position 10: missing',
    );
    expect(verifyLine({ ok: false, count: 9, head }).ok).toBe(false);
  });
});

describe('batchMatters', () => {
  const m = (over: Partial<LiveMessage>): LiveMessage => ({
    position: 1,
    type: 'release.opened',
    time: '',
    actor: 'dev',
    stream: 'release-1',
    project: 'shop',
    ...over,
  });
  it('follows the filters and ignores output chunks', () => {
    expect(batchMatters([m({})], EMPTY_FILTERS)).toBe(true);
    expect(batchMatters([m({ type: 'step.output' })], EMPTY_FILTERS)).toBe(false);
    expect(batchMatters([m({})], { ...EMPTY_FILTERS, project: 'blog' })).toBe(false);
    expect(batchMatters([m({}), m({ project: 'blog' })], { ...EMPTY_FILTERS, project: 'blog' })).toBe(true);
    expect(batchMatters([m({})], { ...EMPTY_FILTERS, actor: 'tess' })).toBe(false);
    expect(batchMatters([m({})], { ...EMPTY_FILTERS, type: 'release.' })).toBe(true);
    expect(batchMatters([m({})], { ...EMPTY_FILTERS, type: 'deploy.' })).toBe(false);
  });
});
