// Helpers for the end-to-end runner: waiting with clear messages,
// screenshots, the contract's test ids, and a small CSV reader.
// Elements are found by data-testid (frontend/TESTIDS.md) and, where the
// contract has no id, by visible text or role.

import fs from 'node:fs';
import path from 'node:path';

/** How long a screen gets to show something, and a deployment to finish. */
export const UI_TIMEOUT = Number(process.env.RD_UI_TIMEOUT_MS || 15000);
export const DEPLOY_TIMEOUT = Number(process.env.RD_DEPLOY_TIMEOUT_MS || 120000);

export class StepError extends Error {}

/** The element with data-testid id (exact). */
export function tid(page, id) {
  return page.getByTestId(id, { exact: true });
}

/** A CSS selector for a data-testid value, quoted for any characters. */
export function sel(id) {
  return `[data-testid=${JSON.stringify(id)}]`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls check() until it returns a truthy value, and returns it. check may
 * throw (treated as "not yet"). On timeout the error names what was
 * awaited and what was last seen (describe() or the last error).
 */
export async function waitUntil(what, check, { timeout = UI_TIMEOUT, interval = 100, seen } = {}) {
  const deadline = Date.now() + timeout;
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = '';
    } catch (err) {
      last = String(err?.message ?? err).split('\n')[0];
    }
    if (Date.now() > deadline) {
      let now = last;
      if (seen) {
        try {
          now = await seen();
        } catch (err) {
          now = `(${String(err?.message ?? err).split('\n')[0]})`;
        }
      }
      throw new StepError(`timed out after ${Math.round(timeout / 1000)} s waiting for ${what}${now ? `; it shows: ${now}` : ''}`);
    }
    await sleep(interval);
  }
}

/** The visible text of the first element with the test id, or null if there is none. */
export async function textOf(page, id) {
  const l = tid(page, id);
  if ((await l.count()) === 0) return null;
  return ((await l.first().innerText({ timeout: 2000 })) || '').trim();
}

/** Waits for the test id to be visible. */
export async function visible(page, id, timeout = UI_TIMEOUT) {
  await waitUntil(`[data-testid="${id}"] to be visible`, async () => (await tid(page, id).count()) > 0 && tid(page, id).first().isVisible(), {
    timeout,
    seen: async () => `${await tid(page, id).count()} such element(s) on ${page.url()}`,
  });
  return tid(page, id).first();
}

/** Waits for the test id's text to match re (a RegExp or a substring). */
export async function showsText(page, id, re, timeout = UI_TIMEOUT) {
  const test = (s) => (re instanceof RegExp ? re.test(s) : s.includes(re));
  return waitUntil(`[data-testid="${id}"] to show ${re}`, async () => {
    const s = await textOf(page, id);
    return s !== null && test(s) ? s : false;
  }, { timeout, seen: async () => JSON.stringify(await textOf(page, id)) ?? 'no such element' });
}

/** Waits for an attribute of the test id to equal value. */
export async function hasAttr(page, id, name, value, timeout = UI_TIMEOUT) {
  return waitUntil(`[data-testid="${id}"] ${name}="${value}"`, async () => {
    const l = tid(page, id);
    return (await l.count()) > 0 && (await l.first().getAttribute(name)) === value;
  }, {
    timeout,
    seen: async () => {
      const l = tid(page, id);
      return (await l.count()) === 0 ? 'no such element' : `${name}=${JSON.stringify(await l.first().getAttribute(name))}`;
    },
  });
}

/** Fails unless no element with the test id is shown. */
export async function absent(page, id, why) {
  const l = tid(page, id);
  const n = await l.count();
  for (let i = 0; i < n; i++) {
    if (await l.nth(i).isVisible()) throw new StepError(`[data-testid="${id}"] is offered but must not be: ${why}`);
  }
}

/** Every data-testid on the page that starts with prefix. */
export async function testIds(page, prefix) {
  return page.locator(`[data-testid^=${JSON.stringify(prefix)}]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')));
}

/** Sets a select to value (by value or label), or fills an input. */
export async function choose(page, id, value) {
  const el = await visible(page, id);
  const tag = await el.evaluate((e) => e.tagName);
  if (tag === 'SELECT') {
    await waitUntil(`[data-testid="${id}"] to offer ${value}`, async () =>
      el.evaluate((e, v) => [...e.options].some((o) => o.value === v || o.textContent.trim() === v), value),
      { seen: async () => el.evaluate((e) => [...e.options].map((o) => o.value).join(', ')) });
    const byValue = await el.evaluate((e, v) => [...e.options].some((o) => o.value === v), value);
    await el.selectOption(byValue ? { value } : { label: value });
  } else {
    await el.fill(value);
  }
}

export class Artifacts {
  constructor(dir) {
    this.dir = dir;
    this.shots = [];
    fs.mkdirSync(dir, { recursive: true });
  }

  path(name) {
    return path.join(this.dir, name);
  }

  /** A full-page screenshot; never fails the step (a broken page still gets its report). */
  async shot(page, name) {
    const file = `${name}.png`;
    try {
      await page.screenshot({ path: this.path(file), fullPage: true, timeout: 10000 });
      this.shots.push(file);
    } catch (err) {
      console.log(`  (screenshot ${file} failed: ${String(err?.message ?? err).split('\n')[0]})`);
    }
    return file;
  }
}

/** RFC 4180 CSV: rows of fields (quotes, doubled quotes, newlines in quotes). */
export function parseCSV(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
