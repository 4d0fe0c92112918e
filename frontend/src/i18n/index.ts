// The UI's two languages. Every string a person reads comes from the
// catalogs beside this file: src/i18n/<locale>/<namespace>.json, one
// namespace per screen or part (board.json holds "board.*"), the same keys
// in both languages (catalog.test.ts holds them to it). Messages are ICU
// MessageFormat: {name} for a value, {n, plural, ...} for counts.
//
// In a component: {$_('board.title')}, {$_('board.count', { values: { n } })}.
// In a .ts module: t('board.title'), read when called, not at import.
//
// The language is chosen once per page load: from the signed-in user's
// saved choice, else this browser's last choice, else its languages.
// Switching saves the choice and reloads, so every string, date and number
// on the page is rendered again in one language.

import { _, addMessages, init, locale } from 'svelte-i18n';
import { get } from 'svelte/store';

export { _, locale } from 'svelte-i18n';

/** The languages of the UI, the first being the fallback. */
export const LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];

/** Each language's name in itself, for the switch. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', 'zh-CN': '简体中文' };

const STORAGE_KEY = 'releasedesk.locale';
// The desktop window's machine language, taken for this window's life only:
// a choice nobody made must not outlive a change of the machine's language.
const MACHINE_KEY = 'releasedesk.locale.machine';

type Tree = { [key: string]: string | Tree };

/** Every catalog file, by locale then namespace (Vite reads them at build time). */
export function catalogs(): Record<Locale, Record<string, Tree>> {
  const files = import.meta.glob<Tree>('./*/*.json', { eager: true, import: 'default' });
  const out = Object.fromEntries(LOCALES.map((l) => [l, {}])) as Record<Locale, Record<string, Tree>>;
  for (const [path, tree] of Object.entries(files)) {
    const m = /^\.\/([^/]+)\/([^/]+)\.json$/.exec(path);
    const l = m?.[1] as Locale | undefined;
    if (!m?.[2] || !l || !(l in out)) continue;
    out[l][m[2]] = tree;
  }
  return out;
}

/** The UI's locale for a BCP 47 tag: any Chinese is zh-CN, anything else English. */
export function pickLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null;
  const t = tag.toLowerCase();
  if (t === 'zh' || t.startsWith('zh-') || t.startsWith('zh_')) return 'zh-CN';
  if (t === 'en' || t.startsWith('en-') || t.startsWith('en_')) return 'en';
  return null;
}

/** The language this browser last chose, if any. */
export function storedLocale(): Locale | null {
  return pickLocale(read('localStorage', STORAGE_KEY));
}

/** A key of the page's local or session storage; null when absent or disabled. */
function read(kind: 'localStorage' | 'sessionStorage', key: string): string | null {
  try {
    return globalThis[kind]?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

/** The browser's first language the UI has, else English. */
export function browserLocale(languages: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages): Locale {
  for (const l of languages) {
    const p = pickLocale(l);
    if (p) return p;
  }
  return 'en';
}

let ready = false;

/** Loads the catalogs and sets the language; main.ts calls it before mounting. */
export function setupI18n(initial?: string | null): Locale {
  if (!ready) {
    for (const [l, tree] of Object.entries(catalogs())) addMessages(l, tree);
    ready = true;
  }
  const chosen = pickLocale(initial) ?? storedLocale() ?? pickLocale(read('sessionStorage', MACHINE_KEY)) ?? browserLocale();
  init({ fallbackLocale: 'en', initialLocale: chosen });
  setDocumentLanguage(chosen);
  return chosen;
}

function setDocumentLanguage(l: Locale): void {
  if (typeof document !== 'undefined') document.documentElement.lang = l;
}

/** The language the page shows now. */
export function currentLocale(): Locale {
  return pickLocale(get(locale)) ?? 'en';
}

/**
 * Shows the page in l: when it differs from the page's language, keeps it
 * and reloads (when reload is given; tests pass none and get the store
 * switched in place). A person's choice is kept for this browser; the
 * machine's language (chosen: false) only for this window's life.
 * Returns whether it changed.
 */
export function switchLocale(l: Locale, reload?: () => void, chosen = true): boolean {
  try {
    if (chosen) localStorage.setItem(STORAGE_KEY, l);
    else sessionStorage.setItem(MACHINE_KEY, l);
  } catch {
    // storage disabled: the choice lasts as long as the page
  }
  if (currentLocale() === l) return false;
  if (reload) reload();
  else {
    locale.set(l);
    setDocumentLanguage(l);
  }
  return true;
}

/** A message for .ts code, in the page's language, read when called. */
export function t(key: string, values?: Record<string, string | number | boolean | Date | null | undefined>): string {
  return get(_)(key, values ? { values } : undefined);
}
