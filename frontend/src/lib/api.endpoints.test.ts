import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decideRelease,
  deployRelease,
  refuseRelease,
  exportAudit,
  getBoard,
  listDeployments,
  logout,
  putProject,
  setApiToken,
  setContacts,
  startReview,
  streamTicket,
  streamURL,
  testChannel,
  unlockEnvironment,
} from './api';
import { apiError, json, stubFetch, type FetchMock } from './fetchstub';

let fetchMock: FetchMock;

beforeEach(() => {
  fetchMock = stubFetch();
});

afterEach(() => setApiToken(null));

describe('endpoints', () => {
  it('escapes user text in paths, so an id cannot reach another route', async () => {
    fetchMock.mockResolvedValueOnce(json({ deployment: 'd1' }, 202));
    await deployRelease('../users', 'prod');
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/releases/..%2Fusers/deploy');
    expect(JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body))).toEqual({ env: 'prod' });
  });

  it('puts all four contact handles to the named user, the name escaped', async () => {
    fetchMock.mockResolvedValueOnce(json({ name: 'ann', contacts: { email: 'ann@example.com', mobile: '', feishu: '', slack: '' } }));
    const c = { email: 'ann@example.com', mobile: '', feishu: '', slack: '' };
    const u = await setContacts('ann/../root', c);
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/users/ann%2F..%2Froot/contacts');
    expect(fetchMock.mock.calls[0]?.[1]?.method).toBe('PUT');
    expect(JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body))).toEqual(c);
    expect(u.contacts?.email).toBe('ann@example.com');
  });

  it('sends a note to approve and accept, a reason to reject, refuse and cancel', async () => {
    for (const action of ['approve', 'accept', 'reject', 'refuse', 'cancel'] as const) {
      fetchMock.mockResolvedValueOnce(json({ release: {}, timeline: [], actions: [] }));
      await decideRelease('4', action, 'because');
    }
    const bodies = fetchMock.mock.calls.map((c) => [c[0], JSON.parse(String(c[1]?.body))]);
    expect(bodies).toEqual([
      ['/api/v1/releases/4/approve', { note: 'because' }],
      ['/api/v1/releases/4/accept', { note: 'because' }],
      ['/api/v1/releases/4/reject', { reason: 'because' }],
      ['/api/v1/releases/4/refuse', { reason: 'because' }],
      ['/api/v1/releases/4/cancel', { reason: 'because' }],
    ]);
  });

  it('asks for the rollback with a refusal only when it is wanted', async () => {
    for (const rollback of [true, false]) {
      fetchMock.mockResolvedValueOnce(json({ release: {}, timeline: [], actions: [] }));
      await refuseRelease('4', 'broke', rollback);
    }
    const bodies = fetchMock.mock.calls.map((c) => [c[0], JSON.parse(String(c[1]?.body))]);
    expect(bodies).toEqual([
      ['/api/v1/releases/4/refuse', { reason: 'broke', rollback: true }],
      ['/api/v1/releases/4/refuse', { reason: 'broke' }],
    ]);
  });

  it("posts a channel's test message, the project and the channel escaped", async () => {
    fetchMock.mockResolvedValueOnce(json({ id: 'd1', state: 'failed', status: 500, trigger: 'channel.test' }));
    const d = await testChannel('shop', 'ops/../x');
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/projects/shop/channels/ops%2F..%2Fx/test');
    expect(fetchMock.mock.calls[0]?.[1]?.method).toBe('POST');
    expect(d.state).toBe('failed');
  });

  it('sends a lock break\'s host and reason in the body', async () => {
    fetchMock.mockResolvedValueOnce(json({ project: 'shop', environment: 'prod', broken: { hosts: [] }, unreachable: [] }));
    await unlockEnvironment('shop', 'prod', 'www@10.0.0.5:22', 'stale');
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/projects/shop/environments/prod/unlock');
    expect(fetchMock.mock.calls[0]?.[1]?.method).toBe('POST');
    expect(JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body))).toEqual({ host: 'www@10.0.0.5:22', reason: 'stale' });
  });

  it('builds board queries without empty parameters', async () => {
    fetchMock.mockResolvedValueOnce(json({ total: 0, offset: 0, limit: 50, releases: [], counts: {} }));
    await getBoard({ project: 'shop', q: '', state: 'open,testing', limit: 100 });
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/releases?project=shop&state=open%2Ctesting&limit=100');
  });

  it('builds the deployment list\'s query from its filters, escaped', async () => {
    fetchMock.mockResolvedValueOnce(json({ total: 0, offset: 0, limit: 50, deployments: [] }));
    await listDeployments({ project: 'shop', env: '', requested_by: 'a&b', kind: 'rollback', state: 'failed,interrupted', limit: 50 });
    expect(fetchMock.mock.calls[0]?.[0]).toBe(
      '/api/v1/deployments?project=shop&requested_by=a%26b&kind=rollback&state=failed%2Cinterrupted&limit=50',
    );
  });

  it('keeps the field, the rule and every configuration problem of an error', async () => {
    fetchMock.mockResolvedValueOnce(
      json({ error: { code: 'invalid', message: 'title: is required', field: 'title' } }, 400),
    );
    const e1 = await apiError(deployRelease('4', 'prod'));
    expect([e1.status, e1.code, e1.field]).toEqual([400, 'invalid', 'title']);

    fetchMock.mockResolvedValueOnce(
      json({ error: { code: 'forbidden', message: 'nobody approves their own release', rule: 'nobody approves their own release' } }, 403),
    );
    const e2 = await apiError(decideRelease('4', 'approve', ''));
    expect(e2.rule).toBe('nobody approves their own release');

    fetchMock.mockResolvedValueOnce(
      json(
        {
          error: {
            code: 'invalid_config',
            message: '2 problems',
            fields: [
              { path: 'environments[0].path', reason: 'must be absolute' },
              { path: 'strategy', reason: 'unknown strategy "ftp"' },
            ],
          },
        },
        400,
      ),
    );
    const e3 = await apiError(putProject('shop', 'id: shop', 'yaml'));
    expect(e3.fields).toEqual([
      { path: 'environments[0].path', reason: 'must be absolute' },
      { path: 'strategy', reason: 'unknown strategy "ftp"' },
    ]);
    expect(new Headers(fetchMock.mock.calls[2]?.[1]?.headers).get('Content-Type')).toBe('application/yaml');
  });

  it('takes 204 No Content as success', async () => {
    fetchMock.mockResolvedValueOnce(new Response(null, { status: 204 }));
    await expect(logout()).resolves.toBeNull();
  });

  it('exports the audit with the server file name, without paging parameters', async () => {
    setApiToken('rd_x');
    fetchMock.mockResolvedValueOnce(
      new Response('position,time\n1,2026\n', {
        status: 200,
        headers: { 'Content-Type': 'text/csv', 'Content-Disposition': 'attachment; filename="releasedesk-audit-1.csv"' },
      }),
    );
    const out = await exportAudit({ actor: 'alice', offset: 100, limit: 100 }, 'csv');
    expect(out).toEqual({ name: 'releasedesk-audit-1.csv', text: 'position,time\n1,2026\n' });
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/audit/export?actor=alice&format=csv');
    expect(new Headers(fetchMock.mock.calls[0]?.[1]?.headers).get('Authorization')).toBe('Bearer rd_x');
  });

  it('asks for a stream ticket with the bearer header, and puts only the ticket in the stream URL', async () => {
    setApiToken('rd_y');
    fetchMock.mockResolvedValueOnce(json({ ticket: 'rdt_1', expires_at: '2026-12-06T10:00:15Z' }));
    const t = await streamTicket();
    expect(t.ticket).toBe('rdt_1');
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/stream/ticket');
    expect(fetchMock.mock.calls[0]?.[1]?.method).toBe('POST');
    expect(new Headers(fetchMock.mock.calls[0]?.[1]?.headers).get('Authorization')).toBe('Bearer rd_y');
    expect(streamURL('rdt_1')).toBe('/api/v1/stream?ticket=rdt_1');
    expect(streamURL('rdt_1', 41)).toBe('/api/v1/stream?ticket=rdt_1&since=41');
    expect(streamURL('rdt_1', 41)).not.toContain('rd_y');
  });

  it('exchanges a review secret for a session', async () => {
    fetchMock.mockResolvedValueOnce(json({ token: 'rdr_1' }));
    await expect(startReview('rdv_s')).resolves.toEqual({ token: 'rdr_1' });
    expect(fetchMock.mock.calls[0]?.[0]).toBe('/api/v1/review');
    expect(JSON.parse(String(fetchMock.mock.calls[0]?.[1]?.body))).toEqual({ secret: 'rdv_s' });
  });
});
