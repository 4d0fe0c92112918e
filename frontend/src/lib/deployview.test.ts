import { describe, expect, it } from 'vitest';
import {
  readableMarkers,
  OutputBuffer,
  OutputStore,
  elapsedOf,
  expectedPhases,
  hostViews,
  latestRun,
  stepNameOf,
  stepsToShow,
  type Phase,
} from './deployview';
import type { Deployment, HostProgress, LiveMessage, Step } from './types';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function step(host: string, name: string, start: number, end?: number, extra: Partial<Step> = {}): Step {
  const s: Step = {
    id: host ? `${host}:${name}` : name,
    name,
    command: null,
    started: at(start),
    exit_code: 0,
    duration_ms: end === undefined ? 0 : (end - start) * 1000,
    ...extra,
  };
  if (host) s.host = host;
  if (end !== undefined) s.finished = at(end);
  return s;
}

function deployment(over: Partial<Deployment> = {}): Deployment {
  return {
    id: 'd1',
    kind: 'deploy',
    project: 'shop',
    environment: 'production',
    commit: '0598d3292c4b8aa3e28cada152101cd4d219d47b',
    version: '20261126060236-0598d32',
    requested_by: 'dev',
    state: 'running',
    runs: 1,
    plan: { batches: [['web1', 'web2']], parallel: 10, on_failure: 'halt', manifest_hash: '', files: 3, bytes: 577 },
    hosts: [],
    steps: [],
    requested: at(0),
    started: at(0),
    duration_ms: 0,
    position: 10,
    ...over,
  };
}

const host = (h: string, state: string, over: Partial<HostProgress> = {}): HostProgress => ({ host: h, state, ...over });

describe('step names and phases', () => {
  it('takes the name from a step id, without host or retry suffix', () => {
    expect(stepNameOf('www@10.0.1.1:22:hook.pre_release', 'www@10.0.1.1:22')).toBe('hook.pre_release');
    expect(stepNameOf('web1:switch#2', 'web1')).toBe('switch');
    expect(stepNameOf('export')).toBe('export');
  });

  it('expects every phase of a deploy, optional ones once seen', () => {
    const none = new Set<Phase>();
    expect(expectedPhases('deploy', none, none)).toEqual(['connect', 'lock', 'stage', 'link', 'switch', 'finish']);
    expect(expectedPhases('deploy', none, new Set<Phase>(['hook.pre_release']))).toContain('hook.pre_release');
  });

  it('expects a short list for a rollback to a kept release, the full one when the host stages again', () => {
    const none = new Set<Phase>();
    expect(expectedPhases('rollback', new Set<Phase>(['connect']), none)).toEqual(['connect', 'lock', 'switch', 'finish']);
    expect(expectedPhases('rollback', new Set<Phase>(['connect', 'stage']), none)).toEqual([
      'connect',
      'lock',
      'stage',
      'link',
      'switch',
      'finish',
    ]);
  });

  it('keeps the latest run of a retried host', () => {
    const steps = [step('w', 'connect', 0, 1), step('w', 'prepare', 1, 2), step('w', 'connect', 10), step('w', 'prepare', 11)];
    expect(latestRun(steps).map((s) => s.started)).toEqual([at(10), at(11)]);
  });
});

