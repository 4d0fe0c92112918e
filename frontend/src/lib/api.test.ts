import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { switchLocale } from '../i18n';
import { ApiError, getHealth, getMe, isApiError, setApiToken } from './api';
import { HEALTH, apiError, json, rejection, stubFetch, type FetchMock } from './fetchstub';

let fetchMock: FetchMock;

beforeEach(() => {
  fetchMock = stubFetch();
});

afterEach(() => {
  setApiToken(null);
  vi.useRealTimers();
});

describe('getHealth', () => {
  it('GETs /api/v1/health on the same origin and parses the answer', async () => {
    fetchMock.mockResolvedValue(json(HEALTH));

    const h = await getHealth();

    expect(h).toEqual(HEALTH);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe('/api/v1/health');
    expect(init?.method).toBe('GET');
    const headers = new Headers(init?.headers);
    expect(headers.get('Accept')).toBe('application/json');
    expect(headers.has('Authorization')).toBe(false);
  });

  it('keeps a degraded status and its problem', async () => {
    fetchMock.mockResolvedValue(
      json({ ...HEALTH, status: 'degraded', read_only: true, problem: 'disk almost full' }),
    );

    const h = await getHealth();

    expect(h.status).toBe('degraded');
    expect(h.read_only).toBe(true);
    expect(h.problem).toBe('disk almost full');
  });

  it('fills missing optional fields with safe defaults', async () => {
    fetchMock.mockResolvedValue(json({ status: 'ok' }));

    const h = await getHealth();

    expect(h).toEqual({
      status: 'ok',
      version: '',
      read_only: false,
      problem: '',
      events: { count: 0, head: { position: 0, hash: '' } },
      time: '',
      warnings: [],
    });
  });

  it('keeps the warnings the operator should see', async () => {
    fetchMock.mockResolvedValue(
      json({ status: 'ok', warnings: [{ code: 'insecure_http', message: 'plain HTTP' }, 'junk'] }),
    );
    const h = await getHealth();
    expect(h.warnings).toEqual([{ code: 'insecure_http', message: 'plain HTTP' }]);
  });

  it('turns the server error JSON into an ApiError with status, code and message', async () => {
    fetchMock.mockResolvedValue(
      json({ error: { code: 'store_unavailable', message: 'event store is closed' } }, 503),
    );

    const err = await apiError(getHealth());

    expect(err.status).toBe(503);
    expect(err.code).toBe('store_unavailable');
    expect(err.message).toBe('event store is closed');
    expect(err.name).toBe('ApiError');
    expect(isApiError(err)).toBe(true);
  });

  it('quotes a plain-text error body under code http_error', async () => {
    fetchMock.mockResolvedValue(
      new Response('404 page not found\n', { status: 404, statusText: 'Not Found' }),
    );

    const err = await apiError(getHealth());

    expect(err.status).toBe(404);
    expect(err.code).toBe('http_error');
    expect(err.message).toBe('HTTP 404 Not Found: 404 page not found');
  });

  it('does not quote an HTML error page', async () => {
    fetchMock.mockResolvedValue(
      new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', { status: 502 }),
    );

    const err = await apiError(getHealth());

    expect(err.status).toBe(502);
    expect(err.code).toBe('http_error');
    expect(err.message).toBe('HTTP 502');
  });

  it('treats JSON of another shape as a plain HTTP error', async () => {
    fetchMock.mockResolvedValue(json({ message: 'nope' }, 500));

    const err = await apiError(getHealth());

    expect(err.status).toBe(500);
    expect(err.code).toBe('http_error');
    expect(err.message).toBe('HTTP 500');
  });

  it('reports a network failure as code network, status 0, with a human message', async () => {
    const cause = new TypeError('Failed to fetch');
    fetchMock.mockRejectedValue(cause);

    const err = await apiError(getHealth());

    expect(err.status).toBe(0);
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/cannot reach the release desk server/i);
    expect(err.cause).toBe(cause);
  });

  it('rejects a 200 that is not JSON (e.g. index.html from a fallback route)', async () => {
    fetchMock.mockResolvedValue(new Response('<!doctype html><title>Release Desk</title>', { status: 200 }));

    const err = await apiError(getHealth());

    expect(err.status).toBe(200);
    expect(err.code).toBe('invalid_response');
  });

  it('rejects JSON without a status', async () => {
    fetchMock.mockResolvedValue(json({ version: '0.1.0' }));

    const err = await apiError(getHealth());

    expect(err.code).toBe('invalid_response');
    expect(err.message).toContain('no status');
  });

  it('sends the bearer token once set, and stops when it is cleared', async () => {
    fetchMock.mockImplementation(() => Promise.resolve(json(HEALTH)));

    setApiToken('s3cret');
    await getHealth();
    setApiToken(null);
    await getHealth();

    const auth = fetchMock.mock.calls.map(([, init]) => new Headers(init?.headers).get('Authorization'));
    expect(auth).toEqual(['Bearer s3cret', null]);
  });

  describe('cancellation', () => {
    // A fetch that only ends when its signal aborts, like a hung server.
    function hangingFetch(): void {
      fetchMock.mockImplementation(
        (_url, init) =>
          new Promise<Response>((_resolve, reject) => {
            init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
          }),
      );
    }

    it('gives up after timeoutMs with a network ApiError', async () => {
      vi.useFakeTimers();
      hangingFetch();

      const pending = apiError(getHealth({ timeoutMs: 4000 }));
      await vi.advanceTimersByTimeAsync(3999);
      expect(fetchMock.mock.calls[0]![1]?.signal?.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const err = await pending;

      expect(err.code).toBe('network');
      expect(err.status).toBe(0);
      expect(err.message).toContain('4 s');
    });

    it('leaves no timer behind once answered', async () => {
      vi.useFakeTimers();
      fetchMock.mockResolvedValue(json(HEALTH));

      await getHealth({ timeoutMs: 4000 });

      expect(vi.getTimerCount()).toBe(0);
    });

    it("rejects with the caller's abort reason, not an ApiError", async () => {
      hangingFetch();
      const controller = new AbortController();
      const reason = new Error('page closed');

      const pending = rejection(getHealth({ signal: controller.signal }));
      controller.abort(reason);

      expect(await pending).toBe(reason);
    });
  });
});

describe('the server writes in the page\'s language', () => {
  afterEach(() => {
    switchLocale('en');
  });

  it('sends the page\'s language with every request, and shows the message as the server wrote it', async () => {
    // The server renders its refusals, health's warnings and /me's
    // read-only reason in the language asked for; a switch of language
    // reloads the page, so every text is asked again.
    vi.stubGlobal('localStorage', { getItem: () => null, setItem: () => {}, removeItem: () => {} });
    switchLocale('zh-CN');
    fetchMock.mockResolvedValueOnce(json(HEALTH));
    await getHealth();
    expect(new Headers(fetchMock.mock.calls[0]![1]?.headers).get('Accept-Language')).toBe('zh-CN');

    fetchMock.mockResolvedValueOnce(
      json({ error: { code: 'unauthorized', message: '令牌已过期' } }, 401),
    );
    const err = await apiError(getMe());
    expect(new Headers(fetchMock.mock.calls[1]![1]?.headers).get('Accept-Language')).toBe('zh-CN');
    expect(err.code).toBe('unauthorized');
    expect(err.message).toBe('令牌已过期');

    switchLocale('en');
    fetchMock.mockResolvedValueOnce(json(HEALTH));
    await getHealth();
    expect(new Headers(fetchMock.mock.calls[2]![1]?.headers).get('Accept-Language')).toBe('en');
  });
});
