import { describe, expect, it } from 'vitest';
import { formatLocal, formatUtc } from './time';

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
