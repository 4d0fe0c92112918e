// What waits for the signed-in user (GET /api/v1/inbox), kept fresh from
// the live feed: the header shows its count on every screen, the inbox
// screen its items.

import { getInbox } from './api';
import { reloadOnLive, type LiveFeed } from './live.svelte';
import type { LiveMessage } from './types';
import type * as app from './wire/app';

export type InboxItem = app.InboxItem;

/** Whether a live batch can change anyone's inbox: a release or a deployment moved. */
export function inboxTouched(batch: LiveMessage[]): boolean {
  return batch.some(
    (m) => m.type.startsWith('release.') || m.type === 'deploy.succeeded' || m.type === 'deploy.failed' ||
      m.type === 'deploy.interrupted' || m.type === 'deploy.requested' || m.type === 'deploy.cancelled',
  );
}

export class Inbox {
  items = $state<InboxItem[]>([]);
  /** The last load's failure; the count then stays what it was. */
  error = $state<unknown>(null);
  loaded = $state(false);

  get count(): number {
    return this.items.length;
  }

  async load(): Promise<void> {
    try {
      this.items = (await getInbox()).items ?? [];
      this.error = null;
    } catch (err) {
      this.error = err;
    } finally {
      this.loaded = true;
    }
  }

  /** Loads now and after every live batch that matters (at most once a second); returns what stops it. */
  follow(live: Pick<LiveFeed, 'subscribe'>): () => void {
    void this.load();
    return reloadOnLive(live, inboxTouched, () => void this.load(), 1000);
  }

  clear(): void {
    this.items = [];
    this.loaded = false;
  }
}
