// The versions screen's pure logic: the timeline newest first (a version
// that went live twice shows twice; only its newest row carries its test id
// and actions), the versions to compare, who may roll back, and what a
// rollback will do.

import type { EnvVersions, HostVersion, ProjectEnvironment, VersionEntry } from './types';

export interface EntryRow {
  key: string;
  entry: VersionEntry;
  /** The newest entry of its version: the row that acts for the version. */
  newest: boolean;
}

/** The timeline, newest first. */
export function entryRows(v: EnvVersions): EntryRow[] {
  const seen = new Set<string>();
  const out: EntryRow[] = [];
  const tl = v.timeline ?? [];
  for (let i = tl.length - 1; i >= 0; i--) {
    const e = tl[i];
    if (!e) continue;
    const newest = !seen.has(e.version);
    seen.add(e.version);
    out.push({ key: `${e.deployment}:${e.position}:${i}`, entry: e, newest });
  }
  return out;
}

/**
 * Whether a timeline row shows as current: the newest row of a version when
 * that version is the environment's current one; an older row by its own flag.
 */
export function rowIsCurrent(r: EntryRow, current: string | undefined): boolean {
  return r.newest ? current === r.entry.version : r.entry.current === true;
}

/** The buttons a timeline row offers: only the newest row of a version acts for it. */
export function rowActions(
  v: EnvVersions,
  r: EntryRow,
  may: { rollback: boolean; markBad: boolean },
): { rollback: boolean; markBad: boolean } {
  if (!r.newest) return { rollback: false, markBad: false };
  return { rollback: may.rollback && rollbackOffered(v, r.entry), markBad: may.markBad && !r.entry.bad };
}

/** Whether a host runs something else than the environment's current version (none: nothing differs). */
export function hostDiffers(v: Pick<EnvVersions, 'current'>, h: Pick<HostVersion, 'version'>): boolean {
  return !!v.current && h.version !== v.current;
}

/** Every version that went live, once each, newest first. */
export function versionChoices(v: EnvVersions): string[] {
  return entryRows(v)
    .filter((r) => r.newest)
    .map((r) => r.entry.version);
}

/** What a comparison starts with: the current version (else the newest) against the one before it. */
export function compareDefaults(choices: readonly string[], current: string | undefined): { from: string; to: string } {
  const target = current && choices.includes(current) ? current : choices[0];
  const i = choices.indexOf(target ?? '');
  return { from: choices[i + 1] ?? choices[0] ?? '', to: target ?? '' };
}

/** The environment's hosts: the configured ones, then any other the versions know of. */
export function environmentHosts(
  configured: readonly string[] | undefined,
  running: readonly Pick<HostVersion, 'host'>[] | null | undefined,
): string[] {
  const hs = [...(configured ?? [])];
  for (const h of running ?? []) if (!hs.includes(h.host)) hs.push(h.host);
  return hs;
}

/**
 * The permissions that let a user roll the environment back: the one its
 * configuration asks for (environment.rollback_approved where production
 * needs an approval), either one while the configuration is unknown.
 */
export function rollbackActions(env: Pick<ProjectEnvironment, 'approval'> | null): string[] {
  if (env === null) return ['environment.rollback', 'environment.rollback_approved'];
  return [env.approval ? 'environment.rollback_approved' : 'environment.rollback'];
}

export interface RollbackPlan {
  hosts: { host: string; kept: boolean }[];
  /** Hosts that no longer hold the release: it is sent to them again. */
  transfer: string[];
  instant: boolean;
}

/** What a rollback to entry does on each host of the environment. */
export function rollbackPlan(entry: VersionEntry, envHosts: readonly string[]): RollbackPlan {
  const kept = new Set(entry.kept ?? []);
  const names = envHosts.length > 0 ? [...envHosts] : [...new Set([...(entry.hosts ?? []), ...kept])];
  const hosts = names.map((host) => ({ host, kept: entry.instant === true || kept.has(host) }));
  const transfer = hosts.filter((h) => !h.kept).map((h) => h.host);
  return { hosts, transfer, instant: entry.instant === true || (hosts.length > 0 && transfer.length === 0) };
}

/**
 * Whether a rollback to a version is worth offering: it is not marked bad,
 * and some host runs something else. The current version (the last
 * deployment that succeeded) is offered too when hosts moved away from it
 * (a deployment interrupted, or failed on some hosts): going back to it is
 * then the rollback needed. The server decides the same way.
 */
export function rollbackOffered(v: EnvVersions, e: VersionEntry): boolean {
  if (e.bad) return false;
  if (v.current !== e.version) return true;
  const hosts = v.hosts ?? [];
  return v.mixed === true || hosts.length === 0 || hosts.some((h) => h.version !== e.version);
}
