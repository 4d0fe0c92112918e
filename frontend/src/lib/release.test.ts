import { describe, expect, it } from 'vitest';
import { t } from '../i18n';
import {
  compareRange,
  decisionLabel,
  deployWhat,
  nextStep,
  needsReason,
  planActions,
  releaseHead,
  releaseTouched,
  timelineTone,
  timelineWords,
} from './release';
import type { EnvVersions, LiveMessage, Release, VersionEntry } from './types';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function rel(extra: Partial<Release> = {}): Release {
  return {
    id: '42',
    project: 'blog',
    branch: 'feature/comments',
    title: 'Comments',
    state: 'open',
    requester: 'dev',
    created: '2026-11-26T09:00:00Z',
    updated: '2026-11-26T09:00:00Z',
    deployments: null,
    position: 1,
    ...extra,
  };
}

function ver(version: string, commit: string, release: string | undefined, outcome = 'succeeded'): VersionEntry {
  return { version, commit, release, deployment: 'd', by: 'alice', kind: 'deploy', at: '2026-11-26T09:00:00Z', position: 1, outcome };
}

function env(timeline: VersionEntry[]): EnvVersions {
  return { project: 'blog', environment: 'production', hosts: [], timeline };
}

function msg(type: string, extra: Partial<LiveMessage> = {}): LiveMessage {
  return { position: 1, type, time: '2026-11-26T09:00:00Z', actor: 'dev', stream: 's', ...extra };
}

describe('planActions', () => {
  it("offers exactly the server's actions, in workflow order", () => {
    expect(planActions(['cancel', 'approve', 'reject'])).toEqual({ deploy: [], decisions: ['approve', 'reject', 'cancel'] });
  });

  it('turns deploy:<env> into environments, keeping the server order', () => {
    expect(planActions(['deploy:test', 'deploy:production', 'cancel']).deploy).toEqual(['test', 'production']);
  });

  it('splits test into pass and fail', () => {
    expect(planActions(['test']).decisions).toEqual(['test-pass', 'test-fail']);
  });

  it('offers nothing for an empty, null or unknown list', () => {
    expect(planActions([])).toEqual({ deploy: [], decisions: [] });
    expect(planActions(null)).toEqual({ deploy: [], decisions: [] });
    expect(planActions(['bless', 'deploy:', 'test-pass'])).toEqual({ deploy: [], decisions: [] });
  });
});

describe('needsReason', () => {
  it('asks a reason for the decisions that send a release back or end it', () => {
    expect(['test-fail', 'reject', 'refuse', 'cancel'].every((d) => needsReason(d as never))).toBe(true);
    expect(['test-pass', 'approve', 'accept', 'complete'].some((d) => needsReason(d as never))).toBe(false);
  });
});

describe('timelineWords', () => {
  it('says known actions in words and falls back to the action name', () => {
    expect(timelineWords('release.test_passed')).toBe('passed the test');
    expect(timelineWords('deploy.failed')).toBe('deployment failed');
    expect(timelineWords('release.something_new')).toBe('something new');
    expect(timelineWords('plain')).toBe('plain');
  });

  it('gives a tone to outcomes', () => {
    expect(timelineTone('deploy.succeeded')).toBe('ok');
    expect(timelineTone('release.rejected')).toBe('error');
    expect(timelineTone('release.opened')).toBe('idle');
  });
});

describe('releaseHead', () => {
  it('prefers approved, then tested, then pinned', () => {
    expect(releaseHead(rel({ pinned_commit: A, tested_commit: B, approved_commit: C }))).toBe(C);
    expect(releaseHead(rel({ pinned_commit: A, tested_commit: B }))).toBe(B);
    expect(releaseHead(rel({ pinned_commit: A }))).toBe(A);
    expect(releaseHead(rel())).toBe('');
  });
});

describe('compareRange', () => {
  it('is null while the release has no commit of its own', () => {
    expect(compareRange(rel(), env([ver('v1', A, '41')]))).toBeNull();
  });

  it('starts at what runs on the last stage when the release has not gone there', () => {
    const r = rel({ pinned_commit: C });
    expect(compareRange(r, env([ver('v1', A, '40'), ver('v2', B, '41')]))).toEqual({
      from: B,
      to: C,
      env: 'production',
      baseVersion: 'v2',
    });
  });

  it('starts before the release first went to the last stage, skipping reverted versions', () => {
    const r = rel({ pinned_commit: C, approved_commit: C });
    const t = [ver('v1', A, '40'), ver('v2', B, '41', 'reverted'), ver('v3', C, '42'), ver('v4', B, '43')];
    expect(compareRange(r, env(t))).toEqual({ from: A, to: C, env: 'production', baseVersion: 'v1' });
  });

  it('starts at the root when nothing went live before', () => {
    expect(compareRange(rel({ pinned_commit: C }), env([]))).toEqual({ from: '', to: C, env: 'production' });
    expect(compareRange(rel({ pinned_commit: C }), undefined)).toEqual({ from: '', to: C, env: '' });
  });
});

