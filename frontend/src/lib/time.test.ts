import { describe, expect, it } from 'vitest';
import { formatLocal, formatUtc, parseTime } from './time';

describe('formatUtc', () => {
  it('prints ISO 8601 UTC without milliseconds', () => {
    expect(formatUtc(new Date('2026-11-26T03:00:00.456Z'))).toBe('2026-11-26T03:00:00Z');
  });
});

describe('formatLocal', () => {
  const d = new Date(2026, 10, 26, 14, 5, 9); // local time

  it('shows only the time of day on the same day', () => {
    const s = formatLocal(d, new Date(2026, 10, 26, 23, 0, 0), 'en-GB');
    expect(s).toBe('14:05:09');
  });

  it('adds the date on another day', () => {
    const s = formatLocal(d, new Date(2026, 10, 27, 0, 0, 1), 'en-GB');
    expect(s).toContain('26 Nov 2026');
    expect(s).toContain('14:05:09');
  });
});

describe('parseTime', () => {
  it('reads RFC 3339 as ms since the epoch, null for nothing or nonsense', () => {
    expect(parseTime('2026-11-26T03:00:00Z')).toBe(Date.UTC(2026, 10, 26, 3, 0, 0));
    expect(parseTime('2026-11-26T04:00:00+01:00')).toBe(Date.UTC(2026, 10, 26, 3, 0, 0));
    expect(parseTime(undefined)).toBeNull();
    expect(parseTime(null)).toBeNull();
    expect(parseTime('')).toBeNull();
    expect(parseTime('yesterday')).toBeNull();
  });
});
