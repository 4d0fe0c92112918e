import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DesktopNotices,
  MAX_SEPARATE,
  NOTIFY_EVENT,
  NewItems,
  desktopNotifyOn,
  inWindow,
  itemWhat,
  noteFor,
  notesFor,
  setDesktopNotify,
} from './desknotify';
import { switchLocale } from '../i18n';
import type { InboxItem } from './inbox.svelte';

const test4: InboxItem = {
  kind: 'test',
  project: 'shop',
  release: '4',
  title: 'New checkout',
  environment: 'test',
  state: 'testing',
  since: '2026-12-06T10:00:00Z',
  by: 'dev',
  link: '#/releases/4',
};
const approve5: InboxItem = { kind: 'approve', project: 'shop', release: '5', title: 'Faster search', state: 'tested', since: '2026-12-06T10:01:00Z', by: 'tess', link: '#/releases/5' };
const failedD7: InboxItem = {
  kind: 'failed_deployment',
  project: 'shop',
  release: '6',
  environment: 'production',
  deployment: 'd7',
  state: 'failed',
  since: '2026-12-06T10:02:00Z',
  note: 'rsync: connection refused\n' + 'x'.repeat(500),
  link: '#/deployments/d7',
};
const accept8: InboxItem = { kind: 'accept', project: 'blog', release: '8', title: 'Comments', state: 'live', since: '2026-12-06T10:03:00Z', link: '#/releases/8' };
const rework9: InboxItem = { kind: 'rework', project: 'blog', release: '9', title: 'RSS', state: 'open', since: '2026-12-06T10:04:00Z', by: 'alice', note: 'dates are wrong', link: '#/releases/9' };

function memory(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: () => null,
    get length() {
      return m.size;
    },
  };
}

afterEach(() => {
  switchLocale('en');
});

describe('which inbox items are new', () => {
  it('none on the first load after sign-in: what was there before pops nothing', () => {
    const n = new NewItems();
    expect(n.next('tess', [test4, approve5])).toEqual([]);
  });

  it('those the last load did not hold, by what waits and where, not by when', () => {
    const n = new NewItems();
    n.next('tess', [test4]);
    expect(n.next('tess', [test4, approve5])).toEqual([approve5]);
    expect(n.next('tess', [test4, approve5])).toEqual([]);
    // The same release waiting since a later update is the same item.
    expect(n.next('tess', [{ ...test4, since: '2026-12-06T11:00:00Z' }, approve5])).toEqual([]);
    // On another environment it is another test to do.
    const onStaging = { ...test4, environment: 'staging' };
    expect(n.next('tess', [onStaging, approve5])).toEqual([onStaging]);
  });

  it('an item that left and came back is new again (a release sent back twice)', () => {
    const n = new NewItems();
    n.next('dev', [rework9]);
    expect(n.next('dev', [])).toEqual([]);
    expect(n.next('dev', [rework9])).toEqual([rework9]);
  });

  it('starts over for another user, and after a reset', () => {
    const n = new NewItems();
    n.next('tess', []);
    expect(n.next('alice', [approve5])).toEqual([]);
    n.reset();
    expect(n.next('alice', [approve5, accept8])).toEqual([]);
    expect(n.next('alice', [approve5, accept8, test4])).toEqual([test4]);
  });
});

describe('what a notification says', () => {
  it('what waits as the title, as the inbox screen says it; project, title and who below', () => {
    expect(noteFor(test4)).toEqual({ title: 'Test release 4 on test', body: 'shop · New checkout · by dev' });
    expect(noteFor(approve5).title).toBe('Approve release 5');
    expect(noteFor(accept8)).toEqual({ title: 'Accept release 8 (live)', body: 'blog · Comments' });
    expect(noteFor(rework9)).toEqual({ title: 'Rework release 9: it was sent back', body: 'blog · RSS · by alice\ndates are wrong' });
  });

  it("a failed deployment with its state in words and its error cut short", () => {
    const n = noteFor(failedD7);
    expect(n.title).toBe(itemWhat(failedD7));
    expect(n.title).toContain('d7');
    expect(n.title).toContain('production');
    expect(n.title).not.toContain('inbox.kind');
    const [line, note] = n.body.split('\n');
    expect(line).toBe('shop');
    expect(note).toBe('rsync: connection refused');
    expect([...n.body].length).toBeLessThanOrEqual('shop\n'.length + 200);
    expect(n.body.endsWith('…')).toBe(true);
  });

  it("a kind or state the catalog does not know is shown as it is, not as a key", () => {
    expect(itemWhat({ ...approve5, kind: 'sign_off' })).toBe('sign_off');
    expect(itemWhat({ ...failedD7, state: 'exploded' })).toContain('exploded');
  });

  it('in the user\'s language', () => {
    switchLocale('zh-CN');
    expect(noteFor(test4)).toEqual({ title: '测试发布单 4（环境 test）', body: 'shop · New checkout · 来自 dev' });
    expect(notesFor([test4, approve5, accept8, rework9])[0]?.title).toBe('有 4 项新事项待你处理');
  });

  it(`one each for up to ${MAX_SEPARATE}, then one that counts them`, () => {
    expect(notesFor([test4, approve5, accept8]).map((n) => n.title)).toEqual([
      'Test release 4 on test',
      'Approve release 5',
      'Accept release 8 (live)',
    ]);
    const many = notesFor([test4, approve5, accept8, rework9, failedD7]);
    expect(many).toHaveLength(1);
    expect(many[0]?.title).toBe('5 new things wait for you');
    expect(many[0]?.body.split('\n')).toEqual(['Test release 4 on test', 'Approve release 5', 'Accept release 8 (live)', '…and 2 more']);
  });
});