describe('releaseTouched', () => {
  it('is true for a message about the release or one of its deployments', () => {
    expect(releaseTouched([msg('release.approved', { release: '42' })], '42', [])).toBe(true);
    expect(releaseTouched([msg('deploy.succeeded', { deployment: 'd7' })], '42', ['d7'])).toBe(true);
  });

  it("is true for a notification of the release's project: the feed does not name its release", () => {
    const sent = msg('notification.sent', { project: 'blog' });
    expect(releaseTouched([sent], '42', [], 'blog')).toBe(true);
    expect(releaseTouched([msg('notification.failed', { project: 'shop' })], '42', [], 'blog')).toBe(false);
    expect(releaseTouched([sent], '42', [])).toBe(false); // the project not known yet
    expect(releaseTouched([msg('project.configured', { project: 'blog' })], '42', [], 'blog')).toBe(false);
  });

  it('is false for other releases, output, steps and host progress', () => {
    expect(releaseTouched([msg('release.approved', { release: '41' })], '42', ['d7'])).toBe(false);
    expect(
      releaseTouched(
        [
          msg('step.output', { release: '42', deployment: 'd7', text: 'x' }),
          msg('step.finished', { release: '42', deployment: 'd7' }),
          msg('deploy.host_switched', { release: '42', deployment: 'd7' }),
        ],
        '42',
        ['d7'],
      ),
    ).toBe(false);
  });
});

describe('nextStep', () => {
  it('names who acts next for each state', () => {
    expect(nextStep(rel())).toMatch(/developer deploys/);
    expect(nextStep(rel({ state: 'testing', pinned_commit: A, pinned_env: 'test' }))).toBe(
      'Next: a tester passes or fails the test of aaaaaaa on test.',
    );
    expect(nextStep(rel({ state: 'tested', tested_commit: B }))).toMatch(/approver other than dev approves or rejects bbbbbbb/);
    expect(nextStep(rel({ state: 'approved', approved_commit: C }), 'production')).toBe(
      'Next: an approver deploys ccccccc to production.',
    );
    expect(nextStep(rel({ state: 'live' }), 'production')).toMatch(/manager accepts or refuses what runs on production/);
    expect(nextStep(rel({ state: 'completed', tag: 'release/v1' }))).toBe('Done: tagged release/v1.');
    expect(nextStep(rel({ state: 'cancelled' }))).toMatch(/^Cancelled/);
  });
});

describe('deployWhat', () => {
  const stages = [{ name: 'test' }, { name: 'staging', approval: true }, { name: 'production', approval: true }];

  it('a test stage takes the branch head', () => {
    expect(deployWhat(rel({ approved_commit: C }), 'test', stages)).toEqual({ commit: '', words: 'the head of feature/comments' });
  });

  it('a stage with approval takes the approved commit', () => {
    expect(deployWhat(rel({ approved_commit: C }), 'production', stages)).toEqual({ commit: C, words: 'the approved commit' });
    expect(deployWhat(rel({ approved_commit: C }), 'staging', stages).commit).toBe(C);
  });

  it('a last stage without approval takes approved, else tested, else the branch head', () => {
    const two = [{ name: 'test' }, { name: 'live' }];
    expect(deployWhat(rel({ tested_commit: B, approved_commit: C }), 'live', two).commit).toBe(C);
    expect(deployWhat(rel({ tested_commit: B }), 'live', two)).toEqual({ commit: B, words: 'the tested commit' });
    expect(deployWhat(rel(), 'live', two).words).toBe('the head of feature/comments');
  });
});

describe('decisionLabel', () => {
  it('names each decision on its button', () => {
    expect(decisionLabel('test-pass')).toBe('Test passed');
    expect(decisionLabel('approve')).toBe('Approve');
    expect(decisionLabel('cancel')).toBe('Cancel release');
  });
});
