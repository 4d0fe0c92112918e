// End-to-end tests of the Release Desk UI in real headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core) against a real
// server with real sshd hosts. The Go test app/ui_e2e_test.go sets it all
// up and runs this file twice:
//
//   node e2e/run.mjs online    the eight-step flow by clicking, four people
//                              in four browser contexts (plus an admin)
//   node e2e/run.mjs offline   an exported log opened with `releasedesk open`
//
// Environment (set by the Go harness):
//   RD_BASE_URL         the server, e.g. http://127.0.0.1:41234 (online)
//   RD_OFFLINE_URL      the offline review server (offline)
//   RD_REVIEW_URL       its review link, with the one-time secret (offline)
//   RD_USERS            JSON {"developer": {"name","password"}, "tester", "approver", "manager", "admin"}
//   RD_PROJECT          project id; RD_TEST_ENV / RD_PROD_ENV environment names
//   RD_TEST_HOSTS, RD_PROD_HOSTS   JSON lists of host addresses (user@host:port)
//   RD_REPO             the project's git repository (the developer commits there)
//   RD_EXISTING_BRANCH  a branch with a commit of its own, for the second release
//   RD_SPARE_HOST       JSON {"addr","path"}: a host in no environment, its key not trusted
//   RD_OFFLINE_RELEASE  an open release in the archive (offline)
//   RD_ARTIFACTS        where screenshots, the CSV and results.json go
//   RD_CHROMIUM         the browser (default /usr/bin/chromium)
//
// Elements are found only by the data-testid contract of
// frontend/TESTIDS.md, plus visible text or roles where it has no id.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { everyAction } from './actions.mjs';
import {
  Artifacts, DEPLOY_TIMEOUT, StepError, UI_TIMEOUT, absent, choose, hasAttr, parseCSV, sel, showsText, testIds, textOf, tid,
  visible, waitUntil,
} from './lib.mjs';

const phase = process.argv[2] || 'online';
if (phase !== 'online' && phase !== 'offline') {
  console.error(`usage: node e2e/run.mjs online|offline (got ${phase})`);
  process.exit(2);
}

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set: run these tests through the Go harness: go test ./app -run TestUIEndToEnd -v`);
    process.exit(2);
  }
  return v;
}

const cfg = {
  artifacts: need('RD_ARTIFACTS'),
  project: need('RD_PROJECT'),
  prodEnv: need('RD_PROD_ENV'),
  chromium: process.env.RD_CHROMIUM || '/usr/bin/chromium',
};
if (phase === 'online') {
  Object.assign(cfg, {
    base: need('RD_BASE_URL').replace(/\/$/, ''),
    users: JSON.parse(need('RD_USERS')),
    testEnv: need('RD_TEST_ENV'),
    testHosts: JSON.parse(need('RD_TEST_HOSTS')),
    prodHosts: JSON.parse(need('RD_PROD_HOSTS')),
    repo: need('RD_REPO'),
    existingBranch: need('RD_EXISTING_BRANCH'),
    spareHost: JSON.parse(need('RD_SPARE_HOST')),
  });
} else {
  cfg.base = need('RD_OFFLINE_URL').replace(/\/$/, '');
  cfg.reviewURL = need('RD_REVIEW_URL');
}

const art = new Artifacts(cfg.artifacts);
// attacker.example resolves to loopback, as a DNS-rebinding attacker's name
// would after its first answer: the desk must refuse the name.
const REBOUND = 'attacker.example';
const LAUNCH_ARGS = [`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`, '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

// ---- people, each in a browser context of their own --------------------------

/**
 * Every Content-Security-Policy violation any page reported: the run
 * fails on one (the UI must run under default-src 'self' as it is).
 */
const cspViolations = [];

/** A browser context whose pages report CSP violations to cspViolations. */
async function newContext(browser, options = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  ctx.setDefaultTimeout(UI_TIMEOUT);
  await ctx.exposeBinding('__rdCSPViolation', ({ page }, v) => cspViolations.push({ url: page.url(), ...v }));
  await ctx.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__rdCSPViolation({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, line: e.lineNumber }),
    );
  });
  return ctx;
}

/** Diagnostics of a page: console errors, page errors, refused API calls. */
function watch(page, label) {
  const diag = [];
  const push = (s) => {
    diag.push(s);
    if (diag.length > 40) diag.shift();
  };
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !/status of 401/.test(m.text())) push(`console.${m.type()}: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) cspViolations.push({ url: page.url(), console: m.text() });
  });
  page.on('pageerror', (e) => push(`page error: ${e.message}`));
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (r.status() < 400) return;
    if (!u.pathname.startsWith('/api/')) {
      push(`${r.request().method()} ${u.pathname} -> ${r.status()} (the page's own file)`);
      return;
    }
    if (u.pathname === '/api/v1/me' && r.status() === 401) return; // not signed in yet
    let body = '';
    try {
      body = (await r.text()).trim().slice(0, 300);
    } catch {
      /* the body is gone */
    }
    push(`${r.request().method()} ${u.pathname}${u.search} -> ${r.status()} ${body}`);
  });
  page.diag = diag;
  page.label = label;
  return page;
}

class Person {
  constructor(browser, role, user) {
    this.browser = browser;
    this.role = role;
    this.user = user; // {name, password}
    this.pageP = null;
  }

  /** The person's page, signed in (the first call signs in by clicking). */
  async page() {
    if (!this.pageP) this.pageP = this.#open(true);
    return this.pageP;
  }

  /** A page not signed in yet (the sign-in scenario signs in itself). */
  async blankPage() {
    if (!this.pageP) this.pageP = this.#open(false);
    return this.pageP;
  }

  async #open(signIn) {
    const ctx = await newContext(this.browser, { acceptDownloads: true });
    const page = watch(await ctx.newPage(), this.role);
    await page.goto(`${cfg.base}/#/releases`);
    if (signIn) await signInAs(page, this.user);
    return page;
  }
}

async function signInAs(page, user) {
  await (await visible(page, 'login-user')).fill(user.name);
  await tid(page, 'login-password').first().fill(user.password);
  await tid(page, 'login-submit').first().click();
  await showsText(page, 'signed-in-user', user.name);
}

// ---- scenarios and steps ----------------------------------------------------------

const results = [];
const passed = new Set();
let current = null;

