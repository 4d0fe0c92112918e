import { afterEach, describe, expect, it } from 'vitest';
import { get } from 'svelte/store';
import { locale } from '../i18n';
import { catalogs } from '../i18n';
import {
  answerLine,
  CHANNEL_KINDS,
  deliveryStateLabel,
  deliveryTone,
  environmentsLine,
  eventsLine,
  kindLabel,
  recentLine,
  recipientsLine,
  secretLine,
  urlFromLine,
  showsAnswer,
  testOutcome,
  triggerLabel,
  TRIGGERS,
} from './notifications';
import type { Delivery } from './types';

function delivery(over: Partial<Delivery>): Delivery {
  return {
    id: 'd1',
    position: 0,
    trigger: 'channel.test',
    project: 'shop',
    channel: 'ops',
    kind: 'webhook',
    recipients: ['root'],
    state: 'sent',
    attempts: 1,
    first: '2026-11-26T10:02:00Z',
    last: '2026-11-26T10:02:00Z',
    by: 'root',
    latency_ms: 41,
    ...over,
  };
}

afterEach(() => locale.set('en'));

describe('kinds and triggers in words', () => {
  it('names every kind of channel by its vendor, in Chinese too', () => {
    expect(CHANNEL_KINDS.map(kindLabel)).toEqual(['DingTalk', 'WeCom', 'Feishu', 'Slack', 'Webhook', 'Email']);
    locale.set('zh-CN');
    expect(['dingtalk', 'wecom', 'feishu'].map(kindLabel)).toEqual(['钉钉', '企业微信', '飞书']);
    expect(kindLabel('email')).toBe('邮件');
  });

  it('says every trigger in human words in both languages, never as its id', () => {
    for (const lang of ['en', 'zh-CN']) {
      locale.set(lang);
      const words = TRIGGERS.map(triggerLabel);
      words.forEach((w, i) => expect(w, `${lang} ${TRIGGERS[i]}`).not.toBe(TRIGGERS[i]));
      expect(new Set(words).size, `${lang}: two triggers read the same`).toBe(TRIGGERS.length);
    }
    locale.set('en');
    expect(triggerLabel('approval.needed')).toBe('Waiting for approval');
    expect(triggerLabel('channel.test')).toBe('Test message');
    locale.set('zh-CN');
    expect(triggerLabel('approval.needed')).toBe('等待审批');
  });

  it('has a catalog entry for each trigger and kind (and nothing else under them)', () => {
    const en = catalogs().en.notify as { trigger: Record<string, string>; kind: Record<string, string> };
    expect(Object.keys(en.trigger).sort()).toEqual(TRIGGERS.map((x) => x.replaceAll('.', '_')).sort());
    expect(Object.keys(en.kind).sort()).toEqual([...CHANNEL_KINDS].sort());
  });

  it('shows what it does not know as the server sent it', () => {
    expect(kindLabel('pager')).toBe('pager');
    expect(triggerLabel('release.exploded')).toBe('release.exploded');
    expect(deliveryStateLabel('lost')).toBe('lost');
    expect(get(locale)).toBe('en');
  });

  it('lists a channel\'s triggers and environments, all environments when it names none', () => {
    expect(eventsLine(['approval.needed', 'deployment.failed'])).toBe('Waiting for approval, Deployment failed');
    expect(environmentsLine([])).toBe('every environment');
    expect(environmentsLine(null)).toBe('every environment');
    expect(environmentsLine(['production'])).toBe('production');
  });
});

describe('a delivery', () => {
  it('is a badge: sent good, retrying waiting, failed bad', () => {
    expect(['sent', 'retrying', 'failed', 'other'].map(deliveryTone)).toEqual(['ok', 'degraded', 'error', 'idle']);
    expect(deliveryStateLabel('retrying')).toBe('retrying');
    locale.set('zh-CN');
    expect(deliveryStateLabel('failed')).toBe('失败');
  });

  it('names whom it called on', () => {
    expect(recipientsLine(['alice', 'bob'])).toBe('to alice, bob');
    expect(recipientsLine(null)).toBe('no one called on');
    locale.set('zh-CN');
    expect(recipientsLine(['alice'])).toBe('通知 alice');
  });

  it('says what the receiver answered: HTTP or SMTP, with the start of its words, or that none came', () => {
    expect(answerLine({ kind: 'dingtalk', status: 200, excerpt: '{"errcode":310000}' })).toBe('HTTP 200: {"errcode":310000}');
    expect(answerLine({ kind: 'email', status: 550, excerpt: '' })).toBe('SMTP 550');
    expect(answerLine({ kind: 'webhook' })).toBe('no answer');
    expect(showsAnswer({ state: 'sent' })).toBe(false);
    expect(showsAnswer({ state: 'failed' })).toBe(true);
    expect(showsAnswer({ state: 'retrying' })).toBe(true);
  });

  it('of a test message says in one sentence what became of it', () => {
    expect(testOutcome(delivery({ status: 200 }))).toBe('Test message sent: the receiver took it (HTTP 200, 41 ms).');
    expect(testOutcome(delivery({ state: 'failed', status: 500, error: 'the receiver answered HTTP 500' }))).toBe(
      'The test message was not delivered: the receiver answered HTTP 500',
    );
    // No error recorded: the answer says it.
    expect(testOutcome(delivery({ state: 'failed', status: 0 }))).toBe('The test message was not delivered: no answer');
  });
});

describe('a channel', () => {
  it('tells where its secret is read, never what it holds', () => {
    expect(secretLine({ source: 'file', name: '/etc/releasedesk/ding.secret' })).toBe('read from file /etc/releasedesk/ding.secret');
    expect(secretLine({ source: 'env', name: 'SMTP_PASSWORD' })).toBe('read from variable SMTP_PASSWORD');
    expect(secretLine(undefined)).toBe('none');
  });

  it('says where a URL that is its secret is read (url_from), never the URL', () => {
    expect(urlFromLine({ source: 'env', name: 'WECOM_URL' })).toBe('the URL in variable WECOM_URL');
    expect(urlFromLine({ source: 'file', name: '/etc/releasedesk/slack.url' })).toBe('the URL in file /etc/releasedesk/slack.url');
  });

  it('counts its latest messages, and says nothing before the first', () => {
    expect(recentLine({ sent: 11, retrying: 0, failed: 1 })).toBe('Latest 12: 11 sent, 0 retrying, 1 failed');
    expect(recentLine({ sent: 0, retrying: 0, failed: 0 })).toBe('');
  });
});
