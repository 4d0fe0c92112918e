// Every action a person can take, clicked once in the UI and checked by
// its effect through the API (issue 13, section 5). The flow of run.mjs
// has taken two releases live by then; these scenarios run after it.
// What only sets the stage (opening a release, deploying it, another
// person's verdict) goes through the API, so each click here is the one
// action under test.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DEPLOY_TIMEOUT, StepError, tid, visible, waitUntil } from './lib.mjs';

/** s as one word of a POSIX shell, single-quoted. */
const shellQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

/** A small API client from Node: no page, no cookies, a bearer token. */
export class Api {
  constructor(base) {
    this.base = base;
    this.tokens = new Map();
  }

  async call(method, path, token, body) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the text is enough to say what went wrong
    }
    return { status: res.status, json, text };
  }

  /** Calls and fails unless the status is want. */
  async must(want, method, path, token, body) {
    const r = await this.call(method, path, token, body);
    if (r.status !== want) throw new StepError(`${method} ${path}: ${r.status}, want ${want}: ${r.text.slice(0, 300)}`);
    return r.json;
  }

  /** A session token of user {name, password}, signed in once. */
  async token(user) {
    if (!this.tokens.has(user.name)) {
      const j = await this.must(200, 'POST', '/login', '', { user: user.name, password: user.password });
      this.tokens.set(user.name, j.token);
    }
    return this.tokens.get(user.name);
  }

  /** Waits for a deployment to end and returns it. */
  async deploymentEnd(token, id, timeout = DEPLOY_TIMEOUT) {
    return waitUntil(`deployment ${id} to end`, async () => {
      const d = await this.must(200, 'GET', `/deployments/${encodeURIComponent(id)}`, token);
      return /^(succeeded|failed|cancelled|interrupted)$/.test(d.state) ? d : false;
    }, { timeout, interval: 250 });
  }
}

/**
 * Runs the scenarios. h holds run.mjs's harness: cfg, people (Person per
 * role, plus admin), scenario, step, check, decide, confirmer,
 * failOnError, stateIs, toDeploymentAfter, commitOn, art.
 */
