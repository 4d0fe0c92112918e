import { describe, expect, it, vi } from 'vitest';
import { browserLocale, catalogs, currentLocale, LOCALES, pickLocale, storedLocale, switchLocale } from './index';

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

/** The names of a message's arguments: {name}, {n, plural, ...}, {t, date}. */
function placeholders(msg: string): string[] {
  const names = new Set<string>();
  for (const m of msg.matchAll(/\{\s*([A-Za-z_][\w]*)\s*[,}]/g)) if (m[1]) names.add(m[1]);
  return [...names].sort();
}

describe('the catalogs', () => {
  const all = catalogs();
  const flat = Object.fromEntries(LOCALES.map((l) => [l, flatten(all[l] as Tree)])) as Record<string, Map<string, string>>;

  it('hold strings for every namespace in both languages', () => {
    expect(Object.keys(all.en).sort()).toEqual(Object.keys(all['zh-CN']).sort());
    expect(flat.en!.size).toBeGreaterThan(0);
  });

  it('hold the same keys in both languages', () => {
    const en = [...flat.en!.keys()].sort();
    const zh = [...flat['zh-CN']!.keys()].sort();
    expect(zh.filter((k) => !flat.en!.has(k)), 'keys only in zh-CN').toEqual([]);
    expect(en.filter((k) => !flat['zh-CN']!.has(k)), 'keys only in en').toEqual([]);
  });

  it('hold the same placeholders in both languages, and no empty message', () => {
    const problems: string[] = [];
    for (const [k, en] of flat.en!) {
      const zh = flat['zh-CN']!.get(k) ?? '';
      if (en.trim() === '' || zh.trim() === '') problems.push(`${k}: empty`);
      if (placeholders(en).join() !== placeholders(zh).join())
        problems.push(`${k}: en {${placeholders(en).join(', ')}} vs zh-CN {${placeholders(zh).join(', ')}}`);
    }
    expect(problems).toEqual([]);
  });

  it('are translated: a zh-CN message with letters holds Chinese too, unless it is a name or a code', () => {
    const untranslated = [...flat['zh-CN']!].filter(
      ([k, v]) => /[A-Za-z]{4,}/.test(v.replace(/\{[^}]*\}/g, '')) && !/[\u4e00-\u9fff]/.test(v) && v === flat.en!.get(k),
    );
    // Proper names and technical words may stay as they are; they are listed here on purpose.
    const allowed = new Set(['common.app_name', 'common.language.en', 'notify.kind.slack']);
    expect(untranslated.filter(([k]) => !allowed.has(k)).map(([k]) => k)).toEqual([]);
  });
});

describe('picking a language', () => {
  it('takes any Chinese as zh-CN and any English as en, else nothing', () => {
    expect(pickLocale('zh')).toBe('zh-CN');
    expect(pickLocale('zh-TW')).toBe('zh-CN');
    expect(pickLocale('zh_CN')).toBe('zh-CN');
    expect(pickLocale('en-GB')).toBe('en');
    expect(pickLocale('fr')).toBeNull();
    expect(pickLocale('')).toBeNull();
  });

  it('follows the browser: the first language the UI has, else English', () => {
    expect(browserLocale(['fr-FR', 'zh-CN', 'en'])).toBe('zh-CN');
    expect(browserLocale(['de'])).toBe('en');
    expect(browserLocale([])).toBe('en');
  });
});

describe('switching', () => {
  const store = (m: Map<string, string>) => ({
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  });

  it("keeps a person's choice for the browser, and the machine's language only for the window's life", () => {
    const local = new Map<string, string>();
    const session = new Map<string, string>();
    vi.stubGlobal('localStorage', store(local));
    vi.stubGlobal('sessionStorage', store(session));
    expect(switchLocale('zh-CN', undefined, false)).toBe(true);
    expect(storedLocale()).toBeNull();
    expect(session.get('releasedesk.locale.machine')).toBe('zh-CN');
    expect(currentLocale()).toBe('zh-CN');
    expect(switchLocale('en')).toBe(true);
    expect(storedLocale()).toBe('en');
    expect(currentLocale()).toBe('en');
    expect(switchLocale('en')).toBe(false);
  });
});
