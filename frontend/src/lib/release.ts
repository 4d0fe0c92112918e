// A release's detail view, apart from its markup: the actions the server
// offers, the timeline's words, the commits to compare, and which live
// messages mean the view must be fetched again.

import { shortSha } from './format';
import type { EnvVersions, LiveMessage, Release } from './types';

/** The decisions a release takes besides deploying, as the server names them. */
export type Decision = 'test-pass' | 'test-fail' | 'approve' | 'reject' | 'accept' | 'refuse' | 'complete' | 'cancel';

export interface ActionPlan {
  /** Environments the user may deploy to now, in the server's order. */
  deploy: string[];
  /** Decisions the user may take now, in workflow order. */
  decisions: Decision[];
}

const DECISION_ORDER: Decision[] = ['test-pass', 'test-fail', 'approve', 'reject', 'accept', 'refuse', 'complete', 'cancel'];

/** The server's own names, besides "test" and "deploy:<env>". */
const SERVER_DECISIONS = new Set(['approve', 'reject', 'accept', 'refuse', 'complete', 'cancel']);

/** Reads the server's `actions` list; anything not in it is not offered, anything unknown is ignored. */
export function planActions(actions: readonly string[] | null | undefined): ActionPlan {
  const deploy: string[] = [];
  const have = new Set<Decision>();
  for (const a of actions ?? []) {
    if (a.startsWith('deploy:')) {
      const env = a.slice('deploy:'.length);
      if (env && !deploy.includes(env)) deploy.push(env);
    } else if (a === 'test') {
      have.add('test-pass');
      have.add('test-fail');
    } else if (SERVER_DECISIONS.has(a)) {
      have.add(a as Decision);
    }
  }
  return { deploy, decisions: DECISION_ORDER.filter((d) => have.has(d)) };
}

/** Decisions that need a reason in words (the server refuses them without one). */
export function needsReason(d: Decision): boolean {
  return d === 'test-fail' || d === 'reject' || d === 'refuse' || d === 'cancel';
}

export const DECISION_LABEL: Record<Decision, string> = {
  'test-pass': 'Test passed',
  'test-fail': 'Test failed',
  approve: 'Approve',
  reject: 'Reject',
  accept: 'Accept',
  refuse: 'Refuse',
  complete: 'Complete',
  cancel: 'Cancel release',
};

const TIMELINE_WORDS: Record<string, string> = {
  'release.opened': 'opened the release',
  'release.deploy_requested': 'asked for a deployment',
  'deploy.requested': 'asked for a deployment',
  'deploy.succeeded': 'deployment succeeded',
  'deploy.failed': 'deployment failed',
  'deploy.cancelled': 'deployment cancelled',
  'deploy.interrupted': 'deployment interrupted',
  'release.test_passed': 'passed the test',
  'release.test_failed': 'failed the test',
  'release.approved': 'approved',
  'release.rejected': 'rejected',
  'release.accepted': 'accepted',
  'release.refused': 'refused',
  'release.completed': 'completed the release',
  'release.cancelled': 'cancelled the release',
};

/** A timeline entry's action in words ("release.test_passed" → "passed the test"). */
export function timelineWords(action: string): string {
  const known = TIMELINE_WORDS[action];
  if (known) return known;
  const tail = action.includes('.') ? action.slice(action.indexOf('.') + 1) : action;
  return tail.replace(/_/g, ' ');
}

/** How a timeline entry went: for the entry's colour. */
export function timelineTone(action: string): 'ok' | 'error' | 'idle' {
  if (['deploy.succeeded', 'release.test_passed', 'release.approved', 'release.accepted', 'release.completed'].includes(action))
    return 'ok';
  if (
    ['deploy.failed', 'deploy.cancelled', 'deploy.interrupted', 'release.test_failed', 'release.rejected', 'release.refused', 'release.cancelled'].includes(
      action,
    )
  )
    return 'error';
  return 'idle';
}

