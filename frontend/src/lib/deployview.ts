// The deployment view's pure logic: where each host is in its steps, each
// step's output buffer (capped, non-reactive) and elapsed times. Nothing here
// touches the DOM or Svelte's reactivity, so a deployment to 100 hosts with
// steady output costs one counter write per live batch, whatever the number
// of messages in it. (Its refetch throttle, Refresher, is in timing.ts.)

import { t } from '../i18n';
import { parseTime } from './time';
import type { Deployment, HostProgress, LiveMessage, Step } from './types';

// --- steps and progress ---------------------------------------------------------

/**
 * The phases a host goes through, in order. A step belongs to a phase by its
 * name; the runner's step names vary (one SSH session may run lock, prepare
 * and the read of `current` as one step), so several names map to a phase.
 */
export const PHASES = [
  'connect',
  'lock',
  'stage',
  'link',
  'hook.pre_release',
  'check',
  'switch',
  'hook.post_release',
  'finish',
] as const;
export type Phase = (typeof PHASES)[number];

const PHASE_OF: Record<string, Phase> = {
  connect: 'connect',
  probe: 'connect',
  lock: 'lock',
  prepare: 'lock',
  current: 'lock',
  release: 'lock',
  clean: 'lock',
  staging: 'stage',
  stage: 'stage',
  transfer: 'stage',
  'git.fetch': 'stage',
  'git.archive': 'stage',
  finalize: 'link',
  link: 'link',
  seal: 'link',
  version: 'link',
  version_files: 'link',
  'version files': 'link',
  'hook.pre_release': 'hook.pre_release',
  check: 'check',
  switch: 'switch',
  'hook.post_release': 'hook.post_release',
  prune: 'finish',
  unlock: 'finish',
};

/** Phases that run only when the project configures them (hooks, a health check). */
const OPTIONAL = new Set<Phase>(['hook.pre_release', 'check', 'hook.post_release']);

/** A rollback to a release the host still holds: a mere switch. */
const INSTANT: readonly Phase[] = ['connect', 'lock', 'switch', 'hook.post_release', 'finish'];

/** The catalog key (deployment.step.<key>) of each step or phase name the runner uses. */
const STEP_KEY: Record<string, string> = {
  connect: 'connect',
  reconnect: 'reconnect',
  probe: 'probe',
  prepare: 'prepare',
  lock: 'lock',
  relock: 'relock',
  'lock.check': 'lock_check',
  current: 'current',
  release: 'release',
  clean: 'clean',
  unlock: 'unlock',
  staging: 'staging',
  stage: 'stage',
  transfer: 'transfer',
  'git.fetch': 'git_fetch',
  'git.archive': 'git_archive',
  finalize: 'finalize',
  link: 'link',
  seal: 'seal',
  version: 'version',
  version_files: 'version_files',
  'version files': 'version_files_spaced',
  'hook.pre_release': 'hook_pre_release',
  check: 'check',
  switch: 'switch',
  'hook.post_release': 'hook_post_release',
  prune: 'prune',
  revert: 'revert',
  fetch: 'fetch',
  export: 'export',
  build: 'build',
  manifest: 'manifest',
  'hook.pre_deploy': 'hook_pre_deploy',
  'hook.post_deploy': 'hook_post_deploy',
};

/** A step's or phase's name for people, in the page's language; an unknown name as it is. */
export function stepLabel(name: string): string {
  const key = Object.hasOwn(STEP_KEY, name) ? STEP_KEY[name] : undefined;
  return key ? t(`deployment.step.${key}`) : name;
}

export function phaseOf(stepName: string): Phase | undefined {
  return PHASE_OF[stepName];
}

