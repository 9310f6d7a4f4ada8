import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { maskUrl } from '../../src/api/app.js';
import { type Harness, startHarness } from './harness.js';

const lines: string[] = [];
let h: Harness;
beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  h = await startHarness({ logger: pino({ level: 'info' }, sink) });
});
afterAll(async () => h.close());

it('writes one structured line per request with request id and tenant, and no secrets', async () => {
  const a = (await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: {} })).body.data;
  await h.call('GET', `/api/v1/assistants/${a.assistantApiKey}`, { headers: { ...h.a.h, 'x-request-id': 'rid-1' } });
  await h.call('GET', '/api/v1/assistants', { headers: { authorization: `Bearer ${h.a.key}` } });
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'request');
  const mine = records.find((r) => r.reqId === 'rid-1');
  expect(mine).toMatchObject({ method: 'GET', statusCode: 200, tenantId: h.a.id });
  expect(String(mine?.url)).toMatch(/^\/api\/v1\/assistants\/ast_.{4}…$/);
  const all = lines.join('\n');
  expect(all).not.toContain(a.assistantApiKey);
  expect(all).not.toContain(h.a.key);
});

it('masks keys in URLs', () => {
  expect(maskUrl('/media/twilio/ast_abcdefghijkl?x=1')).toBe('/media/twilio/ast_abcd…?x=1');
  expect(maskUrl('/api/v1/calls')).toBe('/api/v1/calls');
});
