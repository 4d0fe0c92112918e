// For tests only (imported by *.test.ts, never by the app): drive api.ts
// through a stubbed global fetch. The stub, the server's JSON answers, a
// healthy /health answer, and what a request rejects with.

import { expect, vi } from 'vitest';
import { ApiError } from './api';

export type FetchMock = ReturnType<typeof vi.fn<typeof fetch>>;

/** Replaces the global fetch with a mock; vite.config.ts undoes it after each test (unstubGlobals). */
export function stubFetch(): FetchMock {
  const mock = vi.fn<typeof fetch>();
  vi.stubGlobal('fetch', mock);
  return mock;
}

/** An answer with a JSON body, as the server sends it. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** GET /api/v1/health of a healthy server. */
export const HEALTH = {
  status: 'ok',
  version: '0.1.0',
  read_only: false,
  problem: '',
  events: { count: 12, head: { position: 12, hash: 'ab12cd34ef56ab12cd34' } },
  time: '2026-11-26T03:00:00Z',
  warnings: [] as { code: string; message: string }[],
};

/** Runs `p` and returns what it rejected with; fails the test if it resolved. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** The ApiError `p` rejects with; fails the test if it resolves or rejects with anything else. */
export async function apiError(p: Promise<unknown>): Promise<ApiError> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}
