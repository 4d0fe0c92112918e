// Messages with markup inside them (a link, a <code>, a <Time>): the two
// languages put a sentence's values in different places, so a component
// never glues translated fragments in English order. It formats the
// message with slot(name) as the value of each placeholder that is markup,
// then renders messageParts(message), each slot as its markup, where the
// language put it. around() is the common case of one such placeholder.

import { t } from './index';

// A Unicode private-use character: in no catalog, and nothing people type.
const MARK = '\uE000';

/** One piece of a message cut at its slots: text, or the name of a slot where markup goes. */
export type MessagePart = { text: string; slot?: undefined } | { slot: string; text?: undefined };

/** The value that stands for the placeholder name, to be drawn as markup. */
export function slot(name: string): string {
  return `${MARK}${name}${MARK}`;
}

/** A formatted message cut at its slots, in the message's order; empty text is left out. */
export function messageParts(message: string): MessagePart[] {
  return message
    .split(MARK)
    .map((s, i): MessagePart => (i % 2 === 1 ? { slot: s } : { text: s }))
    .filter((p) => p.slot !== undefined || p.text !== '');
}

/**
 * The message key with its placeholder name drawn as markup: the text
 * before the markup and after it (other values as given).
 */
export function around(key: string, name: string, values: Record<string, string | number> = {}): [string, string] {
  const message = t(key, { ...values, [name]: slot(name) });
  const [before = '', , after = ''] = message.split(MARK);
  return [before, after];
}
