import { describe, expect, it } from 'vitest';
import type { EnvVersions, VersionEntry } from './types';
import { entryRows, rollbackOffered, rollbackPlan, versionChoices } from './versionsview';

function entry(version: string, over: Partial<VersionEntry> = {}): VersionEntry {
  return {
    version,
    commit: 'c'.repeat(40),
    deployment: `d-${version}`,
    by: 'dev',
    kind: 'deploy',
    at: '2026-11-26T10:00:00Z',
    position: 1,
    outcome: 'succeeded',
    ...over,
  };
}

const env = (timeline: VersionEntry[], current?: string): EnvVersions => ({
  project: 'shop',
  environment: 'production',
  hosts: [],
  timeline,
  ...(current ? { current } : {}),
});

describe('entryRows', () => {
  it('lists newest first; only the newest entry of a version acts for it', () => {
    const v = env([
      entry('v1', { position: 1 }),
      entry('v2', { position: 2 }),
      entry('v1', { position: 3, kind: 'rollback', deployment: 'd3', current: true }),
    ]);
    const rows = entryRows(v);
    expect(rows.map((r) => [r.entry.version, r.newest])).toEqual([
      ['v1', true],
      ['v2', true],
      ['v1', false],
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(3);
    expect(versionChoices(v)).toEqual(['v1', 'v2']);
  });

  it('is empty for an environment never deployed to', () => {
    expect(entryRows(env([]))).toEqual([]);
    expect(versionChoices(env([]))).toEqual([]);
  });
});

describe('rollbackPlan', () => {
  it('is an instant switch when every host keeps the release', () => {
    const p = rollbackPlan(entry('v1', { instant: true, kept: ['a', 'b'] }), ['a', 'b']);
    expect(p).toEqual({ hosts: [{ host: 'a', kept: true }, { host: 'b', kept: true }], transfer: [], instant: true });
  });

  it('names the hosts that need a transfer', () => {
    const p = rollbackPlan(entry('v1', { kept: ['a'] }), ['a', 'b', 'c']);
    expect(p.instant).toBe(false);
    expect(p.transfer).toEqual(['b', 'c']);
  });

  it('falls back to the hosts the version ran on', () => {
    const p = rollbackPlan(entry('v1', { hosts: ['a', 'b'], kept: [] }), []);
    expect(p.hosts.map((h) => h.host)).toEqual(['a', 'b']);
    expect(p.transfer).toEqual(['a', 'b']);
  });
});

describe('rollbackOffered', () => {
  const host = (name: string, version: string) => ({
    host: name,
    version,
    commit: 'c'.repeat(40),
    deployment: 'd1',
    since: '2026-11-26T10:00:00Z',
  });
  it('offers any version but the current one, and never a bad one', () => {
    const v = { ...env([entry('v1'), entry('v2', { current: true })], 'v2'), hosts: [host('a', 'v2'), host('b', 'v2')] };
    expect(rollbackOffered(v, entry('v1'))).toBe(true);
    expect(rollbackOffered(v, entry('v2'))).toBe(false);
    expect(rollbackOffered(v, entry('v1', { bad: true }))).toBe(false);
  });

  it('offers the current version when a host runs another (an interrupted or partial deployment)', () => {
    const timeline = [entry('v1', { current: true }), entry('v2', { outcome: 'partial' })];
    const v = { ...env(timeline, 'v1'), hosts: [host('a', 'v2'), host('b', 'v1')], mixed: true };
    expect(rollbackOffered(v, entry('v1', { current: true }))).toBe(true);
    const allMoved = { ...v, hosts: [host('a', 'v2'), host('b', 'v2')], mixed: false };
    expect(rollbackOffered(allMoved, entry('v1', { current: true }))).toBe(true);
  });
});
