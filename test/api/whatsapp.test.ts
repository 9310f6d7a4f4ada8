import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { startWhatsAppCloudFake } from '../channels/whatsapp-fake.js';
import { type EngineHarness, startEngine, until } from '../engine-harness.js';

/**
 * WhatsApp as the CallAI seed describes it, through the whole engine: POST /api/v1/whatsapp/send (text and Cloud API
 * templates) to a loopback Cloud API, and the Cloud API webhook (verification GET, signed POSTs) answered by the
 * agent named as agent_id with the contact's history, the assistant's LLM (a loopback OpenAI) and its knowledge.
 */
const PHONE_ID = '106540352242922';
const TOKEN = 'EAAGtoken';
const APP_SECRET = 'app-secret-0123';
const VERIFY = 'verify-me-please';
const CONTACT = '+2348012345678';

let h: EngineHarness;
let cloud: Awaited<ReturnType<typeof startWhatsAppCloudFake>>;
let llm: OpenAiFake;
let agentId = '';

const lastUser = (body: Record<string, unknown>) =>
  [...(body.messages as Array<{ role: string; content: string }>)].reverse().find((m) => m.role === 'user')?.content ??
  '';

beforeAll(async () => {
  cloud = await startWhatsAppCloudFake({
    phoneNumberId: PHONE_ID,
    token: TOKEN,
    appSecret: APP_SECRET,
    templates: { order_update: { en_US: 2 } },
  });
  llm = await startOpenAiFake({
    chat: (body) => {
      const u = lastUser(body);
      return { text: `Re: ${u}` };
    },
  });
  h = await startEngine({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${llm.url}/v1` });
  await h.engine.store.account.addCredit(h.engine.firstTenantId!, 1000);
  expect((await h.api('PATCH', '/api/v1/account/plugins/purchase', { pluginId: 'whatsapp' })).status).toBe(200);
  const cfg = await h.api('PUT', '/api/v1/account/plugins/configuration/whatsapp', {
    phoneNumberId: PHONE_ID,
    accessToken: TOKEN,
    appSecret: APP_SECRET,
    verifyToken: VERIFY,
    baseUrl: cloud.url,
  });
  expect(cfg.status).toBe(200);
  const doc = await h.api('POST', '/api/v1/rag/collections/faq/documents', {
    name: 'hours.txt',
    text: 'Our shop in Lagos is open Monday to Friday from 9 am to 7 pm. Deliveries take two days.',
  });
  expect(doc.status).toBe(201);
  const a = await h.api('POST', '/api/v1/assistants', {
    name: 'Shop agent',
    prompt: 'You are the shop assistant of Ade Stores.',
    llm: { provider: 'openai', model: 'gpt-4o-mini' },
    rag: { collections: ['faq'] },
  });
  expect(a.status).toBe(201);
  agentId = a.json.data.id;
});
afterAll(async () => {
  await h?.close();
  await cloud?.close();
  await llm?.close();
});

describe('POST /api/v1/whatsapp/send', () => {
  it('sends the seed body (text) through the Cloud API with the plugin token', async () => {
    const r = await h.api('POST', '/api/v1/whatsapp/send', {
      agent_id: agentId,
      to_number: CONTACT,
      message_type: 'text',
      content: 'Your order has shipped. Reply here with any question.',
    });
    expect(r.status).toBe(200);
    expect(r.json.data).toMatchObject({ status: 'accepted', to_number: CONTACT, agent_id: agentId });
    expect(r.json.data.message_id).toMatch(/^wamid\./);
    const req = cloud.requests.at(-1)!;
    expect(req.path).toBe(`/v21.0/${PHONE_ID}/messages`);
    expect(req.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '2348012345678',
      type: 'text',
      text: { preview_url: false, body: 'Your order has shipped. Reply here with any question.' },
    });
  });

  it('sends a template in the Cloud API format unchanged; the service refusals come back as 502 naming the code', async () => {
    const template = {
      name: 'order_update',
      language: { code: 'en_US' },
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Adebayo' },
            { type: 'text', text: 'Shipped' },
          ],
        },
      ],
    };
    const r = await h.api('POST', '/api/v1/whatsapp/send', {
      agent_id: agentId,
      to_number: CONTACT,
      message_type: 'template',
      content: template,
    });
    expect(r.status).toBe(200);
    expect(cloud.requests.at(-1)!.body).toMatchObject({ type: 'template', template });
    const missing = await h.api('POST', '/api/v1/whatsapp/send', {
      agent_id: agentId,
      to_number: CONTACT,
      message_type: 'template',
      content: { ...template, name: 'no_such_template' },
    });
    expect(missing.status).toBe(502);
    expect(missing.json.error.message).toMatch(/132001.*no_such_template/);
    const short = await h.api('POST', '/api/v1/whatsapp/send', {
      agent_id: agentId,
      to_number: CONTACT,
      message_type: 'template',
      content: {
        name: 'order_update',
        language: 'en_US',
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'x' }] }],
      },
    });
    expect(short.status).toBe(502);
    expect(short.json.error.message).toMatch(/132000/);
  });

  it('refuses bad bodies before anything is sent', async () => {
    const before = cloud.requests.length;
    const base = { agent_id: agentId, to_number: CONTACT, message_type: 'text', content: 'hi' };
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ ...base, content: { name: 'order_update', language: { code: 'en_US' } } }, 400, 'content'],
      [{ ...base, message_type: 'template' }, 400, 'content'],
      [{ ...base, message_type: 'template', content: { name: 'x' } }, 400, 'VALIDATION_FAILED'],
      [{ ...base, message_type: 'voice' }, 400, 'VALIDATION_FAILED'],
      [{ to_number: CONTACT, message_type: 'text', content: 'hi' }, 400, 'agent_id'],
      [{ ...base, to_number: '12345' }, 422, 'to_number'],
      [{ ...base, agent_id: 'ag_nope' }, 404, 'ASSISTANT_NOT_FOUND'],
    ];
    for (const [body, status, says] of cases) {
      const r = await h.api('POST', '/api/v1/whatsapp/send', body);
      expect([r.status, JSON.stringify(r.json)]).toEqual([status, expect.stringContaining(says)]);
    }
    expect(cloud.requests.length).toBe(before);
  });
});

describe('the Cloud API webhook', () => {
  const hook = () => `${h.base}/webhook/whatsapp/${h.engine.firstTenantId}`;
  const post = (raw: string, signature?: string) =>
    fetch(hook(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
      body: raw,
    });

  it('verification GET echoes hub.challenge only for the verify token', async () => {
    const ok = await fetch(`${hook()}?hub.mode=subscribe&hub.verify_token=${VERIFY}&hub.challenge=1158201444`);
    expect([ok.status, await ok.text()]).toEqual([200, '1158201444']);
    const bad = await fetch(`${hook()}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`);
    expect(bad.status).toBe(403);
    const nobody = await fetch(
      `${h.base}/webhook/whatsapp/t_nobody?hub.mode=subscribe&hub.verify_token=${VERIFY}&hub.challenge=1`,
    );
    expect(nobody.status).toBe(404);
  });

  it('refuses unsigned (401) and badly signed (403) POSTs and records nothing', async () => {
    const raw = JSON.stringify(cloud.inbound('2348012345678', 'forged'));
    expect((await post(raw)).status).toBe(401);
    expect((await post(raw, cloud.sign(raw, 'not-the-secret'))).status).toBe(403);
    expect((await post(raw, cloud.sign(`${raw} `))).status).toBe(403);
    expect((await post('{not json', '')).status).toBe(401);
    expect((await post('{not json', cloud.sign('{not json'))).status).toBe(400);
    const odd = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ changes: [{ field: 'messages' }] }] });
    expect((await post(odd, cloud.sign(odd))).status).toBe(400);
    const conv = await h.api('GET', `/api/v1/whatsapp/conversations/${encodeURIComponent(CONTACT)}`);
    expect(conv.json.data.messages.map((m: { body: string }) => m.body)).not.toContain('forged');
  });

  it("answers a reply with the agent's LLM, the contact's history and the knowledge base, once per message id", async () => {
    const sentBefore = cloud.requests.length;
    const llmBefore = llm.requests.length;
    const raw = JSON.stringify(cloud.inbound('2348012345678', 'When are you open?', 'wamid.INBOUND1'));
    const r = await post(raw, cloud.sign(raw));
    expect(r.status).toBe(200);
    expect(((await r.json()) as { data: unknown }).data).toEqual({ messages: 1, duplicates: 0, statuses: 0 });
    const answer = await until('the answer', () =>
      cloud.requests.slice(sentBefore).find((q) => q.body.type === 'text'),
    );
    expect(answer.body).toMatchObject({ to: '2348012345678', text: { body: 'Re: When are you open?' } });
    // What the model saw: the assistant's prompt with knowledge for the question, then the conversation so far.
    const req = JSON.parse(llm.requests.slice(llmBefore).find((q) => q.path.includes('chat'))!.body!) as {
      messages: Array<{ role: string; content: string }>;
    };
    expect(req.messages[0]!.content).toContain('Ade Stores');
    expect(req.messages[0]!.content).toContain('9 am to 7 pm');
    expect(req.messages.slice(1).map((m) => [m.role, m.content])).toEqual([
      ['assistant', 'Your order has shipped. Reply here with any question.'],
      ['assistant', '[template order_update (en_US): Adebayo, Shipped]'],
      ['user', 'When are you open?'],
    ]);
    // Meta retries the same delivery: recorded once, answered once. A next message is answered after anything the
    // retry could have started (answers for one contact run in order), so two answers in all proves it.
    const again = await post(raw, cloud.sign(raw));
    expect(((await again.json()) as { data: unknown }).data).toEqual({ messages: 0, duplicates: 1, statuses: 0 });
    const next = JSON.stringify(cloud.inbound('2348012345678', 'And on Saturday?', 'wamid.INBOUND2'));
    expect((await post(next, cloud.sign(next))).status).toBe(200);
    await until(
      'the second answer',
      () =>
        cloud.requests.slice(sentBefore).some((q) => JSON.stringify(q.body).includes('Re: And on Saturday?')) ||
        undefined,
    );
    const answers = cloud.requests.slice(sentBefore).filter((q) => q.body.type === 'text');
    expect(answers.map((q) => (q.body.text as { body: string }).body)).toEqual([
      'Re: When are you open?',
      'Re: And on Saturday?',
    ]);
    const conv = await h.api('GET', `/api/v1/whatsapp/conversations/${encodeURIComponent(CONTACT)}`);
    expect(conv.json.data.agent_id).toBe(agentId);
    expect(
      conv.json.data.messages.map((m: { direction: string; body: string }) => `${m.direction}: ${m.body}`),
    ).toEqual([
      'outbound: Your order has shipped. Reply here with any question.',
      'outbound: [template order_update (en_US): Adebayo, Shipped]',
      'inbound: When are you open?',
      'outbound: Re: When are you open?',
      'inbound: And on Saturday?',
      'outbound: Re: And on Saturday?',
    ]);
  });

  it('delivery statuses update the stored message; analytics has every message in the sms section', async () => {
    const conv = await h.api('GET', `/api/v1/whatsapp/conversations/${encodeURIComponent(CONTACT)}`);
    const last = conv.json.data.messages.at(-1);
    const raw = JSON.stringify(cloud.statusUpdate(last.message_id, '2348012345678', 'read'));
    const r = await post(raw, cloud.sign(raw));
    expect(((await r.json()) as { data: unknown }).data).toEqual({ messages: 0, duplicates: 0, statuses: 1 });
    const after = await h.api('GET', `/api/v1/whatsapp/conversations/${encodeURIComponent(CONTACT)}`);
    expect(after.json.data.messages.at(-1).status).toBe('read');
    const rows = (await h.api('GET', '/api/v1/account/analytics/sms?limit=100')).json.data.rows as Array<
      Record<string, unknown>
    >;
    const wa = rows.filter((x) => x.channel === 'whatsapp').reverse();
    expect(wa.map((x) => `${x.direction}/${x.source}/${x.message_type}`)).toEqual([
      'outbound/api/text',
      'outbound/api/template',
      'inbound/webhook/text',
      'outbound/agent/text',
      'inbound/webhook/text',
      'outbound/agent/text',
    ]);
    expect(wa[3]).toMatchObject({ assistant_id: agentId, to: CONTACT, status: 'accepted', provider: 'cloud_api' });
  });
});
