// Desktop notifications, in the desktop window only: when something new
// waits for the signed-in user (their inbox gains an item), the page asks
// the window to show it on the desktop, in the user's language. The window
// (app/window) only shows what it is given; which items are new and what
// they say is decided here. In a browser nothing of this runs: a tab has
// the header's count, and the browser's own notifications would need a
// permission prompt for little gain.
//
// Each user can turn them off on My account; the choice is kept in this
// machine's storage (the window is one person's desktop), on by default.

import { get } from 'svelte/store';
import { _, t } from '../i18n';
import type { InboxItem } from './inbox.svelte';

/** The Wails event asking the window for a notification (app/window.NotifyEventName): title, body. */
export const NOTIFY_EVENT = 'releasedesk:notify';

/** At most this many new items get a notification each; more get one that counts them. */
export const MAX_SEPARATE = 3;

/** The longest note shown under an item (a deployment's error can be pages). */
const MAX_NOTE = 200;

/** What the window shows: a line that says what waits, and where it is. */
export interface DeskNote {
  title: string;
  body: string;
}

interface WailsEmitter {
  EventsEmit(name: string, ...data: unknown[]): void;
}

/** The Wails runtime's event emitter when the page runs inside the window, else null. */
export function windowEmitter(): WailsEmitter | null {
  const rt = (globalThis as { runtime?: Partial<WailsEmitter> }).runtime;
  return rt && typeof rt.EventsEmit === 'function' ? (rt as WailsEmitter) : null;
}

/** Whether the page runs inside the desktop window (where the setting means something). */
export function inWindow(): boolean {
  return windowEmitter() !== null;
}

/**
 * An item's identity across loads: what is to be done, on which release,
 * environment and deployment. Not `since`: a release's "since" is its
 * last update, which moves while the same thing still waits.
 */
export function itemKey(it: InboxItem): string {
  return [it.kind, it.project, it.release ?? '', it.environment ?? '', it.deployment ?? ''].join('\u0000');
}

/**
 * Tells which items of each load are new to the user: those the previous
 * load of the same user did not hold. The first load after sign-in (or of
 * another user) is the baseline: everything in it was there before, so it
 * pops nothing. An item that left and comes back (a release sent back a
 * second time) is new again.
 */
export class NewItems {
  #user: string | null = null;
  #seen: Set<string> | null = null;

  next(user: string, items: readonly InboxItem[]): InboxItem[] {
    const keys = new Set(items.map(itemKey));
    const seen = this.#user === user ? this.#seen : null;
    this.#user = user;
    this.#seen = keys;
    if (!seen) return [];
    return items.filter((it) => !seen.has(itemKey(it)));
  }

  /** Forgets the baseline: signed out, or the inbox is loading afresh. */
  reset(): void {
    this.#user = null;
    this.#seen = null;
  }
}

/** A message of the catalog, or fallback when the catalog has none (a state it does not know). */
function orElse(key: string, fallback: string, values?: Record<string, string | number>): string {
  const s = get(_)(key, values ? { values } : undefined);
  return s === key ? fallback : s;
}

/** What an item asks for, as the inbox screen says it: "Test release 4 on test". */
export function itemWhat(it: InboxItem): string {
  const state = orElse(`common.state.${it.state}`, it.state);
  return orElse(`inbox.kind.${it.kind}`, it.kind, {
    release: it.release ?? '',
    env: it.environment ?? '',
    deployment: it.deployment ?? '',
    state,
  });
}

/** The notification for one item: what waits as the title; the project, release title, who handed it over and their note below. */
export function noteFor(it: InboxItem): DeskNote {
  const line = [it.project, it.title, it.by ? t('inbox.by', { user: it.by }) : ''].filter(Boolean).join(' · ');
  const note = (it.note ?? '').trim();
  const cut = [...note].length > MAX_NOTE ? [...note].slice(0, MAX_NOTE - 1).join('') + '…' : note;
  return { title: itemWhat(it), body: cut ? `${line}\n${cut}` : line };
}

/** The notifications for new items: one each for a few, one counting them for more (a desktop buried in popups helps nobody). */
export function notesFor(items: readonly InboxItem[]): DeskNote[] {
  if (items.length <= MAX_SEPARATE) return items.map(noteFor);
  const lines = items.slice(0, MAX_SEPARATE).map(itemWhat);
  lines.push(t('inbox.notify.more', { n: items.length - MAX_SEPARATE }));
  return [{ title: t('inbox.notify.many', { n: items.length }), body: lines.join('\n') }];
}

const PREF_PREFIX = 'releasedesk.desknotify.';

type Prefs = Pick<Storage, 'getItem' | 'setItem'>;

function storage(): Prefs | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled
  }
}

/** Whether user wants desktop notifications on this machine: yes unless they turned them off. */
export function desktopNotifyOn(user: string, prefs: Prefs | null = storage()): boolean {
  try {
    return prefs?.getItem(PREF_PREFIX + user) !== 'off';
  } catch {
    return true;
  }
}

/** Keeps user's choice on this machine; with storage disabled it lasts as long as the page. */
export function setDesktopNotify(user: string, on: boolean, prefs: Prefs | null = storage()): void {
  try {
    prefs?.setItem(PREF_PREFIX + user, on ? 'on' : 'off');
  } catch {
    // storage disabled or full: nothing to keep it in
  }
}

export interface DesktopNoticesOptions {
  /** Injection points for tests: the window's emitter (default: Wails' runtime) and the storage of the choice. */
  emitter?: WailsEmitter | null;
  prefs?: Prefs | null;
}

/**
 * Follows the user's inbox and asks the window for a notification for each
 * new item. App.svelte calls observe whenever the inbox or the session
 * changes; calling it again with the same items asks for nothing.
 */
export class DesktopNotices {
  readonly #items = new NewItems();
  readonly #opts: DesktopNoticesOptions;

  constructor(opts: DesktopNoticesOptions = {}) {
    this.#opts = opts;
  }

  /**
   * user: who is signed in (undefined when nobody, or offline review);
   * items: their inbox as last loaded (null until it is). Returns what was
   * sent to the window.
   */
  observe(user: string | undefined, items: readonly InboxItem[] | null): DeskNote[] {
    const emitter = this.#opts.emitter !== undefined ? this.#opts.emitter : windowEmitter();
    if (!emitter || !user || !items) {
      this.#items.reset();
      return [];
    }
    // The baseline moves on even while they are off: turning them on later
    // does not pop what came meanwhile.
    const fresh = this.#items.next(user, items);
    const prefs = this.#opts.prefs !== undefined ? this.#opts.prefs : storage();
    if (fresh.length === 0 || !desktopNotifyOn(user, prefs)) return [];
    const notes = notesFor(fresh);
    for (const n of notes) {
      try {
        emitter.EventsEmit(NOTIFY_EVENT, n.title, n.body);
      } catch (err) {
        console.warn('desktop notification not sent to the window', err);
      }
    }
    return notes;
  }
}
