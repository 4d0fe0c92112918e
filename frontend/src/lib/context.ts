// What every screen needs, handed down once by App.svelte.

import { getContext, setContext } from 'svelte';
import type { Inbox } from './inbox.svelte';
import type { LiveFeed } from './live.svelte';
import type { Router } from './router.svelte';
import type { Session } from './session.svelte';

export interface Desk {
  session: Session;
  router: Router;
  live: LiveFeed;
  inbox: Inbox;
}

const KEY = Symbol('releasedesk');

export function provideDesk(d: Desk): void {
  setContext(KEY, d);
}

export function useDesk(): Desk {
  const d = getContext<Desk | undefined>(KEY);
  if (!d) throw new Error('useDesk outside the app');
  return d;
}
