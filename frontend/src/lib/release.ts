// A release's detail view, apart from its markup: the actions the server
// offers, the timeline's words, the commits to compare, and which live
// messages mean the view must be fetched again.

import { t } from '../i18n';
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

/** A decision's catalog key: "test-pass" → "test_pass". */
export function decisionKey(d: Decision): string {
  return d.replace('-', '_');
}

/** A decision's button label, in the page's language ("Test passed", "Approve"). */
export function decisionLabel(d: Decision): string {
  return t(`release.decision.${decisionKey(d)}`);
}

/** The timeline actions said in words; each is release.timeline.action.<key> in the catalogs. */
const TIMELINE_WORDS: Record<string, string> = {
  'release.opened': 'release_opened',
  'release.deploy_requested': 'deploy_requested',
  'deploy.requested': 'deploy_requested',
  'deploy.succeeded': 'deploy_succeeded',
  'deploy.failed': 'deploy_failed',
  'deploy.cancelled': 'deploy_cancelled',
  'deploy.interrupted': 'deploy_interrupted',
  'release.test_passed': 'test_passed',
  'release.test_failed': 'test_failed',
  'release.approved': 'approved',
  'release.rejected': 'rejected',
  'release.accepted': 'accepted',
  'release.refused': 'refused',
  'release.completed': 'completed',
  'release.cancelled': 'cancelled',
};

/** A timeline entry's action in words ("release.test_passed" → "passed the test"). */
export function timelineWords(action: string): string {
  const known = TIMELINE_WORDS[action];
  if (known) return t(`release.timeline.action.${known}`);
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
 * the release, a deployment's start or end of one of its deployments, or
 * an attempt at a notification of its project (the live feed names a
 * notification's project, not its release: the few of other releases cost
 * a refetch). Step output and host progress do not change it and are
 * skipped, so a running deployment does not refetch the release many
 * times a second.
 */
export function releaseTouched(
  batch: readonly LiveMessage[],
  id: string,
  deployments: readonly string[],
  project?: string,
): boolean {
  return batch.some(
    (m) =>
      !NOISY.test(m.type) &&
      (m.release === id ||
        (m.deployment !== undefined && deployments.includes(m.deployment)) ||
        (project !== undefined && m.project === project && m.type.startsWith('notification.'))),
  );
}


/** Who acts next, in words: shown when the user has nothing to do now. */
export function nextStep(r: Release, lastEnv = ''): string {
  const env = lastEnv || t('release.next.last_stage');
  switch (r.state) {
    case 'open':
      return t('release.next.open');
    case 'testing': {
      const commit = shortSha(r.pinned_commit) || t('release.next.pinned_commit');
      return r.pinned_env ? t('release.next.testing_on', { commit, env: r.pinned_env }) : t('release.next.testing', { commit });
    }
    case 'tested':
      return t('release.next.tested', { requester: r.requester, commit: shortSha(r.tested_commit) || t('release.next.tested_commit') });
    case 'approved':
      return t('release.next.approved', { commit: shortSha(r.approved_commit) || t('release.next.approved_commit'), env });
    case 'live':
      return t('release.next.live', { env });
    case 'accepted':
      return t('release.next.accepted');
    case 'completed':
      return r.tag ? t('release.next.completed_tag', { tag: r.tag }) : t('release.next.completed');
    case 'cancelled':
      return t('release.next.cancelled');
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
  if (stage?.approval) return { commit: r.approved_commit ?? '', words: t('release.deploy_what.approved') };
  if (last) {
    if (r.approved_commit) return { commit: r.approved_commit, words: t('release.deploy_what.approved') };
    if (r.tested_commit) return { commit: r.tested_commit, words: t('release.deploy_what.tested') };
  }
  return { commit: '', words: t('release.deploy_what.head', { branch: r.branch }) };
}