describe('hostViews', () => {
  it('counts the phases a running host passed and names the current step', () => {
    const d = deployment({
      hosts: [host('web1', 'staging', { step: 'web1:transfer' }), host('web2', 'pending')],
      steps: [step('', 'export', 0, 1), step('web1', 'connect', 1, 2), step('web1', 'prepare', 2, 3), step('web1', 'staging', 3, 4), step('web1', 'transfer', 4)],
    });
    const [w1, w2] = hostViews(d);
    expect(w1).toMatchObject({ host: 'web1', done: 2, total: 6, current: 'transfer', end: null });
    expect(w1?.start).toBe(T0 + 1000);
    expect(elapsedOf(w1!, T0 + 9000)).toBe(8000);
    expect(w2).toMatchObject({ done: 0, current: 'waiting', start: null });
    expect(elapsedOf(w2!, T0 + 9000)).toBe(0);
  });

  it('counts skipped phases as passed and a finished deployment\'s switched host as complete', () => {
    const d = deployment({
      state: 'succeeded',
      finished: at(9),
      hosts: [host('web1', 'switched')],
      steps: [step('web1', 'connect', 1, 2), step('web1', 'prepare', 2, 3), step('web1', 'switch', 3, 4), step('web1', 'unlock', 4, 5)],
    });
    const [w1] = hostViews(d);
    expect(w1).toMatchObject({ done: 6, total: 6, current: 'done', end: T0 + 5000 });
    expect(elapsedOf(w1!, T0 + 60_000)).toBe(4000);
  });

  it('adds a hook to every host once one host ran it, and stops a failed host where it failed', () => {
    const d = deployment({
      state: 'failed',
      hosts: [host('a', 'switched'), host('b', 'failed', { failed_step: 'hook.pre_release', error: 'exit 1' })],
      steps: [
        step('a', 'connect', 0, 1),
        step('a', 'hook.pre_release', 1, 2),
        step('a', 'switch', 2, 3),
        step('b', 'connect', 0, 1),
        step('b', 'prepare', 1, 2),
        step('b', 'staging', 2, 3),
        step('b', 'finalize', 3, 4),
        step('b', 'hook.pre_release', 4, 5, { exit_code: 1 }),
      ],
    });
    const [a, b] = hostViews(d);
    expect(a?.total).toBe(7);
    expect(a?.done).toBe(7);
    expect(b).toMatchObject({ total: 7, done: 5, current: 'failed at hook.pre_release', error: 'exit 1' });
  });

  it('does not count the cleanup of a cancelled host as progress', () => {
    const d = deployment({
      state: 'cancelled',
      finished: at(9),
      hosts: [host('a', 'staging', { step: 'a:unlock' })],
      steps: [step('a', 'connect', 0, 1), step('a', 'prepare', 1, 2), step('a', 'staging', 2, 3), step('a', 'unlock', 3, 4)],
    });
    const [a] = hostViews(d);
    expect(a).toMatchObject({ done: 3, total: 6, current: 'stopped after staging', end: T0 + 4000 });
  });

  it('shows a rollback to a kept release as a short run', () => {
    const d = deployment({
      kind: 'rollback',
      hosts: [host('a', 'staged', { step: 'a:switch' })],
      steps: [step('a', 'connect', 0, 1), step('a', 'prepare', 1, 2), step('a', 'switch', 2)],
    });
    const [a] = hostViews(d);
    expect(a).toMatchObject({ total: 4, done: 2, current: 'switch' });
  });
});

describe('OutputBuffer', () => {
  it('keeps the text as it came', () => {
    const b = new OutputBuffer();
    b.append('hello');
    b.append(' world\n');
    expect(b.text()).toBe('hello world\n');
    expect(b.dropped).toBe(0);
  });

  it('keeps only the last cap characters and counts what it dropped', () => {
    const b = new OutputBuffer(100);
    for (let i = 0; i < 50; i++) b.append('0123456789');
    expect(b.size).toBe(100);
    expect(b.text()).toHaveLength(100);
    expect(b.text().endsWith('0123456789')).toBe(true);
    expect(b.dropped).toBe(400);
    b.append('x'.repeat(250)); // one chunk larger than the cap
    expect(b.text()).toBe('x'.repeat(100));
    expect(b.dropped).toBe(650);
  });

  it('joins only when something changed', () => {
    const b = new OutputBuffer();
    b.append('a');
    const t = b.text();
    expect(b.text()).toBe(t);
    b.append('b');
    expect(b.text()).toBe('ab');
  });
});

const out = (position: number, h: string, name: string, text: string, deployment = 'd1'): LiveMessage => ({
  position,
  type: 'step.output',
  time: at(position),
  actor: 'runner',
  stream: `deploy/${deployment}`,
  deployment,
  host: h,
  step: `${h}:${name}`,
  text,
});