/** A step's name from its id: `<host>:<name>` or `<name>`, with `#2` on a retry. */
export function stepNameOf(stepId: string, host?: string): string {
  let s = stepId;
  if (host && s.startsWith(host + ':')) s = s.slice(host.length + 1);
  return s.replace(/#\d+$/, '');
}

/** Host states after which the host does nothing more in this run. */
const HOST_DONE = new Set(['switched', 'failed', 'reverted', 'observed']);
const DEPLOY_DONE = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

export function deploymentFinished(state: string): boolean {
  return DEPLOY_DONE.has(state);
}

/**
 * The phases a host is expected to go through: every phase for a deploy
 * (the optional ones once any host of the deployment ran them); for a
 * rollback, only the switch unless this host had to stage the release again.
 */
export function expectedPhases(kind: string, hostPhases: ReadonlySet<Phase>, seenInDeployment: ReadonlySet<Phase>): Phase[] {
  const instant = kind === 'rollback' && !hostPhases.has('stage') && !hostPhases.has('link');
  const base = instant ? INSTANT : PHASES;
  return base.filter((p) => !OPTIONAL.has(p) || seenInDeployment.has(p) || hostPhases.has(p));
}

export interface HostView {
  host: string;
  state: string;
  /** The host's steps in its latest run (a retry starts again at connect). */
  steps: Step[];
  done: number;
  total: number;
  phases: Phase[];
  /** The step running now, or what the host ended on, for people (in the page's language). */
  current: string;
  /** ms since the epoch; null before the host's first step. */
  start: number | null;
  /** ms since the epoch; null while the host still works. */
  end: number | null;
  error?: string;
  failedStep?: string;
}

/** Steps grouped by host ('' for the steps on this machine), in order. */
export function stepsByHost(steps: readonly Step[] | null): Map<string, Step[]> {
  const out = new Map<string, Step[]>();
  for (const s of steps ?? []) {
    const k = s.host ?? '';
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(s);
  }
  return out;
}

/** The steps of the latest run: from the last connect on. */
export function latestRun(steps: readonly Step[]): Step[] {
  for (let i = steps.length - 1; i >= 0; i--) {
    if (steps[i]?.name === 'connect') return steps.slice(i);
  }
  return steps.slice();
}

export function hostView(d: Deployment, h: HostProgress, all: readonly Step[], seen: ReadonlySet<Phase>): HostView {
  const steps = latestRun(all);
  const hostPhases = new Set<Phase>();
  for (const s of steps) {
    const p = phaseOf(s.name);
    if (p) hostPhases.add(p);
  }
  const phases = expectedPhases(d.kind, hostPhases, seen);
  const onVersion = h.state === 'switched' || h.state === 'observed';
  let furthest = -1;
  let furthestDone = false;
  for (const s of steps) {
    const p = phaseOf(s.name);
    // Cleanup after a failure or a cancel (unlock) is no progress.
    if (!p || (p === 'finish' && !onVersion)) continue;
    const i = phases.indexOf(p);
    if (i > furthest) {
      furthest = i;
      furthestDone = !!s.finished;
    } else if (i === furthest) {
      furthestDone = !!s.finished;
    }
  }
  const total = phases.length;
  let done = furthest < 0 ? 0 : furthest + (furthestDone ? 1 : 0);
  const finished = deploymentFinished(d.state);
  if (h.state === 'observed' || (h.state === 'switched' && finished)) done = total;
  done = Math.min(done, total);

  const open = [...steps].reverse().find((s) => !s.finished);
  const lastWork = [...steps].reverse().find((s) => {
    const p = phaseOf(s.name);
    return p !== undefined && p !== 'finish';
  });
  let current = '';
  if (h.step && !finished) current = stepLabel(stepNameOf(h.step, h.host));
  else if (open && !finished) current = stepLabel(open.name);
  else if (h.state === 'failed')
    current = h.failed_step ? t('deployment.current.failed_at', { step: stepLabel(h.failed_step) }) : t('deployment.current.failed');
  else if (onVersion) current = t('deployment.current.done');
  else if (h.state === 'reverted') current = t('deployment.current.reverted');
  else if (h.state === 'pending') current = t(finished ? 'deployment.current.not_run' : 'deployment.current.waiting');
  else if (finished)
    current = lastWork ? t('deployment.current.stopped_after', { step: stepLabel(lastWork.name) }) : t('deployment.current.stopped');
  else current = stepLabel(steps.at(-1)?.name ?? '');

  const start = parseTime(steps[0]?.started);
  let end: number | null = null;
  const lastFinished = steps.reduce<number | null>((acc, s) => {
    const f = parseTime(s.finished);
    return f !== null && (acc === null || f > acc) ? f : acc;
  }, null);
  const working = !finished && (open !== undefined || h.step !== undefined || !HOST_DONE.has(h.state));
  if (start !== null && !working) end = lastFinished ?? parseTime(d.finished) ?? parseTime(h.updated) ?? start;
  const view: HostView = { host: h.host, state: h.state, steps, done, total, phases, current, start, end };
  if (h.error) view.error = h.error;
  if (h.failed_step) view.failedStep = h.failed_step;
  return view;
}

/** One view per host of the deployment, in the deployment's order. */
export function hostViews(d: Deployment): HostView[] {
  const by = stepsByHost(d.steps);
  const seen = new Set<Phase>();
  for (const s of d.steps ?? []) {
    const p = s.host ? phaseOf(s.name) : undefined;
    if (p) seen.add(p);
  }
  return d.hosts.map((h) => hostView(d, h, by.get(h.host) ?? [], seen));
}

/** Elapsed ms of a host (0 before it started); `now` while it works. */
export function elapsedOf(v: Pick<HostView, 'start' | 'end'>, now: number): number {
  if (v.start === null) return 0;
  return Math.max(0, (v.end ?? now) - v.start);
}

// --- output buffers ---------------------------------------------------------------

/**
 * What a step's output keeps: its last 64 KiB (in UTF-16 code units), as
 * the server keeps of a step (projections.StepOutputCap), so a step shows
 * as much live as after a reload.
 */
export const OUTPUT_CAP = 64 * 1024;

// A step that runs several commands in one SSH session (runner/sequence.go)
// ends each with a marker line: "\n<nonce> <command> exit <status>\n". The
// nonce only keeps a host from forging one; people read "command: exit N".
const MARKER = /\n?rd-[0-9a-f]{24} ([a-z][a-z._]{0,31}) exit (\d+)\n/g;

/** The output with the runner's sequence markers written for people. */
export function readableMarkers(text: string): string {
  return text.replace(MARKER, (_m, name: string, status: string) => `  · ${t('deployment.output.marker', { name: stepLabel(name), status })}\n`);
}

/**
 * One step's output: append-only chunks, the oldest dropped beyond the cap.
 * Plain (not reactive): the view re-reads `text()` when the store's counter
 * changes, and `text()` joins only when something was appended.
 */
export class OutputBuffer {
  #chunks: string[] = [];
  #head = 0;
  #size = 0;
  #cache: string | null = '';
  /** Characters dropped from the front to stay under the cap. */
  dropped = 0;
  /** The runner (or the server) dropped some of the step's output: its own cap. */
  truncated = false;
  /** Bumped on every change. */
  version = 0;

  constructor(readonly cap: number = OUTPUT_CAP) {}

  get size(): number {
    return this.#size;
  }

  append(text: string): void {
    if (!text) return;
    this.#chunks.push(text);
    this.#size += text.length;
    this.#cache = null;
    this.version++;
    this.#trim();
  }

  text(): string {
    if (this.#cache === null) {
      this.#cache = this.#chunks.slice(this.#head).join('');
      // Keep one chunk: joins stay cheap however many chunks came.
      this.#chunks = this.#cache ? [this.#cache] : [];
      this.#head = 0;
    }
    return this.#cache;
  }

  #trim(): void {
    while (this.#size > this.cap && this.#head < this.#chunks.length) {
      const first = this.#chunks[this.#head] ?? '';
      const over = this.#size - this.cap;
      if (first.length <= over) {
        this.#head++;
        this.#size -= first.length;
        this.dropped += first.length;
      } else {
        this.#chunks[this.#head] = first.slice(over);
        this.#size -= over;
        this.dropped += over;
      }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** What a live batch meant to the deployment view. */
export interface BatchResult {
  /** Output messages appended. */
  appended: number;
  /** Other messages touching the deployment: refetch it. */
  refetch: boolean;
}

/**
 * Every step's output of one deployment, by step id, and the steps each
 * host had output from, in order. Seeded once from the first fetch (each
 * step's captured output), then fed only by live output messages, so a
 * refetch never duplicates or loses text.
 *
 * A fetched deployment does not say up to which log position it is, so the
 * seed is aligned with the stream in two ways: messages at or before
 * `before` (the feed's last position when the fetch was sent) are in the
 * seed; a later chunk of a step the seed already holds is dropped while it
 * matches that step's seeded text from where the last match ended (the
 * stream and the fetch raced), and from its first mismatch on, the step's
 * chunks are new. `notify` is called at most once per batch.
 */
export class OutputStore {
  readonly buffers = new Map<string, OutputBuffer>();
  /** Messages at or before this position are in the seed. */
  since = -1;
  #pending: LiveMessage[] = [];
  /** Seeded steps still being matched: the tail of their seeded output and a cursor in it. */
  #align = new Map<string, { text: string; at: number }>();
  /** Each host's steps with output ('' for the desk's own), in the order their output came. */
  #steps = new Map<string, string[]>();

  constructor(
    readonly deployment: string,
    readonly notify: () => void = () => {},
    readonly cap: number = OUTPUT_CAP,
  ) {}

  get seeded(): boolean {
    return this.since >= 0;
  }

  /** The buffer of a step of host, made on first use. */
  buffer(step: string, host: string): OutputBuffer {
    let b = this.buffers.get(step);
    if (!b) {
      this.buffers.set(step, (b = new OutputBuffer(this.cap)));
      const list = this.#steps.get(host);
      if (list) list.push(step);
      else this.#steps.set(host, [step]);
    }
    return b;
  }

  /** A step's output so far (by step id), if any came. */
  get(step: string): OutputBuffer | undefined {
    return this.buffers.get(step);
  }

  /** The ids of a host's steps that had output ('' for the desk's own), in order. */
  stepsOf(host: string): readonly string[] {
    return this.#steps.get(host) ?? [];
  }

  /**
   * Fills the buffers from a fetched deployment (the first one only).
   * before: the live feed's last position when the fetch was sent.
   */
  seed(d: Deployment, before: number): void {
    if (this.seeded) return;
    for (const s of d.steps ?? []) {
      if (!s.output && !s.truncated) continue;
      const b = this.buffer(s.id, s.host ?? '');
      if (s.output) {
        b.append(readableMarkers(s.output));
        this.#align.set(s.id, { text: s.output.slice(-ALIGN_TAIL), at: 0 });
      }
      if (s.truncated) b.truncated = true;
    }
    this.since = Math.max(0, before);
    const pending = this.#pending;
    this.#pending = [];
    for (const m of pending) this.#append(m);
    this.notify();
  }

  /** Applies one live batch; calls notify once if any output was appended. */
  applyBatch(batch: readonly LiveMessage[]): BatchResult {
    let appended = 0;
    let refetch = false;
    for (const m of batch) {
      if (m.deployment !== this.deployment) continue;
      if (m.type !== 'step.output') {
        refetch = true;
        continue;
      }
      if (!this.seeded) {
        this.#pending.push(m);
        continue;
      }
      if (this.#append(m)) appended++;
    }
    if (appended > 0) this.notify();
    return { appended, refetch };
  }

  #append(m: LiveMessage): boolean {
    if (m.position <= this.since || !m.step) return false;
    const step = m.step;
    if (!m.text) {
      if (m.truncated) this.buffer(step, m.host ?? '').truncated = true;
      return m.truncated === true;
    }
    const a = this.#align.get(step);
    if (a) {
      const i = a.text.indexOf(m.text, a.at);
      if (i >= 0) {
        a.at = i + m.text.length; // already in the seed
        if (m.truncated) this.buffer(step, m.host ?? '').truncated = true;
        return false;
      }
      this.#align.delete(step); // new from here on
    }
    const b = this.buffer(step, m.host ?? '');
    if (m.truncated) b.truncated = true;
    b.append(readableMarkers(m.text));
    return true;
  }
}

/**
 * A host's steps as the view lists them, each with its command and output:
 * the deployment's steps of that host in order, then any step the live
 * feed brought output for before a refetch listed it (named from its id,
 * its command not known yet).
 */
export function stepsToShow(steps: readonly Step[], withOutput: readonly string[], host: string): Step[] {
  const mine = steps.filter((s) => (s.host ?? '') === host);
  const known = new Set(mine.map((s) => s.id));
  const extra = withOutput
    .filter((id) => !known.has(id))
    .map((id): Step => {
      const s: Step = { id, name: stepNameOf(id, host), command: null, started: '', exit_code: 0, duration_ms: 0 };
      if (host) s.host = host;
      return s;
    });
  return [...mine, ...extra];
}

/** How much of a seeded step's output is kept to align the stream with. */
const ALIGN_TAIL = 16 * 1024;
