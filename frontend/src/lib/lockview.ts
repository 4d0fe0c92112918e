// Breaking a stale deploy lock, in the UI's terms: which host failures a
// lock is behind (told by the step that failed, never by the message's
// words), the link from such a failure to the versions screen's dialog,
// which host that link asks for, and what a break did, host by host.

import { link } from './router.svelte';
import type { EnvDrift, LockBreak } from './types';

/**
 * The steps whose failure means another holder's lock is on the host:
 * `lock`, where a deployment takes the host lock (runner/hostrun.go:
 * "host X is locked by deployment Y ..., or break the lock").
 */
export const LOCK_STEPS: readonly string[] = ['lock'];

/** Whether a host of a deployment failed on a lock that breaking would free. */
export function isLockFailure(h: { state: string; failedStep?: string | undefined }): boolean {
  return h.state === 'failed' && h.failedStep !== undefined && LOCK_STEPS.includes(h.failedStep);
}

/** The query key of the versions screen that opens the break-lock dialog for a host. */
export const UNLOCK_PARAM = 'unlock';

/** The versions screen of an environment with the break-lock dialog open for host: #/versions/P/E?unlock=HOST. */
export function unlockLink(project: string, env: string, host: string): string {
  return `${link('versions', project, env)}?${new URLSearchParams({ [UNLOCK_PARAM]: host }).toString()}`;
}

/**
 * The host an address asks the dialog for: the host when it is one of the
 * environment's; null otherwise (none asked, or a host the environment no
 * longer has). A stale link never opens the dialog on "every host".
 */
export function unlockRequested(query: URLSearchParams, hosts: readonly string[]): string | null {
  const host = query.get(UNLOCK_PARAM);
  return host !== null && hosts.includes(host) ? host : null;
}

export interface BrokenLine {
  host: string;
  /** removed: a lock was there and is gone; none: no lock was there; unreachable: not reached, its lock may remain. */
  kind: 'removed' | 'none' | 'unreachable';
  deployment?: string;
  holder?: string;
  error?: string;
}

/** What a break did on each host: those reached first, as the server answered, then those not reached. */
export function brokenLines(res: LockBreak): BrokenLine[] {
  const out: BrokenLine[] = [];
  for (const h of res.broken.hosts ?? []) {
    const line: BrokenLine = { host: h.host, kind: h.deployment ? 'removed' : 'none' };
    if (h.deployment) line.deployment = h.deployment;
    if (h.holder) line.holder = h.holder;
    out.push(line);
  }
  for (const h of res.unreachable ?? []) out.push({ host: h.host, kind: 'unreachable', error: h.error });
  return out;
}

/** How many hosts of a drift check drifted, could not be read, and were checked. */
export function driftCounts(d: EnvDrift): { drifted: number; unreadable: number; total: number } {
  const hosts = d.hosts ?? [];
  return {
    drifted: hosts.filter((h) => h.drifted).length,
    unreadable: hosts.filter((h) => !!h.error).length,
    total: hosts.length,
  };
}