describe('the setting', () => {
  it('is on until the user turns it off, per user on this machine', () => {
    const prefs = memory();
    expect(desktopNotifyOn('tess', prefs)).toBe(true);
    setDesktopNotify('tess', false, prefs);
    expect(desktopNotifyOn('tess', prefs)).toBe(false);
    expect(desktopNotifyOn('alice', prefs)).toBe(true);
    setDesktopNotify('tess', true, prefs);
    expect(desktopNotifyOn('tess', prefs)).toBe(true);
  });

  it('is on when storage is disabled', () => {
    const broken = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('SecurityError');
      },
    };
    expect(desktopNotifyOn('tess', broken)).toBe(true);
    expect(() => setDesktopNotify('tess', false, broken)).not.toThrow();
    expect(desktopNotifyOn('tess', null)).toBe(true);
  });
});

describe('asking the window', () => {
  it('emits the Wails event for new items only, not for the first load', () => {
    const emitter = { EventsEmit: vi.fn() };
    const notices = new DesktopNotices({ emitter, prefs: memory() });
    expect(notices.observe('tess', [test4])).toEqual([]);
    expect(notices.observe('tess', [test4])).toEqual([]);
    notices.observe('tess', [test4, approve5]);
    expect(emitter.EventsEmit.mock.calls).toEqual([[NOTIFY_EVENT, 'Approve release 5', 'shop · Faster search · by tess']]);
  });

  it('says nothing while the user turned them off, and does not pop the backlog when turned on', () => {
    const emitter = { EventsEmit: vi.fn() };
    const prefs = memory();
    const notices = new DesktopNotices({ emitter, prefs });
    notices.observe('tess', []);
    setDesktopNotify('tess', false, prefs);
    expect(notices.observe('tess', [test4])).toEqual([]);
    setDesktopNotify('tess', true, prefs);
    expect(notices.observe('tess', [test4])).toEqual([]);
    expect(notices.observe('tess', [test4, approve5])).toHaveLength(1);
    expect(emitter.EventsEmit).toHaveBeenCalledTimes(1);
  });

  it('starts over after signing out (no items) and in again', () => {
    const emitter = { EventsEmit: vi.fn() };
    const notices = new DesktopNotices({ emitter, prefs: memory() });
    notices.observe('tess', [test4]);
    notices.observe(undefined, null);
    expect(notices.observe('tess', [test4, approve5, accept8])).toEqual([]);
    expect(emitter.EventsEmit).not.toHaveBeenCalled();
  });

  it('does nothing in a browser', () => {
    const notices = new DesktopNotices({ emitter: null, prefs: memory() });
    notices.observe('tess', []);
    expect(notices.observe('tess', [test4])).toEqual([]);
  });

  it("finds the window by Wails' runtime, and survives its failure", () => {
    expect(inWindow()).toBe(false);
    const EventsEmit = vi.fn(() => {
      throw new Error('ipc closed');
    });
    vi.stubGlobal('runtime', { EventsEmit });
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(inWindow()).toBe(true);
    const notices = new DesktopNotices({ prefs: memory() });
    notices.observe('tess', []);
    expect(notices.observe('tess', [test4])).toHaveLength(1);
    expect(EventsEmit).toHaveBeenCalledWith(NOTIFY_EVENT, 'Test release 4 on test', 'shop · New checkout · by dev');
  });
});
