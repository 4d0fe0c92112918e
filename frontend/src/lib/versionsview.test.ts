import { describe, expect, it } from 'vitest';
import { locale } from 'svelte-i18n';
import { t } from '../i18n';
import type { EnvVersions, VersionEntry } from './types';
import {
  compareDefaults,
  entryRows,
  environmentHosts,
  hostDiffers,
  rollbackActions,
  rollbackOffered,
  rollbackPlan,
  rowActions,
  rowIsCurrent,
  versionChoices,
} from './versionsview';

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

describe('rowIsCurrent', () => {
  it("reads the newest row against the environment's current version, an older row by its own flag", () => {
    const [v1again, v2, v1] = entryRows(env([entry('v1', { current: true }), entry('v2'), entry('v1', { position: 3 })], 'v1'));
    expect(rowIsCurrent(v1again!, 'v1')).toBe(true);
    expect(rowIsCurrent(v2!, 'v1')).toBe(false);
    expect(rowIsCurrent(v1!, 'v1')).toBe(true); // older row: its own flag
    expect(rowIsCurrent(v1again!, undefined)).toBe(false);
  });
});

describe('rowActions', () => {
  const all = { rollback: true, markBad: true };
  it('offers actions on the newest row of a version only', () => {
    const v = env([entry('v1'), entry('v2', { current: true }), entry('v1', { position: 3 })], 'v2');
    const [newest, , older] = entryRows(v);
    expect(rowActions(v, newest!, all)).toEqual({ rollback: true, markBad: true });
    expect(rowActions(v, older!, all)).toEqual({ rollback: false, markBad: false });
  });

  it('follows what the user may do, and never marks a bad version again', () => {
    const v = env([entry('v1', { bad: true }), entry('v2', { current: true })], 'v2');
    const [v2, v1] = entryRows(v);
    expect(rowActions(v, v1!, all)).toEqual({ rollback: false, markBad: false });
    expect(rowActions(v, v2!, all)).toEqual({ rollback: true, markBad: true }); // no host known: offered
    expect(rowActions(v, v2!, { rollback: false, markBad: true })).toEqual({ rollback: false, markBad: true });
    expect(rowActions(v, v2!, { rollback: true, markBad: false })).toEqual({ rollback: true, markBad: false });
  });
});

describe('hostDiffers', () => {
  it('compares with the current version; nothing differs without one', () => {
    expect(hostDiffers({ current: 'v2' }, { version: 'v1' })).toBe(true);
    expect(hostDiffers({ current: 'v2' }, { version: '' })).toBe(true);
    expect(hostDiffers({ current: 'v2' }, { version: 'v2' })).toBe(false);
    expect(hostDiffers({}, { version: 'v1' })).toBe(false);
  });
});

describe('compareDefaults', () => {
  it('compares the current version with the one before it', () => {
    expect(compareDefaults(['v3', 'v2', 'v1'], 'v2')).toEqual({ from: 'v1', to: 'v2' });
  });

  it('takes the newest when none is current, and itself when nothing came before', () => {
    expect(compareDefaults(['v3', 'v2', 'v1'], undefined)).toEqual({ from: 'v2', to: 'v3' });
    expect(compareDefaults(['v3', 'v2', 'v1'], 'gone')).toEqual({ from: 'v2', to: 'v3' });
    expect(compareDefaults(['v3', 'v2', 'v1'], 'v1')).toEqual({ from: 'v3', to: 'v1' });
    expect(compareDefaults(['v1'], 'v1')).toEqual({ from: 'v1', to: 'v1' });
    expect(compareDefaults([], undefined)).toEqual({ from: '', to: '' });
  });
});

describe('environmentHosts', () => {
  it('keeps the configured order, then adds hosts only the versions know', () => {
    const running = [{ host: 'b' }, { host: 'old' }];
    expect(environmentHosts(['a', 'b'], running)).toEqual(['a', 'b', 'old']);
    expect(environmentHosts(undefined, running)).toEqual(['b', 'old']);
    expect(environmentHosts(['a'], undefined)).toEqual(['a']);
  });
});

describe('rollbackActions', () => {
  it('asks for the permission the environment needs; either one while it is unknown', () => {
    expect(rollbackActions({ approval: true })).toEqual(['environment.rollback_approved']);
    expect(rollbackActions({ approval: false })).toEqual(['environment.rollback']);
    expect(rollbackActions({})).toEqual(['environment.rollback']);
    expect(rollbackActions(null)).toEqual(['environment.rollback', 'environment.rollback_approved']);
  });
});