describe('OutputStore', () => {
  it('seeds from the fetch, then appends only live output after the position the fetch was sent at', () => {
    let notes = 0;
    const s = new OutputStore('d1', () => notes++);
    // Arrives before the first fetch answered: held, then applied if newer.
    s.applyBatch([out(9, 'a', 'connect', 'old\n'), out(12, 'a', 'switch', 'new\n')]);
    expect(notes).toBe(0);
    s.seed(deployment({ steps: [step('a', 'connect', 0, 1, { output: 'old\n' })] }), 10);
    expect(s.get('a:connect')?.text()).toBe('old\n');
    expect(s.get('a:switch')?.text()).toBe('new\n');
    const r = s.applyBatch([
      out(13, 'a', 'switch', 'more\n'),
      out(14, 'b', 'connect', 'b says\n'),
      out(15, 'x', 'connect', 'other deployment\n', 'd2'),
      { position: 16, type: 'step.finished', time: at(16), actor: 'runner', stream: 'deploy/d1', deployment: 'd1', host: 'a' },
    ]);
    expect(r).toEqual({ appended: 2, refetch: true });
    expect(s.get('a:switch')?.text()).toBe('new\nmore\n');
    expect(s.get('b:connect')?.text()).toBe('b says\n');
    expect(s.get('x:connect')).toBeUndefined();
    // Each host's steps with output, in the order it came.
    expect(s.stepsOf('a')).toEqual(['a:connect', 'a:switch']);
    expect(s.stepsOf('b')).toEqual(['b:connect']);
    expect(s.stepsOf('x')).toEqual([]);
    // A second seed (a refetch) changes nothing.
    s.seed(deployment({ steps: [step('a', 'connect', 0, 1, { output: 'old\n' })] }), 20);
    expect(s.get('a:connect')?.text()).toBe('old\n');
    expect(s.get('a:switch')?.text()).toContain('more');
  });

  it('drops chunks the fetch already held when the stream lags behind it, then appends the rest', () => {
    const s = new OutputStore('d1');
    // The fetch was sent at position 5 and already held l1 and l2 of the running hook.
    s.seed(deployment({ steps: [step('a', 'hook.pre_release', 0, undefined, { output: 'l1\nl2\n' })] }), 5);
    s.applyBatch([out(6, 'a', 'hook.pre_release', 'l1\n'), out(7, 'a', 'hook.pre_release', 'l2\n')]);
    expect(s.get('a:hook.pre_release')?.text()).toBe('l1\nl2\n');
    s.applyBatch([out(8, 'a', 'hook.pre_release', 'l3\n'), out(9, 'a', 'hook.pre_release', 'l1\n')]);
    expect(s.get('a:hook.pre_release')?.text()).toBe('l1\nl2\nl3\nl1\n');
  });

  it('marks the step whose output the runner cut, and keeps a retry\'s output apart', () => {
    const s = new OutputStore('d1');
    s.seed(deployment({ steps: [step('a', 'transfer', 0, 1, { output: 'x\n', truncated: true }), step('a', 'connect', 2)] }), 0);
    expect(s.get('a:transfer')?.truncated).toBe(true);
    s.applyBatch([{ ...out(1, 'a', 'connect#2', 'again\n'), step: 'a:connect#2' }]);
    expect(s.get('a:connect#2')?.text()).toBe('again\n');
    expect(s.get('a:connect#2')?.truncated).toBe(false);
  });

  it('stays bounded for 100 hosts with steady output: one notify per batch, capped buffers', () => {
    let notes = 0;
    const cap = 16 * 1024;
    const s = new OutputStore('d1', () => notes++, cap);
    s.seed(deployment(), 0);
    notes = 0;
    const hosts = Array.from({ length: 100 }, (_, i) => `www@10.0.${Math.floor(i / 250)}.${i}:22`);
    const line = 'building assets: ' + 'x'.repeat(60) + '\n';
    let pos = 0;
    const batches = 300;
    let messages = 0;
    for (let b = 0; b < batches; b++) {
      // One frame's worth: every host sent a chunk (the runner sends at most 4 a second per step).
      const batch = hosts.map((h) => out(++pos, h, b < 150 ? 'transfer' : 'hook.post_release', line.repeat(3)));
      messages += batch.length;
      const r = s.applyBatch(batch);
      expect(r.appended).toBe(100);
    }
    expect(messages).toBe(30_000);
    expect(notes).toBe(batches); // one reactive write per batch, not per message
    for (const h of hosts) {
      for (const name of ['transfer', 'hook.post_release']) {
        const buf = s.get(`${h}:${name}`)!;
        expect(buf.size).toBeLessThanOrEqual(cap);
        expect(buf.dropped).toBeGreaterThan(0);
        expect(buf.text().length).toBeLessThanOrEqual(cap);
      }
    }
  });
});

describe('stepsToShow', () => {
  it('lists a host\'s steps, then those the live feed brought output for before a refetch', () => {
    const steps = [
      step('a', 'connect', 0, 1, { command: ['true'] }),
      step('b', 'connect', 0, 1),
      step('', 'export', 0, 1),
      step('a', 'transfer', 1),
    ];
    const got = stepsToShow(steps, ['a:transfer', 'a:hook.pre_release', 'a:connect#2'], 'a');
    expect(got.map((s) => s.id)).toEqual(['a:connect', 'a:transfer', 'a:hook.pre_release', 'a:connect#2']);
    expect(got[0]?.command).toEqual(['true']);
    expect(got[2]).toMatchObject({ name: 'hook.pre_release', host: 'a', command: null });
    expect(got[3]?.name).toBe('connect');
    expect(stepsToShow(steps, [], '').map((s) => s.id)).toEqual(['export']);
  });
});

describe('readableMarkers', () => {
  it('writes the sequence markers for people and leaves other output alone', () => {
    const raw = 'copied 3 files\n\nrd-5240434bac083f2159ee02da finalize exit 0\n\nrd-5240434bac083f2159ee02da seal exit 1\n';
    expect(readableMarkers(raw)).toBe('copied 3 files\n  · finalize: exit 0\n  · seal: exit 1\n');
    expect(readableMarkers('rd-not-a-marker exit 0\n')).toBe('rd-not-a-marker exit 0\n');
  });
});
