import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { type Harness, startHarness } from './harness.js';

/** Issue 13 point 8: references and numbers are checked when the request arrives (422 naming the field). */
let h: Harness;
let ast: { id: string; assistantApiKey: string };
const knownCollections = new Map<string, string[]>();

beforeAll(async () => {
  h = await startHarness((store) => ({
    // No PUBLIC_URL: carriers could not reach the engine.
    dialer: createChannelDialer({ store }),
    knowledge: { listCollections: async (t) => (knownCollections.get(t) ?? []).map((name) => ({ name })) },
  }));
  knownCollections.set(h.a.id, ['faq']);
  knownCollections.set(h.b.id, ['b-only']);
  ast = (await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: {} })).body.data;
});
afterAll(async () => h.close());

describe('references', () => {
  it("rag.collections must be the tenant's own collections", async () => {
    const bad = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/rag`, {
      headers: h.a.h,
      body: { collections: ['faq', 'does-not-exist'] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({ code: 'UNKNOWN_COLLECTION', details: [{ field: 'rag.collections.1' }] });
    // Another tenant's collection is unknown here too.
    const foreign = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { rag: { collections: ['b-only'] } },
    });
    expect(foreign.status).toBe(422);
    const ok = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/rag`, {
      headers: h.a.h,
      body: { collections: ['faq'] },
    });
    expect(ok.status).toBe(200);
    // A collection deleted later does not block unrelated edits.
    knownCollections.set(h.a.id, []);
    const other = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/rag`, {
      headers: h.a.h,
      body: { topK: 5 },
    });
    expect(other.status).toBe(200);
    knownCollections.set(h.a.id, ['faq']);
  });

  it('an ElevenLabs voice given by display name is stored as its voice id; an unknown name is refused', async () => {
    const r = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/tts`, {
      headers: h.a.h,
      body: { provider: 'elevenlabs', voice: 'rachel' },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.voice).toBe('21m00Tcm4TlvDq8ikWAM');
    const created = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { tts: { provider: 'elevenlabs', voice: 'George' } },
    });
    expect(created.body.data.config.tts.voice).toBe('JBFqnCBsd6RMkjVDRZzb');
    const unknown = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/tts`, {
      headers: h.a.h,
      body: { provider: 'elevenlabs', voice: 'Nobody Here' },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe('UNKNOWN_VOICE');
  });

  it('transfer targets and blocked numbers are E.164 (a transfer target may be a SIP URI)', async () => {
    const bad = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/hangup`, {
      headers: h.a.h,
      body: { transferTargets: [{ name: 'desk', number: '12345' }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details[0].field).toBe('hangup.transferTargets.0.number');
    const sip = await h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/hangup`, {
      headers: h.a.h,
      body: { transferTargets: [{ name: 'desk', number: 'sip:desk@pbx.example.com' }] },
    });
    expect(sip.status).toBe(200);
    const blocked = await h.call(
      'PATCH',
      `/api/v1/assistants/${ast.assistantApiKey}/runtime/precall/number-validation`,
      {
        headers: h.a.h,
        body: { blockedNumbers: ['+999'] },
      },
    );
    expect(blocked.status).toBe(422);
    expect(blocked.body.error.code).toBe('INVALID_PHONE_NUMBER');
    const route = await h.call('PUT', '/api/v1/account/number-routing', {
      headers: h.a.h,
      body: { number: '+1555', assistantApiKey: ast.assistantApiKey },
    });
    expect(route.status).toBe(422);
    expect(route.body.error.details[0].field).toBe('number');
  });
});

describe('hangup.redirect', () => {
  it('is a number (E.164) or a SIP URI; a URL or a bad number is refused naming the field', async () => {
    const patch = (redirect: string) =>
      h.call('PATCH', `/api/v1/assistants/${ast.assistantApiKey}/runtime/hangup`, {
        headers: h.a.h,
        body: { redirect },
      });
    expect((await patch('+2348012345678')).status).toBe(200);
    expect((await patch('sip:desk@pbx.example.com')).status).toBe(200);
    const url = await patch('https://example.com/twiml');
    expect(url.status).toBe(422);
    expect(url.body.error.details[0].field).toBe('hangup.redirect');
    const bad = await patch('12345');
    expect(bad.body.error).toMatchObject({ code: 'INVALID_PHONE_NUMBER', details: [{ field: 'hangup.redirect' }] });
  });
});

describe('outbound requests the engine cannot place are refused at once', () => {
  it('no PUBLIC_URL: 503 PUBLIC_URL_NOT_SET, nothing queued', async () => {
    const r = await h.call('POST', '/api/v1/calls/initiate', {
      headers: h.a.h,
      body: { agent_id: ast.id, to_number: '+2348012345678' },
    });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('PUBLIC_URL_NOT_SET');
    expect((await h.call('GET', '/api/v1/calls', { headers: h.a.h })).body.data.rows).toEqual([]);
  });

  it('no trunk plugin: 422 CHANNEL_NOT_CONFIGURED naming what to configure', async () => {
    const h2 = await startHarness(
      (store) => ({ dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }) }),
      { PUBLIC_URL: 'https://engine.example.com' },
    );
    try {
      const a = (await h2.call('POST', '/api/v1/assistants', { headers: h2.a.h, body: {} })).body.data;
      const send = () =>
        h2.call('POST', '/webhook/outbound_call', {
          headers: h2.a.h,
          body: { assistantApiKey: a.assistantApiKey, to: '+2348012345678' },
        });
      const none = await send();
      expect(none.status).toBe(422);
      expect(none.body.error).toMatchObject({ code: 'CHANNEL_NOT_CONFIGURED' });
      expect(none.body.error.message).toMatch(/twilio plugin is not purchased/);
      await h2.call('POST', '/api/v1/account/plugins/purchase', { headers: h2.a.h, body: { pluginId: 'twilio' } });
      const half = await send();
      expect(half.body.error.message).toMatch(/missing accountSid, authToken, fromNumber/);
      expect((await h2.call('GET', '/api/v1/calls', { headers: h2.a.h })).body.data.rows).toEqual([]);
    } finally {
      await h2.close();
    }
  });
});