async function scenario(name, deps, fn) {
  const missing = deps.filter((d) => !passed.has(d));
  if (missing.length > 0) {
    results.push({ name, status: 'blocked', ms: 0, message: `not run: needs ${missing.join(', ')}` });
    console.log(`--- BLOCKED ${name}: needs ${missing.join(', ')}`);
    return;
  }
  console.log(`=== RUN   ${name}`);
  current = name;
  const t0 = Date.now();
  try {
    await fn();
    passed.add(name);
    results.push({ name, status: 'passed', ms: Date.now() - t0 });
    console.log(`--- PASS  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    const message = String(err?.message ?? err);
    results.push({ name, status: 'failed', ms: Date.now() - t0, message });
    console.log(`--- FAIL  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n${indent(message)}`);
    if (!(err instanceof StepError) && err?.stack) console.log(indent(err.stack.split('\n').slice(1, 6).join('\n')));
  }
}

const indent = (s) => s.split('\n').map((l) => `    ${l}`).join('\n');
let failShots = 0;

/** One step on page: on failure a screenshot, the page's URL and its recent diagnostics join the message. */
async function step(page, what, fn) {
  const t0 = Date.now();
  try {
    const v = await fn();
    console.log(`  - ${page.label}: ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return v;
  } catch (err) {
    console.log(`  x ${page.label}: ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const shot = await art.shot(page, `FAIL-${String(++failShots).padStart(2, '0')}-${current}`);
    const lines = [`${page.label}: ${what}: ${String(err?.message ?? err).split('\n')[0]}`, `at ${page.url()}; screenshot ${shot}`];
    if (page.diag.length > 0) lines.push('recent browser diagnostics:', ...page.diag.slice(-10).map((d) => `  ${d}`));
    const e = new StepError(lines.join('\n'));
    throw e;
  }
}

function check(cond, message) {
  if (!cond) throw new StepError(message);
}

// ---- things the screens do ---------------------------------------------------------

/** The state shown by a state element: its data-state (or a badge's inside it) and its text. */
async function stateOf(page, id) {
  const l = tid(page, id);
  if ((await l.count()) === 0) return null;
  return l.first().evaluate((e) => {
    const inner = e.getAttribute('data-state') ?? e.querySelector('[data-state]')?.getAttribute('data-state') ?? '';
    return `${inner} ${e.textContent ?? ''}`.replace(/\s+/g, ' ').trim();
  });
}

/** An input's value, or an element's text ('' when there is none). */
async function valueOf(page, id) {
  const l = tid(page, id);
  if ((await l.count()) === 0) return '';
  return (await l.first().evaluate((e) => ('value' in e ? e.value : e.textContent))) ?? '';
}

const word = (w) => new RegExp(`(^|[^a-z])${w}([^a-z]|$)`, 'i');

async function stateIs(page, id, state, timeout = UI_TIMEOUT) {
  return waitUntil(`[data-testid="${id}"] to show the state ${state}`, async () => word(state).test((await stateOf(page, id)) ?? ''), {
    timeout,
    seen: async () => JSON.stringify(await stateOf(page, id)),
  });
}

/** A refusal or failure shown in words where the action was taken fails the step at once. */
async function failOnError(page, after) {
  const l = tid(page, 'error');
  const n = await l.count();
  for (let i = 0; i < n; i++) {
    if (await l.nth(i).isVisible()) {
      const text = (await l.nth(i).innerText()).trim();
      if (text) throw new StepError(`after ${after} the screen shows an error: ${text}`);
    }
  }
}

/**
 * A confirmer for one action: if a confirmation opens, it fills the
 * reason (when asked) and confirms, once; later calls do nothing (the
 * dialog may stay open while the request is under way).
 */
function confirmer(page, reason) {
  let done = false;
  return async () => {
    if (done) return false;
    const ok = tid(page, 'confirm-ok');
    if ((await ok.count()) === 0 || !(await ok.first().isVisible())) return false;
    const r = tid(page, 'confirm-reason');
    if ((await r.count()) > 0 && (await r.first().isVisible()) && (await r.first().inputValue()) === '') await r.first().fill(reason);
    if (!(await ok.first().isEnabled())) return false;
    done = true;
    await ok.first().click({ timeout: 2000 });
    return true;
  };
}

/** Takes a decision on the release page and waits for the release state it leads to. */
async function decide(page, action, note, wantState) {
  await visible(page, action);
  if (note && (await tid(page, 'action-note').count()) > 0) await tid(page, 'action-note').first().fill(note);
  await tid(page, action).first().click();
  const confirm = confirmer(page, note || `e2e: ${action}`);
  await waitUntil(`release-state to show ${wantState} after clicking ${action}`, async () => {
    await confirm();
    await failOnError(page, `clicking ${action}`);
    return word(wantState).test((await stateOf(page, 'release-state')) ?? '');
  }, { seen: async () => JSON.stringify(await stateOf(page, 'release-state')) });
}

/** Opens a release from the board by clicking its card. */
async function openFromBoard(page, id) {
  await (await visible(page, 'nav-board')).click();
  await (await visible(page, `release-card-${id}`)).click();
  await waitUntil(`#/releases/${id} after clicking release-card-${id}`, async () => page.url().endsWith(`#/releases/${id}`), {
    seen: async () => page.url(),
  });
  await visible(page, 'release-state');
}

/** Reloads the release page (a fresh read of what the user may do now). */
async function reopenRelease(page, id) {
  await page.goto(`${cfg.base}/#/releases/${id}`);
  await page.reload();
  await visible(page, 'release-state');
}

const TERMINAL = /succeeded|failed|cancelled|interrupted/i;

/** Starts recording every deployment-state and host data-state the page shows, as it shows it. */
async function recordLive(page) {
  await page.evaluate(() => {
    const rec = { states: [], hosts: {} };
    window.__rdLive = rec;
    const note = () => {
      if (window.__rdLive !== rec) return;
      const s = document.querySelector('[data-testid="deployment-state"]');
      if (s) {
        const inner = s.getAttribute('data-state') ?? s.querySelector('[data-state]')?.getAttribute('data-state') ?? '';
        const t = `${inner} ${s.textContent ?? ''}`.replace(/\s+/g, ' ').trim();
        if (rec.states[rec.states.length - 1] !== t) rec.states.push(t);
      }
      for (const r of document.querySelectorAll('[data-testid^="host-row-"]')) {
        const h = r.getAttribute('data-testid').slice('host-row-'.length);
        const st = r.getAttribute('data-state') ?? '';
        const a = (rec.hosts[h] ??= []);
        if (a[a.length - 1] !== st) a.push(st);
      }
    };
    if (window.__rdObserver) window.__rdObserver.disconnect();
    window.__rdObserver = new MutationObserver(note);
    window.__rdObserver.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    note();
  });
}

/**
 * Clicks a button that starts a deployment (action-deploy-<env> or a
 * rollback's confirm), then waits for the deployment view: the app goes
 * there itself, or the release shows a new deployment-link-<id> to click.
 */
async function toDeploymentAfter(page, what, click, reason) {
  const before = new Set(await testIds(page, 'deployment-link-'));
  await recordLive(page);
  await click();
  const confirm = reason === null ? async () => false : confirmer(page, reason);
  return waitUntil(`the deployment view (#/deployments/<id>) or a new deployment-link-<id> after ${what}`, async () => {
    const m = page.url().match(/#\/deployments\/([^/?#]+)/);
    if (m) return decodeURIComponent(m[1]);
    await confirm();
    await failOnError(page, what);
    const fresh = (await testIds(page, 'deployment-link-')).find((x) => !before.has(x));
    if (fresh) {
      await tid(page, fresh).first().click();
      return fresh.slice('deployment-link-'.length);
    }
    return false;
  }, { seen: async () => page.url() });
}

/**
 * Follows a deployment on its live view to the end without reloading:
 * every host reaches switched, the result is shown, a host's output opens
 * and is not empty. Returns what was seen on the way.
 */
async function followDeployment(page, depId, hosts, label, wantOutput = /\S/) {
  await waitUntil(`#/deployments/${depId}`, async () => page.url().includes(`#/deployments/${depId}`), { seen: async () => page.url() });
  await visible(page, 'deployment-state');
  for (const h of hosts) await visible(page, `host-row-${h}`);
  const first = (await stateOf(page, 'deployment-state')) ?? '';
  if (!TERMINAL.test(first)) await art.shot(page, `deployment-live-${label}`);
  const end = await waitUntil(`[data-testid="deployment-state"] to reach an end (live, without reloading)`, async () => {
    const s = (await stateOf(page, 'deployment-state')) ?? '';
    return TERMINAL.test(s) ? s : false;
  }, { timeout: DEPLOY_TIMEOUT, seen: async () => JSON.stringify(await stateOf(page, 'deployment-state')) });
  if (!word('succeeded').test(end)) {
    const result = (await textOf(page, 'deployment-result')) ?? (await textOf(page, 'deployment-summary')) ?? '';
    throw new StepError(`deployment ${depId} ended ${end}, want succeeded: ${result}`);
  }
  for (const h of hosts) {
    await hasAttr(page, `host-row-${h}`, 'data-state', 'switched');
    for (const part of ['host-progress-', 'host-elapsed-']) {
      check((await tid(page, `${part}${h}`).count()) > 0, `[data-testid="${part}${h}"] is missing on the deployment view`);
    }
  }
  await visible(page, 'deployment-result');
  await visible(page, 'deployment-summary');
  const h0 = hosts[0];
  await (await visible(page, `host-output-toggle-${h0}`)).click();
  const out = await waitUntil(`[data-testid="host-output-${h0}"] to open showing ${wantOutput}`, async () => {
    const t = await textOf(page, `host-output-${h0}`);
    return t && wantOutput.test(t) && (await tid(page, `host-output-${h0}`).first().isVisible()) ? t : false;
  }, { seen: async () => JSON.stringify(await textOf(page, `host-output-${h0}`)) });
  // Each step's exact command is shown beside its output.
  const commands = await page.locator('[data-testid="step-command"]').evaluateAll((els) =>
    els.filter((e) => e.offsetParent !== null).map((e) => e.textContent ?? ''));
  check(commands.length > 0 && commands.every((c) => c.trim() !== ''), `the opened output shows no step-command: ${JSON.stringify(commands)}`);
  const seen = await page.evaluate(() => window.__rdLive ?? { states: [], hosts: {} });
  const live = seen.states.some((s) => !TERMINAL.test(s)) || Object.values(seen.hosts).some((a) => a.some((s) => s !== 'switched'));
  console.log(`    ${label} ${depId}: states seen ${JSON.stringify(seen.states)}; hosts ${JSON.stringify(seen.hosts)}; output ${out.length} chars`);
  await art.shot(page, `deployment-done-${label}`);
  return { live, states: seen.states, output: out };
}

function git(...args) {
  return execFileSync('git', ['-C', cfg.repo, ...args], {
    env: { ...process.env, GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.invalid', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.invalid' },
    encoding: 'utf8',
  }).trim();
}

/** What the project's pre_release hook prints on every host (a deploy, not a mere switch). */
const HOOK_OUTPUT = /releasing \d{14}-[0-9a-f]{7}/;

/** The developer pushes a commit to branch (the repository is the project's own). */
function commitOn(branch, file, content) {
  git('checkout', '-q', branch);
  fs.writeFileSync(path.join(cfg.repo, file), content);
  git('add', file);
  git('commit', '-q', '-m', `change ${file} on ${branch}`);
  const head = git('rev-parse', 'HEAD');
  git('checkout', '-q', 'master');
  return head;
}

// ---- the online flow ------------------------------------------------------------------

async function online(browser) {
  const U = cfg.users;
  const dev = new Person(browser, 'developer', U.developer);
  const tester = new Person(browser, 'tester', U.tester);
  const appr = new Person(browser, 'approver', U.approver);
  const mgr = new Person(browser, 'manager', U.manager);
  const admin = new Person(browser, 'admin', U.admin);
  const P = cfg.project;
  const state = { live: [] }; // what later scenarios need

  await scenario('foreign-origins', [], async () => {
    await foreignOrigins(browser, U.admin);
  });

  await scenario('sign-in', [], async () => {
    const page = await dev.blankPage();
    await step(page, 'the sign-in page', async () => {
      await visible(page, 'login-user');
      await art.shot(page, '01-sign-in');
    });
    await step(page, 'a wrong password is refused in words', async () => {
      await tid(page, 'login-user').first().fill(U.developer.name);
      await tid(page, 'login-password').first().fill('not-the-password');
      await tid(page, 'login-submit').first().click();
      await visible(page, 'error');
    });
    await step(page, `signs in as ${U.developer.name}; the header shows the name and roles`, async () => {
      await signInAs(page, U.developer);
      await showsText(page, 'signed-in-roles', /developer/);
      const roles = await textOf(page, 'signed-in-roles');
      check(roles.includes(P) && roles.includes('approver') && roles.includes('tester'), `signed-in-roles shows ${JSON.stringify(roles)}: want ${P} with developer, tester, approver`);
      await visible(page, 'sign-out');
      await absent(page, 'nav-users', 'the developer is not an admin');
    });
  });

  await scenario('open-release', ['sign-in'], async () => {
    const page = await dev.page();
    await step(page, 'the board', async () => {
      await (await visible(page, 'nav-board')).click();
      await visible(page, 'new-release-button');
      // No release yet: the empty state says what to do (or the columns show).
      await waitUntil('board-empty or board-column-open', async () =>
        (await tid(page, 'board-empty').count()) + (await tid(page, 'board-column-open').count()) > 0);
      await art.shot(page, '02-board-empty');
    });
    await step(page, 'new release: an empty title is refused on the field', async () => {
      await tid(page, 'new-release-button').first().click();
      await waitUntil('#/releases/new', async () => page.url().includes('#/releases/new'), { seen: async () => page.url() });
      await choose(page, 'new-project', P);
      await (await visible(page, 'new-branch-create')).check();
      await (await visible(page, 'new-branch-name')).fill('feature-1');
      await tid(page, 'new-title').first().fill('');
      await tid(page, 'new-submit').first().click();
      // The browser's own "required" check or the field's error: either keeps the form.
      await waitUntil('field-error-title, or the title field marked invalid', async () =>
        (await tid(page, 'field-error-title').count()) > 0 || tid(page, 'new-title').first().evaluate((e) => e.matches(':invalid')));
      check(page.url().includes('#/releases/new'), `an empty title left the form for ${page.url()}`);
    });
    await step(page, 'new release creating branch feature-1', async () => {
      await tid(page, 'new-title').first().fill('First release: checkout');
      await tid(page, 'new-note').first().fill('Opened by the end-to-end test.');
      await art.shot(page, '03-new-release');
      await tid(page, 'new-submit').first().click();
      const id = await waitUntil('#/releases/<id> after new-submit', async () => {
        await failOnError(page, 'new-submit');
        return page.url().match(/#\/releases\/(\d+)$/)?.[1] ?? false;
      }, { seen: async () => page.url() });
      state.r1 = id;
      await stateIs(page, 'release-state', 'open');
      await showsText(page, 'release-title', 'First release: checkout');
      await showsText(page, 'release-branch', 'feature-1');
      const master = git('rev-parse', 'master');
      check(git('rev-parse', 'feature-1') === master, 'branch feature-1 was not made from master');
      await visible(page, 'release-timeline');
      await hasAttr(page, 'timeline-entry', 'data-action', 'release.opened');
      await visible(page, `action-deploy-${cfg.testEnv}`);
      await absent(page, `action-deploy-${cfg.prodEnv}`, 'production takes only an approved release');
      // The header reads top to bottom: the title above the facts, the branch beside no title.
      const title = await tid(page, 'release-title').boundingBox();
      const branch = await tid(page, 'release-branch').boundingBox();
      check(title && branch && branch.y >= title.y + title.height, `the facts are not below the title: title ${JSON.stringify(title)}, branch ${JSON.stringify(branch)}`);
      await art.shot(page, '04-release-detail-open');
    });
  });

  await scenario('deploy-test-live', ['open-release'], async () => {
    const page = await dev.page();
    state.c1 = commitOn('feature-1', 'index.html', 'v2\n');
    const depId = await step(page, `click action-deploy-${cfg.testEnv}`, () =>
      toDeploymentAfter(page, `clicking action-deploy-${cfg.testEnv}`, () => tid(page, `action-deploy-${cfg.testEnv}`).first().click(), 'e2e'));
    await step(page, `follow ${depId} live to succeeded on ${cfg.testHosts.length} hosts`, async () => {
      const seen = await followDeployment(page, depId, cfg.testHosts, 'test-r1', HOOK_OUTPUT);
      state.live.push(seen.live);
      await art.shot(page, '05-deployment-view');
    });
    await step(page, 'the release is testing at the new commit', async () => {
      await page.goto(`${cfg.base}/#/releases/${state.r1}`);
      await stateIs(page, 'release-state', 'testing');
      await showsText(page, 'release-commit', state.c1.slice(0, 7));
      await visible(page, `deployment-link-${depId}`);
    });
  });

  await scenario('test-pass-no-self-test', ['deploy-test-live'], async () => {
    const d = await dev.page();
    await step(d, 'the developer (also a tester) is not offered a test result on their own release', async () => {
      await reopenRelease(d, state.r1);
      await stateIs(d, 'release-state', 'testing');
      await absent(d, 'action-test-pass', 'a tester cannot pass their own release');
      await absent(d, 'action-test-fail', 'a tester cannot fail their own release');
    });
    const a = await appr.page();
    await step(a, 'nothing waits for the approver yet', async () => {
      await a.goto(`${cfg.base}/#/inbox`);
      await visible(a, 'inbox-empty');
      await absent(a, 'inbox-count', 'nothing waits for the approver yet');
    });
    const t = await tester.page();
    await step(t, 'the release waits for the tester: counted in the header, listed in their inbox', async () => {
      await showsText(t, 'inbox-count', '1');
      await t.goto(`${cfg.base}/#/inbox`);
      await visible(t, 'inbox');
      check((await t.locator(`${sel('inbox-item')}[data-kind="test"][data-release="${state.r1}"]`).count()) === 1, `no test item for release ${state.r1}`);
      await art.shot(t, '06-inbox-tester');
    });
    await step(t, 'the tester opens the release from the board and passes it', async () => {
      await openFromBoard(t, state.r1);
      await absent(t, `action-deploy-${cfg.testEnv}`, 'the tester has no developer role');
      await visible(t, 'action-test-fail');
      await decide(t, 'action-test-pass', 'works on test', 'tested');
      await hasAttr(t, 'timeline-entry', 'data-action', 'release.opened');
      await waitUntil('a timeline entry release.test_passed', async () => (await t.locator(`${sel('timeline-entry')}[data-action="release.test_passed"]`).count()) > 0);
      await art.shot(t, '06-release-tested');
    });
    await step(a, 'live, without a reload: the approver\'s header counts the tested release and their inbox lists it', async () => {
      await showsText(a, 'inbox-count', '1');
      await waitUntil(`an approve item for release ${state.r1}`, async () =>
        (await a.locator(`${sel('inbox-item')}[data-kind="approve"][data-release="${state.r1}"]`).count()) === 1);
      await art.shot(a, '06-inbox-approver');
    });
    await step(t, 'done with it: nothing waits for the tester any more', async () => {
      await waitUntil('the tester\'s inbox-count to go', async () => (await tid(t, 'inbox-count').count()) === 0);
    });
  });

  await scenario('no-self-approval', ['test-pass-no-self-test'], async () => {
    const d = await dev.page();
    await step(d, 'the developer (also an approver) is not offered approve or reject on their own release', async () => {
      await reopenRelease(d, state.r1);
      await stateIs(d, 'release-state', 'tested');
      await absent(d, 'action-approve', 'nobody approves their own release');
      await art.shot(d, '07-release-no-self-approval');
    });
  });

  await scenario('approve-deploy-production', ['test-pass-no-self-test'], async () => {
    const a = await appr.page();
    await step(a, 'the approver approves', async () => {
      await openFromBoard(a, state.r1);
      await decide(a, 'action-approve', 'go', 'approved');
    });
    const depId = await step(a, `click action-deploy-${cfg.prodEnv}`, () =>
      toDeploymentAfter(a, `clicking action-deploy-${cfg.prodEnv}`, () => tid(a, `action-deploy-${cfg.prodEnv}`).first().click(), 'e2e'));
    await step(a, `follow ${depId} live to succeeded on ${cfg.prodHosts.length} hosts`, async () => {
      const seen = await followDeployment(a, depId, cfg.prodHosts, 'production-r1', HOOK_OUTPUT);
      state.live.push(seen.live);
    });
    await step(a, 'the release is live', async () => {
      await a.goto(`${cfg.base}/#/releases/${state.r1}`);
      await stateIs(a, 'release-state', 'live');
    });
  });

  await scenario('accept-complete', ['approve-deploy-production'], async () => {
    const m = await mgr.page();
    await step(m, 'the manager accepts and completes; the tag is shown', async () => {
      await openFromBoard(m, state.r1);
      await decide(m, 'action-accept', 'fine in production', 'accepted');
      await decide(m, 'action-complete', '', 'completed');
      const tag = await waitUntil('the release tag release/<version> on the release page', async () =>
        (await m.locator('main').innerText()).match(/release\/(\d{14}-[0-9a-f]{7})/)?.[1] ?? false);
      state.v1 = tag;
      check(tag.endsWith(state.c1.slice(0, 7)), `tag release/${tag} is not of the commit ${state.c1.slice(0, 7)}`);
      check(git('rev-parse', `release/${tag}^{commit}`) === state.c1, `the repository has no tag release/${tag} at ${state.c1}`);
      await absent(m, 'action-complete', 'the release is completed');
      await art.shot(m, '08-release-completed');
    });
  });

  await scenario('second-release', ['accept-complete'], async () => {
    const d = await dev.page();
    const c2 = git('rev-parse', cfg.existingBranch);
    await step(d, `new release of the existing branch ${cfg.existingBranch}`, async () => {
      await (await visible(d, 'nav-board')).click();
      await (await visible(d, 'new-release-button')).click();
      await choose(d, 'new-project', P);
      await (await visible(d, 'new-branch-existing')).check();
      await choose(d, 'new-branch-select', cfg.existingBranch);
      await tid(d, 'new-title').first().fill('Second release: search');
      await tid(d, 'new-submit').first().click();
      state.r2 = await waitUntil('#/releases/<id> after new-submit', async () => {
        await failOnError(d, 'new-submit');
        return d.url().match(/#\/releases\/(\d+)$/)?.[1] ?? false;
      }, { seen: async () => d.url() });
      await stateIs(d, 'release-state', 'open');
    });
    const dep1 = await step(d, `deploy to ${cfg.testEnv}`, () =>
      toDeploymentAfter(d, `clicking action-deploy-${cfg.testEnv}`, () => tid(d, `action-deploy-${cfg.testEnv}`).first().click(), 'e2e'));
    await step(d, `follow ${dep1}`, async () => state.live.push((await followDeployment(d, dep1, cfg.testHosts, 'test-r2', HOOK_OUTPUT)).live));
    const t = await tester.page();
    await step(t, 'the tester passes it', async () => {
      await openFromBoard(t, state.r2);
      await decide(t, 'action-test-pass', '', 'tested');
    });
    const a = await appr.page();
    await step(a, 'the approver approves it', async () => {
      await openFromBoard(a, state.r2);
      await decide(a, 'action-approve', 'go', 'approved');
    });
    const dep2 = await step(a, `deploy to ${cfg.prodEnv}`, () =>
      toDeploymentAfter(a, `clicking action-deploy-${cfg.prodEnv}`, () => tid(a, `action-deploy-${cfg.prodEnv}`).first().click(), 'e2e'));
    await step(a, `follow ${dep2}`, async () => state.live.push((await followDeployment(a, dep2, cfg.prodHosts, 'production-r2', HOOK_OUTPUT)).live));
    const m = await mgr.page();
    await step(m, 'the manager accepts and completes it', async () => {
      await openFromBoard(m, state.r2);
      await decide(m, 'action-accept', '', 'accepted');
      await decide(m, 'action-complete', '', 'completed');
      state.v2 = await waitUntil('the release tag release/<version>', async () =>
        (await m.locator('main').innerText()).match(/release\/(\d{14}-[0-9a-f]{7})/)?.[1] ?? false);
      check(state.v2.endsWith(c2.slice(0, 7)) && state.v2 !== state.v1, `second version ${state.v2}: want one of ${c2.slice(0, 7)}, not ${state.v1}`);
    });
  });

  await scenario('versions-rollback', ['second-release'], async () => {
    const a = await appr.page();
    const { v1, v2 } = state;
    await step(a, `the versions of ${cfg.prodEnv}: ${v2} current, ${v1} kept (instant)`, async () => {
      await a.goto(`${cfg.base}/#/versions/${P}/${cfg.prodEnv}`);
      await visible(a, 'versions-title');
      await hasAttr(a, `version-row-${v2}`, 'data-current', 'true');
      await hasAttr(a, `version-row-${v1}`, 'data-instant', 'true');
      check((await tid(a, `version-row-${v1}`).first().getAttribute('data-current')) !== 'true', `version-row-${v1} is marked current before the rollback`);
      await absent(a, `rollback-${v2}`, `${v2} is already current`);
      await art.shot(a, '09-versions');
    });
    await step(a, `compare ${v1} with ${v2}`, async () => {
      await choose(a, 'compare-from', v1);
      await choose(a, 'compare-to', v2);
      await tid(a, 'compare-run').first().click();
      await showsText(a, 'compare-files', 'index.html');
      await visible(a, 'compare-commits');
    });
    await step(a, `click rollback-${v1}: the confirmation names ${cfg.prodEnv}, ${v1} and every host`, async () => {
      await (await visible(a, `rollback-${v1}`)).click();
      await visible(a, 'confirm-ok');
      const dialog = a.locator('dialog', { has: tid(a, 'confirm-ok') });
      const text = (await dialog.count()) > 0 ? await dialog.first().innerText() : await a.locator('main').innerText();
      for (const w of [cfg.prodEnv, v1, ...cfg.prodHosts]) check(text.includes(w), `the rollback confirmation does not name ${w}: ${JSON.stringify(text)}`);
      if ((await tid(a, 'confirm-reason').count()) > 0) await tid(a, 'confirm-reason').first().fill(`search broken in ${v2}`);
      await art.shot(a, '10-versions-rollback-confirm');
    });
    const depId = await step(a, 'confirm: the rollback starts and its live view opens', () =>
      toDeploymentAfter(a, 'confirming the rollback', () => tid(a, 'confirm-ok').first().click(), null));
    await step(a, `follow the rollback ${depId} live to succeeded`, async () => {
      state.live.push((await followDeployment(a, depId, cfg.prodHosts, 'rollback')).live);
    });
    await step(a, `${v1} is current again`, async () => {
      await a.goto(`${cfg.base}/#/versions/${P}/${cfg.prodEnv}`);
      await waitUntil(`a version-row-${v1} with data-current="true"`, async () =>
        (await a.locator(`${sel(`version-row-${v1}`)}[data-current="true"]`).count()) > 0);
      check((await a.locator(`${sel(`version-row-${v2}`)}[data-current="true"]`).count()) === 0, `${v2} is still marked current`);
      await art.shot(a, '11-versions-after-rollback');
    });
  });

  await scenario('live-views', ['deploy-test-live'], async () => {
    // Each deployment above was followed without a reload; at least one of
    // them must have been seen under way, not only at its end.
    check(state.live.some(Boolean), `no deployment was seen under way on its live view (only their ends): the view does not follow deployments live`);
  });

  await scenario('audit-csv', ['versions-rollback'], async () => {
    const m = await mgr.page();
    await step(m, 'the audit table and the chain verification', async () => {
      await (await visible(m, 'nav-audit')).click();
      await visible(m, 'audit-table');
      await waitUntil('audit-row entries', async () => (await tid(m, 'audit-row').count()) > 5, {
        seen: async () => `${await tid(m, 'audit-row').count()} rows`,
      });
      await showsText(m, 'audit-verify-status', /verified|intact/i);
      const status = await textOf(m, 'audit-verify-status');
      check(!/not verified|broken|fail/i.test(status), `audit-verify-status says ${JSON.stringify(status)}`);
      await art.shot(m, '12-audit');
    });
    const csvText = await step(m, 'export CSV (download captured)', async () => {
      const [dl] = await Promise.all([m.waitForEvent('download', { timeout: UI_TIMEOUT }), tid(m, 'audit-export-csv').first().click()]);
      const file = art.path('audit.csv');
      await dl.saveAs(file);
      console.log(`    downloaded ${dl.suggestedFilename()} -> audit.csv`);
      return fs.readFileSync(file, 'utf8');
    });
    await step(m, 'the CSV rows', async () => checkAuditCSV(csvText));
    await step(m, 'export JSONL (download captured; the harness verifies it)', async () => {
      const [dl] = await Promise.all([m.waitForEvent('download', { timeout: UI_TIMEOUT }), tid(m, 'audit-export-jsonl').first().click()]);
      await dl.saveAs(art.path('audit-ui.jsonl'));
    });
    await step(m, 'filter by type release.approved: two rows', async () => {
      await choose(m, 'audit-filter-type', 'release.approved');
      await tid(m, 'audit-apply').first().click();
      await waitUntil('exactly 2 audit-row entries, both release.approved', async () => {
        const rows = await tid(m, 'audit-row').allInnerTexts();
        return rows.length === 2 && rows.every((r) => r.includes('release.approved') && r.includes(U.approver.name));
      }, { seen: async () => JSON.stringify((await tid(m, 'audit-row').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').slice(0, 80))) });
      await art.shot(m, '12-audit-filtered');
    });
  });

  function checkAuditCSV(text) {
    const rows = parseCSV(text).filter((r) => r.length > 1);
    check(rows.length > 1, `the CSV has ${rows.length} rows`);
    const col = Object.fromEntries(rows[0].map((h, i) => [h, i]));
    for (const h of ['actor', 'action', 'environment', 'release', 'version', 'host', 'summary']) check(h in col, `the CSV header ${rows[0]} lacks ${h}`);
    const approved = new Set();
    const switched = {};
    let rollbacks = 0;
    for (const row of rows.slice(1)) {
      const g = (h) => row[col[h]] ?? '';
      if (g('action') === 'release.approved' && g('actor') === U.approver.name) approved.add(g('release'));
      if (g('action') === 'deploy.host_switched' && g('environment') === cfg.prodEnv) {
        const k = `${g('version')} ${g('host')}`;
        switched[k] = (switched[k] ?? 0) + 1;
      }
      if (g('action') === 'rollback.requested' && g('actor') === U.approver.name && g('version') === state.v1) rollbacks++;
    }
    for (const id of [state.r1, state.r2]) check(approved.has(id), `the CSV has no release.approved of release ${id} by ${U.approver.name}`);
    for (const h of cfg.prodHosts) {
      check(switched[`${state.v1} ${h}`] === 2, `the CSV has ${switched[`${state.v1} ${h}`] ?? 0} switches of ${h} to ${state.v1}, want 2 (deploy, rollback)`);
      check(switched[`${state.v2} ${h}`] === 1, `the CSV has ${switched[`${state.v2} ${h}`] ?? 0} switches of ${h} to ${state.v2}, want 1`);
    }
    check(rollbacks === 1, `the CSV has ${rollbacks} rollback.requested rows of ${state.v1} by ${U.approver.name}, want 1`);
    console.log(`    audit.csv: ${rows.length - 1} rows; approvals ${[...approved].join(', ')}; rollback of ${state.v1}`);
  }

  await scenario('dashboard', ['versions-rollback'], async () => {
    const page = await mgr.page();
    await step(page, `a drift check of ${cfg.prodEnv} on demand: every host runs what was recorded`, async () => {
      await page.goto(`${cfg.base}/#/versions/${cfg.project}/${cfg.prodEnv}`);
      await (await visible(page, 'drift-check')).click();
      await visible(page, 'drift-result');
      const hosts = await testIds(page, 'drift-host-');
      check(hosts.length === cfg.prodHosts.length, `the check reports ${hosts.length} hosts, want ${cfg.prodHosts.length}`);
      for (const h of hosts) check((await tid(page, h).getAttribute('data-drifted')) === 'false', `${h} drifted`);
    });
    await step(page, 'the environments: production runs the version rolled back to, with who and when', async () => {
      await page.goto(`${cfg.base}/#/dashboard`);
      const row = `dashboard-env-${cfg.project}-${cfg.prodEnv}`;
      await visible(page, row);
      await hasAttr(page, row, 'data-current', state.v1);
      await visible(page, `dashboard-env-${cfg.project}-${cfg.testEnv}`);
      await art.shot(page, '13-dashboard');
    });
  });

  await scenario('board', ['second-release'], async () => {
    const m = await mgr.page();
    await step(m, 'both releases completed on the board; search narrows it', async () => {
      await (await visible(m, 'nav-board')).click();
      await visible(m, 'board-column-completed');
      for (const id of [state.r1, state.r2]) {
        await waitUntil(`release-card-${id} in board-column-completed`, async () =>
          (await tid(m, 'board-column-completed').locator(sel(`release-card-${id}`)).count()) > 0);
      }
      await absent(m, 'board-column-cancelled', 'cancelled releases are hidden by default');
      await art.shot(m, '13-board');
      await tid(m, 'board-search').first().fill('search');
      await waitUntil(`only release-card-${state.r2} after searching "search"`, async () =>
        (await tid(m, `release-card-${state.r1}`).count()) === 0 && (await tid(m, `release-card-${state.r2}`).count()) > 0);
      await tid(m, 'board-search').first().fill('');
      await choose(m, 'board-project-filter', P);
      await visible(m, `release-card-${state.r1}`);
    });
  });

  await scenario('projects', [], async () => {
    const page = await admin.page();
    const hosts = [...cfg.testHosts, ...cfg.prodHosts];
    await step(page, 'the projects list', async () => {
      await (await visible(page, 'nav-projects')).click();
      await visible(page, `project-link-${P}`);
      await visible(page, 'project-new');
      await art.shot(page, '14-projects');
    });
    await step(page, `project ${P}: environments, hosts, configuration`, async () => {
      await tid(page, `project-link-${P}`).first().click();
      await visible(page, `env-${cfg.testEnv}`);
      await visible(page, `env-${cfg.prodEnv}`);
      for (const h of hosts) await visible(page, `host-row-${h}`);
      await waitUntil(`project-yaml to hold id: ${P}`, async () =>
        (await valueOf(page, 'project-yaml')).includes(`id: ${P}`), { seen: async () => JSON.stringify((await valueOf(page, 'project-yaml')).slice(0, 120)) });
      await visible(page, `versions-link-${cfg.prodEnv}`);
      await art.shot(page, '15-project-detail');
    });
    await step(page, 'validate the configuration as it is', async () => {
      await tid(page, 'project-validate').first().click();
      await new Promise((r) => setTimeout(r, 500));
      await failOnError(page, 'project-validate');
    });
    await step(page, `versions-link-${cfg.prodEnv} opens the versions`, async () => {
      await tid(page, `versions-link-${cfg.prodEnv}`).first().click();
      await waitUntil(`#/versions/${P}/${cfg.prodEnv}`, async () => page.url().includes(`#/versions/${P}/${cfg.prodEnv}`), { seen: async () => page.url() });
      await visible(page, 'versions-title');
    });
  });

  await scenario('users', [], async () => {
    const page = await admin.page();
    await step(page, 'the users and their roles', async () => {
      await (await visible(page, 'nav-users')).click();
      for (const u of Object.values(U)) await visible(page, `user-row-${u.name}`);
      await waitUntil(`user-roles-${U.tester.name} to hold tester`, async () => {
        return (await valueOf(page, `user-roles-${U.tester.name}`)).includes('tester');
      });
      await art.shot(page, '16-users');
    });
    await step(page, 'create a user', async () => {
      await tid(page, 'user-new-name').first().fill('newcomer');
      await tid(page, 'user-new-password').first().fill('newcomer-password-1');
      await tid(page, 'user-create').first().click();
      await waitUntil('user-row-newcomer', async () => {
        await failOnError(page, 'user-create');
        return (await tid(page, 'user-row-newcomer').count()) > 0;
      });
    });
  });

  await everyAction({
    cfg, art, scenario, step, check, decide, confirmer, failOnError, stateIs, toDeploymentAfter, commitOn,
    people: { developer: dev, tester, approver: appr, manager: mgr, admin },
    newPerson: (role, user) => new Person(browser, role, user),
  });

  await scenario('zh-CN', ['sign-in'], async () => {
    await walkInChinese(await admin.page(), state);
  });

  const lasting = path.join(cfg.artifacts, 'state.json');
  fs.writeFileSync(lasting, JSON.stringify(state, null, 2));
}

// ---- the UI in Chinese ----------------------------------------------------------------------

/**
 * The phrases of the English catalog a Chinese page must never show: the
 * literal text of each English message that differs from its Chinese one,
 * cut at its placeholders, keeping pieces of two words or more (single
 * words could be a project's or a person's name).
 */
function englishPhrases() {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src', 'i18n');
  const flat = (tree, prefix = '', out = new Map()) => {
    for (const [k, v] of Object.entries(tree)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'string') out.set(key, v);
      else flat(v, key, out);
    }
    return out;
  };
  const load = (locale) => {
    const all = new Map();
    for (const f of fs.readdirSync(path.join(dir, locale))) {
      if (f.endsWith('.json')) flat(JSON.parse(fs.readFileSync(path.join(dir, locale, f), 'utf8')), f.slice(0, -5), all);
    }
    return all;
  };
  const en = load('en');
  const zh = load('zh-CN');
  const phrases = new Set();
  for (const [k, v] of en) {
    if (zh.get(k) === v) continue;
    let text = v;
    // Innermost ICU arguments first, until none is left: the rest is literal.
    for (let prev = ''; prev !== text; ) [prev, text] = [text, text.replace(/\{[^{}]*\}/g, '\u0000')];
    for (const piece of text.split('\u0000')) {
      const p = piece.trim().replace(/^[.,:;()]+|[.,:;()]+$/g, '').trim();
      if (p.length >= 8 && /[A-Za-z]{2,}\s+[A-Za-z]{2,}/.test(p)) phrases.add(p);
    }
  }
  return [...phrases];
}

/**
 * The admin switches to 简体中文 (saved with the user: the page reloads in
 * it), then every screen is opened once: its screenshot is kept, and it
 * fails if it shows a phrase of the English catalog. Then back to English.
 */
async function walkInChinese(page, state) {
  const english = englishPhrases();
  check(english.length > 200, `only ${english.length} English phrases to look for`);
  await step(page, 'switch to 简体中文: the page reloads in it', async () => {
    await page.goto(`${cfg.base}/#/releases`);
    const sw = await visible(page, 'language-switch');
    await Promise.all([page.waitForEvent('load'), sw.selectOption('zh-CN')]);
    await showsText(page, 'nav-board', '发布单');
    const lang = await page.evaluate(() => document.documentElement.lang);
    check(lang === 'zh-CN', `<html lang> is ${lang}`);
  });
  const release = state.r1;
  let deployment = '';
  await step(page, 'find a deployment to show', async () => {
    await page.goto(`${cfg.base}/#/releases/${release}`);
    const links = await waitUntil('a deployment-link-<id>', async () => {
      const l = await testIds(page, 'deployment-link-');
      return l.length > 0 ? l : false;
    });
    deployment = links[0].slice('deployment-link-'.length);
  });
  const screens = [
    ['inbox', '#/inbox', 'inbox'],
    ['dashboard', '#/dashboard', 'dashboard'],
    ['board', '#/releases', 'new-release-button'],
    ['new-release', '#/releases/new', 'new-submit'],
    ['release', `#/releases/${release}`, 'release-timeline'],
    ['deployment', `#/deployments/${deployment}`, 'deployment-result'],
    ['versions', `#/versions/${cfg.project}/${cfg.prodEnv}`, 'versions-title'],
    ['audit', '#/audit', 'audit-table'],
    ['projects', '#/projects', `project-link-${cfg.project}`],
    ['project', `#/projects/${cfg.project}`, 'project-yaml'],
    ['users', '#/users', 'user-create'],
    ['deployments', '#/deployments', 'deployments-table'],
    ['account', '#/account', 'account'],
  ];
  for (const [name, hash, ready] of screens) {
    await step(page, `${name} in Chinese: no English phrase of the catalog`, async () => {
      await page.goto(`${cfg.base}/${hash}`);
      await visible(page, ready);
      // What loads after the first paint (a timeline, output) is in too.
      const shown = await waitUntil(`${name} to settle`, async () => {
        const a = await page.evaluate(() => document.body.innerText);
        await page.waitForTimeout(400);
        const b = await page.evaluate(() => document.body.innerText);
        return a === b ? b : false;
      });
      const found = english.filter((p) => shown.includes(p));
      check(found.length === 0, `${name} shows English: ${found.slice(0, 6).map((f) => JSON.stringify(f)).join(', ')}`);
      check(/[\u4e00-\u9fff]/.test(shown), `${name} shows no Chinese at all`);
      await art.shot(page, `zh-${name}`);
    });
  }
  await step(page, 'back to English', async () => {
    const sw = await visible(page, 'language-switch');
    await Promise.all([page.waitForEvent('load'), sw.selectOption('en')]);
    await showsText(page, 'nav-board', 'Releases');
  });
}

// ---- pages that are not the desk's --------------------------------------------------------

/** The event count the desk reports (health), read from Node, outside any page. */
async function eventCount(base, token) {
  const res = await fetch(`${base}/api/v1/health`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new StepError(`health: ${res.status}`);
  return (await res.json()).events.count;
}

/**
 * Another page on this machine (another loopback port) and a page under a
 * rebound name try the desk's API, with and without credentials: they
 * read nothing and change nothing.
 */
async function foreignOrigins(browser, admin) {
  const foreign = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>another site</title><p>another site</p>');
  });
  await new Promise((r) => foreign.listen(0, '127.0.0.1', r));
  const foreignURL = `http://127.0.0.1:${foreign.address().port}/`;
  const ctx = await newContext(browser);
  const page = watch(await ctx.newPage(), 'another site');
  try {
    const before = await eventCount(cfg.base);
    await step(page, `a page of ${foreignURL} reads nothing of the desk and changes nothing`, async () => {
      await page.goto(foreignURL);
      const got = await page.evaluate(async ({ base, admin }) => {
        const tryFetch = async (url, init) => {
          try {
            const r = await fetch(url, init);
            return `answered ${r.status} ${r.type}: ${(await r.text()).slice(0, 80)}`;
          } catch (e) {
            return `refused: ${e.name}`;
          }
        };
        const body = JSON.stringify({ user: admin.name, password: admin.password });
        return {
          read: await tryFetch(`${base}/api/v1/health`),
          readWithCredentials: await tryFetch(`${base}/api/v1/audit`, { credentials: 'include' }),
          signIn: await tryFetch(`${base}/api/v1/login`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } }),
          // A "simple" request goes without a preflight: the desk itself must refuse it.
          blindSignIn: await tryFetch(`${base}/api/v1/login`, { method: 'POST', body, mode: 'no-cors', headers: { 'Content-Type': 'text/plain' } }),
        };
      }, { base: cfg.base, admin });
      for (const k of ['read', 'readWithCredentials', 'signIn']) check(got[k].startsWith('refused'), `${k}: ${got[k]}`);
      check(got.blindSignIn === 'answered 0 opaque: ', `the blind sign-in: ${got.blindSignIn}`);
    });
    await step(page, 'the blind sign-in was refused by the desk: no session was made', async () => {
      const after = await eventCount(cfg.base);
      check(after === before, `the log grew from ${before} to ${after} events`);
    });
    const port = new URL(cfg.base).port;
    await step(page, `under a rebound name (http://${REBOUND}:${port}) the desk answers 421 and nothing else`, async () => {
      const res = await page.goto(`http://${REBOUND}:${port}/`);
      check(res.status() === 421, `the page under ${REBOUND}: ${res.status()}`);
      check((await res.text()).includes('--public-name'), 'the 421 does not say how to allow a name');
      const api = await page.evaluate(async () => {
        const r = await fetch('/api/v1/health');
        return `${r.status} ${await r.text()}`;
      });
      check(api.startsWith('421') && !api.includes('"events"'), `the API under ${REBOUND}: ${api.slice(0, 120)}`);
      await art.shot(page, '00-rebound-name-refused');
    });
  } finally {
    await ctx.close();
    foreign.close();
  }
}

// ---- offline review -------------------------------------------------------------------

async function offline(browser) {
  await scenario('offline-review', [], async () => {
    const stranger = await newContext(browser);
    const locked = watch(await stranger.newPage(), 'no review link');
    await step(locked, 'without the review link nothing is shown', async () => {
      await locked.goto(`${cfg.base}/#/releases`);
      await visible(locked, 'review-locked');
      await absent(locked, 'login-user', 'an archive has no accounts');
      const cards = await testIds(locked, 'release-card-');
      check(cards.length === 0, `the locked page shows releases: ${cards.join(', ')}`);
      await art.shot(locked, '16-offline-locked');
    });
    const ctx = await newContext(browser);
    const page = watch(await ctx.newPage(), 'reviewer');
    await page.goto(cfg.reviewURL);
    await step(page, 'the review link opens the archive, and leaves no secret in the address', async () => {
      await showsText(page, 'offline-banner', /offline|read-only/i);
      check(!page.url().includes('rdv_'), `the address still holds the secret: ${page.url()}`);
    });
    await step(page, 'served as plain HTTP beyond loopback on purpose (--insecure-http): a warning says so', async () => {
      await showsText(page, 'warning-insecure_http', /plain HTTP/);
    });
    await step(locked, 'the review link works once: a second use is refused', async () => {
      await locked.goto(cfg.reviewURL);
      await locked.reload();
      await showsText(locked, 'error', /used already/);
      await stranger.close();
    });
    await step(page, 'the banner, and no sign-in needed', async () => {
      await showsText(page, 'offline-banner', /offline|read-only/i);
      await absent(page, 'login-user', 'offline review needs no sign-in');
      await absent(page, 'sign-out', 'nobody is signed in');
    });
    const openId = process.env.RD_OFFLINE_RELEASE || '';
    const firstId = await step(page, 'the board, read-only', async () => {
      const cards = await waitUntil('a release-card-<id> on the board', async () => {
        const ids = await testIds(page, 'release-card-');
        return ids.length > 0 ? ids : false;
      });
      await absent(page, 'new-release-button', 'nothing can be changed in offline review');
      if (openId) {
        check((await tid(page, 'board-column-open').locator(sel(`release-card-${openId}`)).count()) > 0, `release ${openId} is not in board-column-open`);
      }
      await art.shot(page, '17-offline-board');
      return cards.map((c) => c.slice('release-card-'.length)).sort((a, b) => Number(a) - Number(b))[0];
    });
    if (openId) {
      await step(page, `the open release ${openId} offers no action (its requester could deploy or cancel it online)`, async () => {
        await tid(page, `release-card-${openId}`).first().click();
        await stateIs(page, 'release-state', 'open');
        await visible(page, 'release-timeline');
        const actions = (await testIds(page, 'action-')).filter((x) => x !== 'action-note');
        check(actions.length === 0, `offline review offers actions: ${actions.join(', ')}`);
        await absent(page, 'action-note', 'no decision can be taken offline');
        await art.shot(page, '18-offline-release');
      });
    }
    await step(page, `release ${firstId} and its deployment, read-only`, async () => {
      await (await visible(page, 'nav-board')).click();
      await (await visible(page, `release-card-${firstId}`)).click();
      await visible(page, 'release-timeline');
      const actions = (await testIds(page, 'action-')).filter((x) => x !== 'action-note');
      check(actions.length === 0, `offline review offers actions: ${actions.join(', ')}`);
      const links = await waitUntil('a deployment-link-<id>', async () => {
        const l = await testIds(page, 'deployment-link-');
        return l.length > 0 ? l : false;
      });
      await tid(page, links[0]).first().click();
      await visible(page, 'deployment-state');
      await visible(page, 'deployment-result');
      await absent(page, 'deployment-cancel', 'offline');
      await absent(page, 'deployment-retry', 'offline');
      await art.shot(page, '18-offline-deployment');
    });
    await step(page, 'the versions, read-only', async () => {
      await page.goto(`${cfg.base}/#/versions/${cfg.project}/${cfg.prodEnv}`);
      await visible(page, 'versions-title');
      await waitUntil('a version-row-<version>', async () => (await testIds(page, 'version-row-')).length > 0);
      const offered = [...(await testIds(page, 'rollback-')), ...(await testIds(page, 'mark-bad-'))];
      check(offered.length === 0, `offline review offers ${offered.join(', ')}`);
    });
    await step(page, 'the audit', async () => {
      await (await visible(page, 'nav-audit')).click();
      await visible(page, 'audit-table');
      await waitUntil('audit-row entries', async () => (await tid(page, 'audit-row').count()) > 0);
      await art.shot(page, '19-offline-audit');
    });
  });
}

// ---- main -------------------------------------------------------------------------------------

const t0 = Date.now();
let browser;
try {
  browser = await chromium.launch({ executablePath: cfg.chromium, args: LAUNCH_ARGS });
} catch (err) {
  console.error(`cannot start ${cfg.chromium}: ${err.message.split('\n')[0]}\ninstall it with: apt-get install chromium (scripts/setup.sh does)`);
  process.exit(2);
}
try {
  if (phase === 'online') await online(browser);
  else await offline(browser);
} finally {
  await browser.close().catch(() => {});
}
results.push(
  cspViolations.length === 0
    ? { name: 'no Content-Security-Policy violation', status: 'passed', ms: 0 }
    : { name: 'no Content-Security-Policy violation', status: 'failed', ms: 0, message: JSON.stringify(cspViolations.slice(0, 5)) },
);

const count = (s) => results.filter((r) => r.status === s).length;
fs.writeFileSync(art.path(`results-${phase}.json`), JSON.stringify({ phase, results, screenshots: art.shots }, null, 2));
console.log(`\n${phase}: ${results.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots: ${art.shots.join(', ') || 'none'}`);
for (const r of results) console.log(`  ${r.status.padEnd(7)} ${r.name}${r.ms ? ` (${(r.ms / 1000).toFixed(1)} s)` : ''}${r.status === 'passed' ? '' : `: ${r.message.split('\n')[0]}`}`);
console.log(`${phase}: ${count('passed')} passed, ${count('failed') + count('blocked')} failed`);
process.exit(count('passed') === results.length ? 0 : 1);
