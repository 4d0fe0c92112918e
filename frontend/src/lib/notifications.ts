// Notifications in the UI's words: a channel's kind and a trigger in the
// reader's language, a delivery's state as a badge's tone, and the lines
// the project page (its channels) and the release page (its messages)
// show. The server sends ids ("dingtalk", "approval.needed", "failed");
// only these functions turn them into words.

import { t } from '../i18n';
import type { ChannelSecret, ChannelView, Delivery } from './types';

/** The kinds of channel (app/notify.Kinds), in the documentation's order. */
export const CHANNEL_KINDS = ['dingtalk', 'wecom', 'feishu', 'slack', 'webhook', 'email'] as const;

/** What a channel may be told of (app/notify.Triggers), then the admin's test message. */
export const TRIGGERS = [
  'release.opened',
  'test.needed',
  'test.failed',
  'approval.needed',
  'approved',
  'rejected',
  'deployment.started',
  'deployment.succeeded',
  'deployment.failed',
  'deployment.interrupted',
  'rollback.done',
  'acceptance.needed',
  'release.completed',
  'drift.found',
  'channel.test',
] as const;

/** The states a delivery ends an attempt in (projections.Delivery*). */
export const DELIVERY_STATES = ['sent', 'retrying', 'failed'] as const;

/** A badge's colour: the classes badge-ok, badge-degraded, badge-error, badge-idle. */
export type Tone = 'ok' | 'degraded' | 'error' | 'idle';

/** "DingTalk" / "钉钉"; a kind this UI does not know shows as itself. */
export function kindLabel(kind: string): string {
  return (CHANNEL_KINDS as readonly string[]).includes(kind) ? t(`notify.kind.${kind}`) : kind;
}

/** "Waiting for approval" / "等待审批"; a trigger this UI does not know shows as itself. */
export function triggerLabel(trigger: string): string {
  return (TRIGGERS as readonly string[]).includes(trigger) ? t(`notify.trigger.${trigger.replaceAll('.', '_')}`) : trigger;
}

/** A delivery's state as a badge: sent is good, retrying waits, failed gave up. */
export function deliveryTone(state: string): Tone {
  switch (state) {
    case 'sent':
      return 'ok';
    case 'retrying':
      return 'degraded';
    case 'failed':
      return 'error';
  }
  return 'idle';
}

/** "sent" / "已送达"; an unknown state shows as itself. */
export function deliveryStateLabel(state: string): string {
  return (DELIVERY_STATES as readonly string[]).includes(state) ? t(`notify.state.${state}`) : state;
}

/** "to alice, bob", or "no one called on". */
export function recipientsLine(recipients: readonly string[] | null | undefined): string {
  const names = recipients ?? [];
  return names.length > 0 ? t('notify.recipients', { names: names.join(t('common.list_separator')) }) : t('notify.no_recipients');
}

/** What the receiver answered: "HTTP 500: receiver down", "SMTP 550", or "no answer" when none came. */
export function answerLine(d: Pick<Delivery, 'kind' | 'status' | 'excerpt'>): string {
  if (!d.status) return t('notify.no_answer');
  const proto = d.kind === 'email' ? 'SMTP' : 'HTTP';
  const excerpt = (d.excerpt ?? '').trim();
  return excerpt ? t('notify.answer_excerpt', { proto, status: d.status, excerpt }) : t('notify.answer', { proto, status: d.status });
}

/** Whether a delivery's answer is worth showing: it did not go through (yet). */
export function showsAnswer(d: Pick<Delivery, 'state'>): boolean {
  return d.state !== 'sent';
}

/** The triggers a channel is told of, in words. */
export function eventsLine(events: readonly string[] | null | undefined): string {
  return (events ?? []).map(triggerLabel).join(t('common.list_separator'));
}

/** The environments a channel is kept to, or "every environment". */
export function environmentsLine(envs: readonly string[] | null | undefined): string {
  return envs && envs.length > 0 ? envs.join(t('common.list_separator')) : t('notify.all_environments');
}

/** Where a channel's secret is read: "read from file /etc/…", "read from variable SMTP_PASSWORD", or "none". */
export function secretLine(s: ChannelSecret | null | undefined): string {
  if (s?.source === 'file') return t('notify.secret.file', { name: s.name });
  if (s?.source === 'env') return t('notify.secret.env', { name: s.name });
  return t('notify.secret.none');
}

/** Where a URL that is itself the secret is read (url_from). */
export function urlFromLine(s: ChannelSecret): string {
  return s.source === 'file' ? t('notify.url_from.file', { name: s.name }) : t('notify.url_from.env', { name: s.name });
}

/** A message language's name: English, 简体中文. */
export function languageLabel(lang: string): string {
  return lang === 'en' || lang === 'zh-CN' ? t(`common.language.${lang}`) : lang;
}

/** "Latest 12: 11 sent, 0 retrying, 1 failed"; '' before the first message. */
export function recentLine(c: ChannelView['recent']): string {
  const total = c.sent + c.retrying + c.failed;
  return total > 0 ? t('notify.recent', { total, ...c }) : '';
}

/** What a test message did, in one sentence: sent with the answer and its time, or why not. */
export function testOutcome(d: Delivery): string {
  if (d.state === 'sent') return t('notify.channels.test_sent', { answer: answerLine(d), ms: d.latency_ms });
  return t('notify.channels.test_failed', { error: d.error || answerLine(d) });
}