/** The newest commit the release has reached: approved, else tested, else pinned on a test stage. */
export function releaseHead(r: Release): string {
  return r.approved_commit || r.tested_commit || r.pinned_commit || '';
}

export interface CompareRange {
  /** A commit; '' means from the repository's root (nothing went live yet). */
  from: string;
  to: string;
  /** The environment the base was read from. */
  env: string;
  /** The version that ran there before this release, when there was one. */
  baseVersion?: string;
}

/**
 * What "the commits since the last release" compares: from the commit that
 * ran on the last stage before this release reached it, to the release's
 * newest commit. Null when the release has no commit of its own yet.
 */
export function compareRange(r: Release, lastEnv: EnvVersions | undefined): CompareRange | null {
  const to = releaseHead(r);
  if (!to) return null;
  const env = lastEnv?.environment ?? '';
  const timeline = lastEnv?.timeline ?? [];
  const firstOwn = timeline.findIndex((v) => v.release === r.id);
  const before = firstOwn < 0 ? timeline : timeline.slice(0, firstOwn);
  for (let i = before.length - 1; i >= 0; i--) {
    const v = before[i];
    if (v && v.outcome !== 'reverted' && v.commit) return { from: v.commit, to, env, baseVersion: v.version };
  }
  return { from: '', to, env };
}

const NOISY = /^(step\.|deploy\.host_)/;

/**
 * Whether a live batch changes what a release's view shows: a message about
 * the release, or a deployment's start or end of one of its deployments.
 * Step output and host progress do not change it and are skipped, so a
 * running deployment does not refetch the release many times a second.
 */
export function releaseTouched(batch: readonly LiveMessage[], id: string, deployments: readonly string[]): boolean {
  return batch.some(
    (m) => !NOISY.test(m.type) && (m.release === id || (m.deployment !== undefined && deployments.includes(m.deployment))),
  );
}


/** Who acts next, in words: shown when the user has nothing to do now. */
export function nextStep(r: Release, lastEnv = ''): string {
  const last = lastEnv || 'the last stage';
  switch (r.state) {
    case 'open':
      return 'Next: a developer deploys the branch to a test stage.';
    case 'testing':
      return `Next: a tester passes or fails the test of ${shortSha(r.pinned_commit) || 'the pinned commit'}${r.pinned_env ? ` on ${r.pinned_env}` : ''}.`;
    case 'tested':
      return `Next: an approver other than ${r.requester} approves or rejects ${shortSha(r.tested_commit) || 'the tested commit'}.`;
    case 'approved':
      return `Next: an approver deploys ${shortSha(r.approved_commit) || 'the approved commit'} to ${last}.`;
    case 'live':
      return `Next: a manager accepts or refuses what runs on ${last}.`;
    case 'accepted':
      return 'Next: a developer or manager completes the release, which tags the commit that went live.';
    case 'completed':
      return r.tag ? `Done: tagged ${r.tag}.` : 'Done.';
    case 'cancelled':
      return 'Cancelled: nothing more happens to this release.';
  }
  return '';
}

export interface StageInfo {
  name: string;
  approval?: boolean;
}

/**
 * What a deployment to env will put there, by the workflow's rules: a stage
 * with approval takes the approved commit; the last stage without approval
 * the approved, else tested commit, else the branch head; a test stage the
 * branch head. The server decides; this is the button's explanation.
 */
export function deployWhat(r: Release, env: string, stages: readonly StageInfo[]): { commit: string; words: string } {
  const i = stages.findIndex((s) => s.name === env);
  const stage = stages[i];
  const last = i >= 0 && i === stages.length - 1;
  if (stage?.approval) return { commit: r.approved_commit ?? '', words: 'the approved commit' };
  if (last) {
    if (r.approved_commit) return { commit: r.approved_commit, words: 'the approved commit' };
    if (r.tested_commit) return { commit: r.tested_commit, words: 'the tested commit' };
  }
  return { commit: '', words: `the head of ${r.branch}` };
}
