import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { json, rejection, stubFetch } from './fetchstub';
import {
  connectServer,
  formatFingerprint,
  otherServers,
  serverLabel,
  serverURLProblem,
  windowState,
  type WindowState,
} from './joinserver';

describe('serverURLProblem', () => {
  it('takes a name, an https URL, or plain http to this machine', () => {
    for (const ok of ['desk.example.com', 'https://desk.example.com/', 'https://desk.example.com:8443', 'http://127.0.0.1:7788', 'http://localhost:7788', 'http://[::1]:7788']) {
      expect(serverURLProblem(ok), ok).toBe('');
    }
  });
  it('names what is wrong', () => {
    expect(serverURLProblem('  ')).toBe('join.url_empty');
    expect(serverURLProblem('http://desk.example.com')).toBe('join.url_plain_http');
    expect(serverURLProblem('http://10.0.0.5:7788')).toBe('join.url_plain_http');
    expect(serverURLProblem('ftp://desk.example.com')).toBe('join.url_scheme');
    expect(serverURLProblem('https://desk.example.com/releases')).toBe('join.url_path');
    expect(serverURLProblem('https://u:p@desk.example.com')).toBe('join.url_path');
    expect(serverURLProblem('https://desk.example.com?x=1')).toBe('join.url_path');
    expect(serverURLProblem('https://exa mple')).toBe('join.url_invalid');
  });
});

describe('formatFingerprint', () => {
  it('writes byte pairs in upper case with colons, as certificate viewers do', () => {
    expect(formatFingerprint('ab12cd')).toBe('AB:12:CD');
    expect(formatFingerprint(undefined)).toBe('');
  });
});

describe('serverLabel and otherServers', () => {
  const state: WindowState = {
    mode: 'server',
    server: 'https://b.example',
    joinable: true,
    recent: [
      { url: 'https://a.example', pinned: false, last_used: '2026-12-01T10:00:00Z' },
      { url: 'https://b.example', pinned: true, last_used: '2026-12-03T10:00:00Z' },
      { url: 'http://127.0.0.1:7788', pinned: false, last_used: '2026-12-02T10:00:00Z' },
    ],
  };
  it('names a server by its host, and plain http in full', () => {
    expect(serverLabel('https://desk.example.com:8443')).toBe('desk.example.com:8443');
    expect(serverLabel('http://127.0.0.1:7788')).toBe('http://127.0.0.1:7788');
  });
  it('offers the other recent servers, most recent first', () => {
    expect(otherServers(state).map((s) => s.url)).toEqual(['http://127.0.0.1:7788', 'https://a.example']);
    expect(otherServers({ ...state, mode: 'local' }).map((s) => s.url)).toEqual([
      'https://b.example',
      'http://127.0.0.1:7788',
      'https://a.example',
    ]);
    expect(otherServers(null)).toEqual([]);
  });
});

describe('the window routes', () => {
  it('posts the URL and the confirmed fingerprint, and reads the answer', async () => {
    const fetch = stubFetch();
    fetch.mockResolvedValueOnce(
      json({ joined: false, probe: { url: 'https://d.example', state: 'changed', fingerprint: 'bb', pinned: 'aa' }, state: { mode: 'local', joinable: true, recent: [] } }),
    );
    const a = await connectServer('https://d.example', 'bb');
    expect(a.probe.state).toBe('changed');
    const [path, init] = fetch.mock.calls[0]!;
    expect(path).toBe('/window/connect');
    expect(init?.method).toBe('POST');
    expect(JSON.parse(String(init?.body))).toEqual({ url: 'https://d.example', fingerprint: 'bb' });
  });
  it('turns a refusal into an ApiError naming the field', async () => {
    const fetch = stubFetch();
    fetch.mockResolvedValueOnce(json({ error: { code: 'invalid', message: 'url: plain http is only for this machine', field: 'url' } }, 400));
    const err = await rejection(windowState());
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).field).toBe('url');
  });
  it('says the window is unreachable when fetch fails', async () => {
    const fetch = stubFetch();
    fetch.mockRejectedValueOnce(new TypeError('failed'));
    const err = (await rejection(windowState())) as ApiError;
    expect(err.code).toBe('network');
  });
});
