import { beforeEach, describe, expect, it } from 'vitest';
import { Inbox, inboxTouched } from './inbox.svelte';
import { json, stubFetch, type FetchMock } from './fetchstub';
import type { LiveMessage } from './types';

const msg = (type: string): LiveMessage => ({ position: 1, type, time: '2026-12-06T10:00:00Z', actor: 'a', stream: 's' });

let fetchMock: FetchMock;
beforeEach(() => {
  fetchMock = stubFetch();
});

describe('the inbox', () => {
  it('reloads for a release moving or a deployment ending, not for a host\'s progress', () => {
    expect(inboxTouched([msg('release.test_passed')])).toBe(true);
    expect(inboxTouched([msg('deploy.failed')])).toBe(true);
    expect(inboxTouched([msg('step.output'), msg('deploy.host_switched')])).toBe(false);
  });

  it('loads the items and counts them; a failure keeps what it had', async () => {
    const item = { kind: 'test', project: 'shop', release: '4', state: 'testing', since: '2026-12-06T10:00:00Z', link: '#/releases/4' };
    fetchMock.mockResolvedValueOnce(json({ items: [item], count: 1 }));
    const inbox = new Inbox();
    await inbox.load();
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/inbox');
    expect(inbox.count).toBe(1);
    expect(inbox.loaded).toBe(true);
    fetchMock.mockResolvedValueOnce(json({ error: { code: 'internal', message: 'boom' } }, 500));
    await inbox.load();
    expect(inbox.count).toBe(1);
    expect(inbox.error).toBeTruthy();
    inbox.clear();
    expect(inbox.count).toBe(0);
  });
});
