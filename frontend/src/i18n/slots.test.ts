import { describe, expect, it } from 'vitest';
import { around, messageParts, slot } from './slots';
import { locale, t } from './index';

describe('slots', () => {
  it('cut a message at its slots, in the message\'s own order', () => {
    expect(messageParts(`Since ${slot('from')}, version ${slot('version')} up to ${slot('to')}.`)).toEqual([
      { text: 'Since ' },
      { slot: 'from' },
      { text: ', version ' },
      { slot: 'version' },
      { text: ' up to ' },
      { slot: 'to' },
      { text: '.' },
    ]);
    expect(messageParts(`从 ${slot('from')} 到 ${slot('to')}`)).toEqual([
      { text: '从 ' },
      { slot: 'from' },
      { text: ' 到 ' },
      { slot: 'to' },
    ]);
    expect(messageParts('plain')).toEqual([{ text: 'plain' }]);
  });

  it('give the text around one slot of a catalog message', () => {
    expect(around('app.readonly_banner', 'reason')).toEqual(['Read-only: ', '']);
    expect(t('app.readonly_banner', { reason: 'x' })).toBe('Read-only: x');
  });

  it('follow each language\'s order: a rollback names the current version first in Chinese', () => {
    const values = { env: slot('env'), version: slot('version'), commit: slot('commit'), current: slot('current') };
    const order = () =>
      messageParts(t('versions.rollback.goes_back_from', { ...values, has_release: 'yes', release: 'R-7' }))
        .filter((p) => p.slot)
        .map((p) => p.slot);
    expect(order()).toEqual(['env', 'version', 'commit', 'current']);
    locale.set('zh-CN');
    try {
      expect(order()).toEqual(['env', 'current', 'version', 'commit']);
    } finally {
      locale.set('en');
    }
  });
});