export async function everyAction(h) {
  const { cfg, people, scenario, step, check, art } = h;
  const api = new Api(cfg.base);
  const U = cfg.users;
  const P = cfg.project;
  const tok = {
    admin: await api.token(U.admin),
    dev: await api.token(U.developer),
    tess: await api.token(U.tester),
    alice: await api.token(U.approver),
    max: await api.token(U.manager),
  };
  const release = async (id) => (await api.must(200, 'GET', `/releases/${id}`, tok.admin)).release;
  const timelineHas = async (id, action) =>
    ((await api.must(200, 'GET', `/releases/${id}`, tok.admin)).timeline ?? []).some((e) => e.action === action);
  /** Opens a release of a new branch (with a commit of its own) and deploys it to the test stage, by the API. */
  const openAndTest = async (branch, files = {}) => {
    const r = await api.must(201, 'POST', '/releases', tok.dev, { project: P, branch, create_branch: true, title: `e2e ${branch}` });
    const id = r.release.id;
    for (const [file, content] of Object.entries({ [`${branch}.txt`]: `${branch}\n`, ...files })) h.commitOn(branch, file, content);
    await deploy(id, cfg.testEnv, tok.dev);
    return id;
  };
  const deploy = async (id, env, token) => {
    const d = await api.must(202, 'POST', `/releases/${id}/deploy`, token, { env });
    const end = await api.deploymentEnd(token, d.deployment);
    if (end.state !== 'succeeded') throw new StepError(`deployment ${d.deployment} of release ${id} to ${env}: ${end.state}`);
    return d;
  };
  /** Takes an open release tested on the test stage to production, by the API. */
  const toLive = async (id) => {
    await api.must(200, 'POST', `/releases/${id}/test`, tok.tess, { passed: true });
    await api.must(200, 'POST', `/releases/${id}/approve`, tok.alice, { note: 'e2e' });
    return (await deploy(id, cfg.prodEnv, tok.alice)).version;
  };
  const prodCurrent = async () => (await api.must(200, 'GET', `/projects/${P}/environments/${cfg.prodEnv}/versions`, tok.admin)).current;
  const open = async (page, hash, ready) => {
    await page.goto(`${cfg.base}/${hash}`);
    await visible(page, ready);
  };
  const failFlag = path.join(cfg.artifacts, 'e2e-fail-flag');
  const clicked = [];
  const did = (what) => clicked.push(what);

  await scenario('action: save a configuration', [], async () => {
    const page = await people.admin.page();
    const spare = cfg.spareHost;
    await step(page, `the editor saves a change: ${spare.addr} joins ${cfg.testEnv}, the hook may wait or fail`, async () => {
      const doc = (await api.must(200, 'GET', `/projects/${P}`, tok.admin)).project.config;
      const cfgDoc = structuredClone(doc);
      const env = cfgDoc.environments.find((e) => e.name === cfg.testEnv);
      env.hosts.push({ addr: spare.addr, path: spare.path });
      // A release holding slow.txt takes 20 s in its hook: long enough to
      // cancel its deployment. One holding fail.txt fails while the flag
      // file exists: a failure that a retry gets past once it is gone.
      cfgDoc.hooks.pre_release = `${cfgDoc.hooks.pre_release}; if [ -f slow.txt ]; then sleep 20; fi; ` +
        `if [ -f fail.txt ] && [ -f ${shellQuote(failFlag)} ]; then echo 'e2e: the flag file stops this host' >&2; exit 3; fi`;
      await open(page, `#/projects/${P}`, 'project-yaml');
      await tid(page, 'project-yaml').first().fill(JSON.stringify(cfgDoc, null, 2));
      await tid(page, 'project-save').first().click();
      await waitUntil('the saved configuration through the API', async () => {
        await h.failOnError(page, 'project-save');
        const now = (await api.must(200, 'GET', `/projects/${P}`, tok.admin)).project.config;
        const hosts = now.environments.find((e) => e.name === cfg.testEnv).hosts.map((x) => x.addr ?? x);
        return hosts.includes(spare.addr) && now.hooks.pre_release.includes('slow.txt');
      });
      did('save a configuration');
    });
  });

  await scenario('action: trust a host', ['action: save a configuration'], async () => {
    const page = await people.admin.page();
    const { addr } = cfg.spareHost;
    const hostPort = addr.includes('@') ? addr.slice(addr.indexOf('@') + 1) : addr;
    const trusted = async () => {
      const hosts = (await api.must(200, 'GET', '/hosts', tok.admin)).hosts ?? [];
      return hosts.find((x) => x.host_port === hostPort)?.key?.state === 'trusted';
    };
    check(!(await trusted()), `${hostPort} is trusted before anyone trusted it`);
    await step(page, `test ${addr}, read its fingerprint, trust it`, async () => {
      await open(page, `#/projects/${P}`, `host-row-${addr}`);
      await tid(page, `host-test-${addr}`).first().click();
      await visible(page, `host-fingerprint-${addr}`);
      await (await visible(page, `host-trust-${addr}`)).click();
      const confirm = h.confirmer(page, 'e2e: the fingerprint matches the host');
      await waitUntil(`${hostPort} trusted through the API`, async () => {
        await confirm();
        await h.failOnError(page, `host-trust-${addr}`);
        return trusted();
      });
      did('trust a host');
    });
  });

  const state = {};
  await scenario('action: fail a test, reject, cancel a release', ['action: trust a host'], async () => {
    const tess = await people.tester.page();
    const alice = await people.approver.page();
    const dev = await people.developer.page();
    const id = await step(tess, 'a release on the test stage (by the API)', () => openAndTest('e2e-verdicts'));
    state.verdicts = id;
    await step(tess, `the tester fails release ${id}`, async () => {
      await open(tess, `#/releases/${id}`, 'release-state');
      await h.decide(tess, 'action-test-fail', 'e2e: the cart is empty', 'open');
      check((await release(id)).state === 'open' && (await timelineHas(id, 'release.test_failed')), 'the API shows no failed test');
      did('fail a test');
    });
    await step(alice, `tested again, the approver rejects release ${id}`, async () => {
      await deploy(id, cfg.testEnv, tok.dev);
      await api.must(200, 'POST', `/releases/${id}/test`, tok.tess, { passed: true });
      await open(alice, `#/releases/${id}`, 'action-reject');
      await h.decide(alice, 'action-reject', 'e2e: not this week', 'open');
      check((await release(id)).state === 'open' && (await timelineHas(id, 'release.rejected')), 'the API shows no rejection');
      did('reject');
    });
    await step(dev, `the developer cancels release ${id}`, async () => {
      await open(dev, `#/releases/${id}`, 'action-cancel');
      await h.decide(dev, 'action-cancel', 'e2e: replaced', 'cancelled');
      check((await release(id)).state === 'cancelled', 'the API does not show the release cancelled');
      did('cancel a release');
    });
  });

  await scenario('action: refuse, without and with the rollback', ['action: trust a host'], async () => {
    const max = await people.manager.page();
    const before = await prodCurrent();
    const id = await step(max, 'a release live on production (by the API)', () => openAndTest('e2e-refused'));
    const live1 = await step(max, `release ${id} goes live`, () => toLive(id));
    check((await prodCurrent()) === live1, `production does not run ${live1}`);
    await step(max, `refuse release ${id} without the rollback: production keeps ${live1}`, async () => {
      await open(max, `#/releases/${id}`, 'action-refuse');
      await tid(max, 'action-refuse').first().click();
      await visible(max, 'refuse-rollback');
      check(!(await tid(max, 'refuse-rollback').first().isChecked()), 'the rollback is ticked before the manager chose it');
      const confirm = h.confirmer(max, 'e2e: wrong banner');
      await waitUntil('the release open again', async () => {
        await confirm();
        await h.failOnError(max, 'action-refuse');
        return (await release(id)).state === 'open';
      });
      check((await prodCurrent()) === live1, 'a refusal without the rollback moved production');
      did('refuse without the rollback');
    });
    await step(max, `deployed again and refused with the rollback: production goes back to ${before}`, async () => {
      await deploy(id, cfg.testEnv, tok.dev);
      const live2 = await toLive(id);
      check((await prodCurrent()) === live2, `production does not run ${live2}`);
      await open(max, `#/releases/${id}`, 'action-refuse');
      await tid(max, 'action-refuse').first().click();
      await (await visible(max, 'refuse-rollback')).check();
      const dep = await h.toDeploymentAfter(max, 'refusing with the rollback', async () => {}, 'e2e: checkout broke');
      const end = await api.deploymentEnd(tok.max, dep);
      check(end.state === 'succeeded' && end.kind === 'rollback', `the rollback ${dep}: ${end.state} ${end.kind}`);
      check((await prodCurrent()) === before, `production runs ${await prodCurrent()}, want ${before}`);
      check((await release(id)).state === 'open', 'the refused release is not open');
      await art.shot(max, 'refuse-rollback-deployment');
      did('refuse with the rollback');
    });
  });

  await scenario('action: cancel a deployment', ['action: save a configuration'], async () => {
    const dev = await people.developer.page();
    const id = await step(dev, 'a release whose hook waits 20 s (slow.txt)', async () => {
      const r = await api.must(201, 'POST', '/releases', tok.dev, { project: P, branch: 'e2e-slow', create_branch: true, title: 'e2e slow' });
      h.commitOn('e2e-slow', 'slow.txt', 'slow\n');
      return r.release.id;
    });
    const dep = await step(dev, 'its deployment to the test stage starts', async () => {
      const d = await api.must(202, 'POST', `/releases/${id}/deploy`, tok.dev, { env: cfg.testEnv });
      await waitUntil(`deployment ${d.deployment} running`, async () =>
        (await api.must(200, 'GET', `/deployments/${d.deployment}`, tok.dev)).state === 'running');
      return d.deployment;
    });
    await step(dev, `cancel ${dep} on its live view`, async () => {
      await open(dev, `#/deployments/${dep}`, 'deployment-cancel');
      await tid(dev, 'deployment-cancel').first().click();
      const confirm = h.confirmer(dev, 'e2e: wrong branch');
      await waitUntil(`${dep} cancelled through the API`, async () => {
        await confirm();
        await h.failOnError(dev, 'deployment-cancel');
        return (await api.must(200, 'GET', `/deployments/${dep}`, tok.dev)).state === 'cancelled';
      }, { timeout: DEPLOY_TIMEOUT });
      did('cancel a deployment');
    });
  });

  await scenario('action: retry a failed deployment', ['action: save a configuration'], async () => {
    const dev = await people.developer.page();
    fs.writeFileSync(failFlag, 'fail\n');
    const dep = await step(dev, 'a deployment that fails on every host while the flag file exists', async () => {
      const r = await api.must(201, 'POST', '/releases', tok.dev, { project: P, branch: 'e2e-fail', create_branch: true, title: 'e2e fail' });
      h.commitOn('e2e-fail', 'fail.txt', 'fail\n');
      const d = await api.must(202, 'POST', `/releases/${r.release.id}/deploy`, tok.dev, { env: cfg.testEnv });
      const end = await api.deploymentEnd(tok.dev, d.deployment);
      check(end.state === 'failed', `deployment ${d.deployment} ended ${end.state}, want failed`);
      return d.deployment;
    });
    await step(dev, `the flag removed, retry ${dep}: it ends succeeded`, async () => {
      fs.rmSync(failFlag);
      await open(dev, `#/deployments/${dep}`, 'deployment-retry');
      await tid(dev, 'deployment-retry').first().click();
      await waitUntil(`${dep} retried through the API`, async () => {
        await h.failOnError(dev, 'deployment-retry');
        return (await api.must(200, 'GET', `/deployments/${dep}`, tok.dev)).state !== 'failed';
      });
      const end = await api.deploymentEnd(tok.dev, dep);
      check(end.state === 'succeeded', `the retried ${dep} ended ${end.state}`);
      did('retry a deployment');
    });
  });

  await scenario('action: mark a version bad, check drift', ['action: fail a test, reject, cancel a release'], async () => {
    const tess = await people.tester.page();
    const id = state.verdicts;
    const version = (await release(id)).deployments.filter((d) => d.environment === cfg.testEnv && d.state === 'succeeded')[0].version;
    await step(tess, `mark ${version} of ${cfg.testEnv} bad`, async () => {
      await open(tess, `#/versions/${P}/${cfg.testEnv}`, `mark-bad-${version}`);
      await tid(tess, `mark-bad-${version}`).first().click();
      const confirm = h.confirmer(tess, 'e2e: leaks memory');
      await waitUntil(`${version} bad through the API`, async () => {
        await confirm();
        await h.failOnError(tess, `mark-bad-${version}`);
        const v = await api.must(200, 'GET', `/projects/${P}/environments/${cfg.testEnv}/versions`, tok.tess);
        return (v.timeline ?? []).some((e) => e.version === version && e.bad);
      });
      did('mark a version bad');
    });
    await step(tess, `a drift check of ${cfg.testEnv}, recorded`, async () => {
      const checks = async () => (await api.must(200, 'GET', '/audit?type=drift.checked&limit=1', tok.admin)).total;
      const n = await checks();
      await (await visible(tess, 'drift-check')).click();
      await visible(tess, 'drift-result');
      await waitUntil('one more drift.checked in the audit', async () => (await checks()) === n + 1);
      did('run a drift check');
    });
    await step(tess, `the same check from the project's hosts, under ${cfg.testEnv}`, async () => {
      const checks = async () => (await api.must(200, 'GET', '/audit?type=drift.checked&limit=1', tok.admin)).total;
      const n = await checks();
      await open(tess, `#/projects/${P}`, `env-${cfg.testEnv}`);
      await tid(tess, `env-${cfg.testEnv}`).locator('[data-testid="drift-check"]').first().click();
      await waitUntil('one more drift.checked in the audit', async () => (await checks()) === n + 1);
    });
  });

  await scenario('action: break a stale lock', ['action: trust a host'], async () => {
    const admin = await people.admin.page();
    const spare = cfg.spareHost;
    // What a desk killed while taking the lock leaves: a lock naming no holder.
    const lockDir = path.join(spare.path, '.releasedesk', 'lock');
    const dep = await step(admin, `a stale lock on ${spare.addr}: the next deployment to ${cfg.testEnv} fails there`, async () => {
      fs.mkdirSync(lockDir, { recursive: true });
      const r = await api.must(201, 'POST', '/releases', tok.dev, { project: P, branch: 'e2e-locked', create_branch: true, title: 'e2e locked' });
      h.commitOn('e2e-locked', 'locked.txt', 'locked\n');
      const d = await api.must(202, 'POST', `/releases/${r.release.id}/deploy`, tok.dev, { env: cfg.testEnv });
      const end = await api.deploymentEnd(tok.dev, d.deployment);
      check(end.state === 'failed', `deployment ${d.deployment} ended ${end.state}, want failed on the lock`);
      return d.deployment;
    });
    await step(admin, 'the host error links to the break; the admin breaks that host\'s lock with a reason', async () => {
      const lockBreaks = async () => await api.must(200, 'GET', '/audit?type=lock.broken&limit=50', tok.admin);
      const n = (await lockBreaks()).total;
      await open(admin, `#/deployments/${dep}`, 'break-lock-link');
      await tid(admin, 'break-lock-link').first().click();
      await visible(admin, 'unlock-host');
      check((await tid(admin, 'unlock-host').first().inputValue()) === spare.addr, 'the dialog did not open on the locked host');
      await tid(admin, 'unlock-reason').first().fill('e2e: left by a desk that was killed');
      await tid(admin, 'unlock-confirm').first().click();
      await visible(admin, 'unlock-result');
      await h.failOnError(admin, 'unlock-confirm');
      const page = await lockBreaks();
      const rows = page.rows ?? [];
      check(page.total === n + 1 && rows.some((r) => r.actor === U.admin.name && r.summary.includes(spare.addr)),
        `the audit shows no lock.broken by ${U.admin.name} naming ${spare.addr}: ${JSON.stringify(rows.slice(0, 2))}`);
      check(!fs.existsSync(lockDir), `${lockDir} is still there`);
      await art.shot(admin, 'lock-broken');
      did('break a lock');
    });
    await step(admin, `the lock gone, a retry of ${dep} succeeds`, async () => {
      await api.must(202, 'POST', `/deployments/${dep}/retry`, tok.dev, {});
      const end = await api.deploymentEnd(tok.dev, dep);
      check(end.state === 'succeeded', `the retried ${dep} ended ${end.state}`);
    });
  });

  await scenario('action: create and revoke a token, change a password', [], async () => {
    const who = { name: 'newcomer', password: 'newcomer-password-1' };
    const page = await h.newPerson('newcomer', who).page();
    let secret = '';
    await step(page, 'my account: create a personal token for 30 days; it is shown once', async () => {
      await (await visible(page, 'nav-account')).click();
      await visible(page, 'account');
      await tid(page, 'token-name').first().fill('e2e-ci');
      await tid(page, 'token-ttl').first().selectOption('30');
      await tid(page, 'token-create').first().click();
      await visible(page, 'token-created');
      secret = await tid(page, 'token-secret').first().inputValue();
      check(/^rd_/.test(secret), `the token shown: ${JSON.stringify(secret.slice(0, 8))}`);
      const me = await api.must(200, 'GET', '/me', secret);
      check(me.user.name === who.name, `the new token signs in as ${me.user.name}`);
      await art.shot(page, 'account-token-created');
      did('create a token');
    });
    await step(page, 'revoke it: the API refuses it from then on', async () => {
      const mine = await api.must(200, 'GET', '/tokens', secret);
      const t = (mine.tokens ?? []).find((x) => x.name === 'e2e-ci');
      check(t, `GET /tokens lists no e2e-ci: ${JSON.stringify(mine).slice(0, 200)}`);
      await tid(page, 'token-secret-done').first().click();
      await (await visible(page, `token-revoke-${t.id}`)).click();
      const confirm = h.confirmer(page, '');
      await waitUntil('the token refused through the API', async () => {
        await confirm();
        await h.failOnError(page, `token-revoke-${t.id}`);
        return (await api.call('GET', '/me', secret)).status === 401;
      });
      // The dialog closes with the answer: the page is inert under it until then.
      await waitUntil('the revoke dialog closed', async () => !(await tid(page, 'confirm-ok').first().isVisible().catch(() => false)));
      did('revoke a token');
    });
    await step(page, 'change the password: signed out, the new one signs in, the old one does not', async () => {
      const next = 'newcomer-password-2';
      await tid(page, 'account-password-current').first().fill(who.password);
      await tid(page, 'account-password-new').first().fill(next);
      await tid(page, 'account-password-repeat').first().fill(next);
      check((await tid(page, 'account-password-current').first().inputValue()) === who.password, 'the current password did not go into its field');
      await tid(page, 'account-password-save').first().click();
      await waitUntil('the sign-in page saying why', async () => {
        await h.failOnError(page, 'account-password-save');
        return (await tid(page, 'login-notice').count()) > 0;
      });
      await api.must(200, 'POST', '/login', '', { user: who.name, password: next });
      await api.must(401, 'POST', '/login', '', { user: who.name, password: who.password });
      did('change a password');
    });
  });

  await scenario('the deployments list, filtered', ['action: cancel a deployment'], async () => {
    const page = await people.developer.page();
    await step(page, 'the deployments screen: filter by state cancelled, the address keeps it', async () => {
      await (await visible(page, 'nav-deployments')).click();
      await visible(page, 'deployments-table');
      await tid(page, 'deployments-filter-state').first().selectOption('cancelled');
      const want = (await api.must(200, 'GET', '/deployments?state=cancelled', tok.dev)).total;
      check(want > 0, 'no deployment was cancelled');
      await waitUntil(`${want} cancelled rows and nothing else`, async () => {
        const states = await page.locator('[data-testid^="deployment-row-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
        return states.length === want && states.every((x) => x === 'cancelled');
      });
      check(page.url().includes('state=cancelled'), `the address ${page.url()} lost the filter`);
      await art.shot(page, 'deployments-cancelled');
    });
  });

  await scenario('action: send a test message to a channel', [], async () => {
    const page = await people.admin.page();
    const name = 'e2e-hook';
    const secret = `e2e-${crypto.randomBytes(12).toString('hex')}`;
    const secretFile = path.resolve(cfg.artifacts, 'e2e-hook.secret');
    fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    // A receiver of the generic webhook on this machine: it checks each
    // request's signature as docs/api.md tells a receiver to, and answers
    // 200 to a signed one. It stays up for the rest of the run (unref'd),
    // so the channel never shows a failure the Chinese walk would read.
    const got = [];
    const receiver = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const ts = String(req.headers['x-releasedesk-timestamp'] ?? '');
        const want = `sha256=${crypto.createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex')}`;
        const signed = req.headers['x-releasedesk-signature'] === want;
        got.push({ event: req.headers['x-releasedesk-event'], signed });
        res.writeHead(signed ? 200 : 401, { 'Content-Type': 'application/json' });
        res.end(signed ? '{"ok":true}' : '{"error":"bad signature"}');
      });
    });
    await new Promise((resolve, reject) => receiver.once('error', reject).listen(0, '127.0.0.1', resolve));
    receiver.unref();
    const url = `http://127.0.0.1:${receiver.address().port}/hooks/e2e`;
    await step(page, `a webhook channel ${name} to that receiver, configured by the API`, async () => {
      const doc = structuredClone((await api.must(200, 'GET', `/projects/${P}`, tok.admin)).project.config);
      // Told only of drift found: the test message is the one under test.
      doc.notify = [...(doc.notify ?? []).filter((c) => c.name !== name),
        { name, kind: 'webhook', url, secret: { from_file: secretFile }, events: ['drift.found'] }];
      await api.must(200, 'PUT', `/projects/${P}`, tok.admin, doc);
    });
    await step(page, `send ${name} a test message from the project page: sent, signed, and shown as its last message`, async () => {
      await open(page, `#/projects/${P}`, `channel-test-${name}`);
      check((await tid(page, `channel-${name}`).first().getAttribute('data-state')) === 'none', `${name} shows a message before any was sent`);
      await tid(page, `channel-test-${name}`).first().click();
      await waitUntil(`the test's outcome on ${name}`, async () => {
        await h.failOnError(page, `channel-test-${name}`);
        return (await tid(page, `channel-test-result-${name}`).count()) > 0;
      });
      const state = await tid(page, `channel-test-result-${name}`).first().getAttribute('data-state');
      check(state === 'sent', `the test message shows ${state}, want sent: ${await tid(page, `channel-test-result-${name}`).first().innerText()}`);
      check(got.some((g) => g.event === 'channel.test' && g.signed), `the receiver took no signed test message: ${JSON.stringify(got)}`);
      await waitUntil(`${name}'s last message shown as sent`, async () =>
        (await tid(page, `channel-last-${name}`).first().getAttribute('data-state')) === 'sent');
      const ch = ((await api.must(200, 'GET', `/projects/${P}`, tok.admin)).channels ?? []).find((c) => c.name === name);
      check(ch?.last?.trigger === 'channel.test' && ch.last.by === U.admin.name && ch.last.state === 'sent',
        `the API shows ${name}'s last message as ${JSON.stringify(ch?.last)}`);
      await art.shot(page, 'channel-test-sent');
      did('send a test message');
    });
  });

  await scenario('action: switch the language', [], async () => {
    const page = await people.tester.page();
    await step(page, 'the tester switches to 简体中文 and back; each choice is saved with the user', async () => {
      for (const lang of ['zh-CN', 'en']) {
        const sw = await visible(page, 'language-switch');
        await Promise.all([page.waitForEvent('load'), sw.selectOption(lang)]);
        const me = await api.must(200, 'GET', '/me', tok.tess);
        check(me.language === lang || me.user?.language === lang, `GET /me says ${JSON.stringify(me).slice(0, 200)}, want ${lang}`);
      }
      did('switch the language');
    });
  });

  console.log(`    actions clicked, each checked through the API: ${clicked.join('; ')}`);
  return clicked;
}
