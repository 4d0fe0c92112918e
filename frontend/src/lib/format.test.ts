import { describe, expect, it } from 'vitest';
import { formatElapsed, formatInterval, formatTextSize, goDurationSeconds, listOrNone, shortSha } from './format';

describe('formatElapsed', () => {
  it('reads as seconds, minutes, hours', () => {
    expect(formatElapsed(850)).toBe('0.8s');
    expect(formatElapsed(9_999)).toBe('9.9s');
    expect(formatElapsed(10_000)).toBe('10s');
    expect(formatElapsed(59_000)).toBe('59s');
    expect(formatElapsed(65_000)).toBe('1m 05s');
    expect(formatElapsed(3_723_000)).toBe('1h 02m 03s');
    expect(formatElapsed(-5)).toBe('0.0s');
  });
});

describe('shortSha', () => {
  it('keeps seven characters, empty for none', () => {
    expect(shortSha('3f2a9c1e5d7b9f0a')).toBe('3f2a9c1');
    expect(shortSha(undefined)).toBe('');
    expect(shortSha(null)).toBe('');
    expect(shortSha('')).toBe('');
  });
});

describe('formatTextSize', () => {
  it('counts characters below 1 KiB, whole KiB from there', () => {
    expect(formatTextSize(0)).toBe('0 characters');
    expect(formatTextSize(1023)).toBe('1023 characters');
    expect(formatTextSize(1024)).toBe('1 KiB');
    expect(formatTextSize(256 * 1024)).toBe('256 KiB');
    expect(formatTextSize(1536)).toBe('2 KiB');
  });
});

describe('listOrNone', () => {
  it('joins names with commas, "none" when empty or absent', () => {
    expect(listOrNone(['web1', 'web2'])).toBe('web1, web2');
    expect(listOrNone([])).toBe('none');
    expect(listOrNone(undefined)).toBe('none');
  });
});

describe('formatInterval', () => {
  it('reads Go durations', () => {
    expect(goDurationSeconds('30m0s')).toBe(1800);
    expect(goDurationSeconds('168h0m0s')).toBe(604800);
    expect(goDurationSeconds('1h30m0s')).toBe(5400);
    expect(goDurationSeconds('soon')).toBeNull();
    expect(goDurationSeconds('')).toBeNull();
  });

  it('says an interval in words, by its largest whole unit', () => {
    expect(formatInterval('168h0m0s')).toBe('7 days');
    expect(formatInterval('24h0m0s')).toBe('1 day');
    expect(formatInterval('2h0m0s')).toBe('2 hours');
    expect(formatInterval('1h30m0s')).toBe('1 h 30 min');
    expect(formatInterval('30m0s')).toBe('30 minutes');
    expect(formatInterval('1m0s')).toBe('1 minute');
    expect(formatInterval('later')).toBe('later');
  });
});
