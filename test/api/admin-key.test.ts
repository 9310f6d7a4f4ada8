import * as crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { authenticateAdmin } from '../../src/api/auth.js';
import { loadConfig } from '../../src/config.js';

/**
 * The admin key comparison is constant-time (issue 11, finding 6): however long the guess, the comparison runs over
 * two equal-length digests; the old code returned early, without comparing, when the lengths differed.
 */
vi.mock('node:crypto', async (orig) => {
  const real = await orig<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const config = loadConfig({ DATA_DIR: '/tmp/unused', ADMIN_API_KEY: 'admin-secret-0123456789' });
const request = (key: string) => ({ headers: { 'x-admin-api-key': key } }) as unknown as FastifyRequest;

describe('admin key comparison', () => {
  it('compares equal-length digests whatever the guess length, with no early return', () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    for (const guess of ['a', 'admin-secret', 'x'.repeat(500), 'admin-secret-0123456788']) {
      spy.mockClear();
      expect(() => authenticateAdmin(config, request(guess))).toThrow('Invalid admin key');
      expect(spy).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0]! as [Uint8Array, Uint8Array];
      expect(a.length).toBe(32);
      expect(b.length).toBe(32);
    }
    spy.mockClear();
    expect(() => authenticateAdmin(config, request('admin-secret-0123456789'))).not.toThrow();
    expect(spy).toHaveBeenCalledTimes(1);
  });
});
