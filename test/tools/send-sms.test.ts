import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { createSmsSender } from '../../src/channels/sms.js';
import { silentLogger } from '../../src/log.js';
import { openStore } from '../../src/store/index.js';
import { sendSmsTool } from '../../src/tools/send-sms.js';
import type { ToolContext } from '../../src/tools/types.js';
import { startTwilioFake } from '../channels/twilio-fake.js';
import { type EngineHarness, startEngine, until } from '../engine-harness.js';

/** send_sms: the agent texts the caller during a call, through the tenant's Twilio account (a loopback fake). */
const creds = { sid: 'ACtooltooltooltooltooltooltooltool', token: 'tool_token' };
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;
let h: EngineHarness;

beforeAll(async () => {
  twilio = await startTwilioFake(creds);
  h = await startEngine();
  const t = h.engine.firstTenantId!;
  await h.engine.store.account.purchasePlugin(t, 'twilio', 0);
  await h.engine.store.account.configurePlugin(t, 'twilio', {
    accountSid: creds.sid,
    authToken: creds.token,
    fromNumber: '+15550004444',
    baseUrl: twilio.url,
  });
});
afterAll(async () => {
  await h?.close();
  await twilio?.close();
});

describe('send_sms', () => {
  it('is in the tool catalog', async () => {
    const r = await h.api('GET', '/api/v1/catalog/tools');
    expect(JSON.stringify(r.json.data)).toContain('send_sms');
  });

  it('texts the caller during a call (a DTMF menu runs it) and records an analytics/sms row', async () => {
    const a = await h.api('POST', '/api/v1/assistants', {
      name: 'Booking line',
      firstMessage: 'Press 1 to get your booking code by text.',
      dtmf: {
        menu: { '1': { tool: 'send_sms', toolArgs: { message: 'Your booking code is 4821.' }, reply: 'Sent.' } },
      },
      tools: { builtins: ['end_call', 'send_sms'] },
    });
    expect(a.status).toBe(201);
    const sim = await PhoneSim.connect({
      // Native protocol: a Twilio stream would need Twilio's signature, since the tenant has a twilio plugin.
      url: `${h.base.replace(/^http/, 'ws')}/media/native/${a.json.data.assistantApiKey}`,
      protocol: 'native',
      from: '+15550001111',
      to: '+15550002222',
    });
    const silence = new Uint8Array(160).fill(0xff);
    const frames = setInterval(() => {
      if (!sim.closed) sim.sendFrame(silence);
    }, 20);
    try {
      while (sim.firstAgentAudioAt < 0 && !sim.closed) await new Promise((r) => setTimeout(r, 20));
      sim.sendDtmf('1');
      const sent = await until('the SMS', async () => twilio.requests.find((r) => r.path.endsWith('/Messages.json')));
      expect(sent.form).toEqual({ To: '+15550001111', From: '+15550004444', Body: 'Your booking code is 4821.' });
      const row = await until('the sms row', async () => {
        const rows = (await h.api('GET', '/api/v1/account/analytics/sms')).json.data.rows as Array<
          Record<string, unknown>
        >;
        return rows.find((x) => x.source === 'tool');
      });
      const calls = (await h.api('GET', '/api/v1/calls')).json.data.rows as Array<{ id: string }>;
      expect(row).toMatchObject({
        channel: 'sms',
        provider: 'twilio',
        to: '+15550001111',
        call_id: calls[0]!.id,
        assistant_id: a.json.data.id,
        message_id: expect.stringMatching(/^SM/),
      });
      const tools = await until('the tool row', async () => {
        const rows = (await h.api('GET', '/api/v1/account/analytics/tool-responses')).json.data.rows as Array<
          Record<string, unknown>
        >;
        return rows.find((x) => x.tool === 'send_sms');
      });
      expect(tools).toMatchObject({ status: 'ok', call_id: calls[0]!.id });
    } finally {
      clearInterval(frames);
      await sim.stop();
    }
  });

  it('refuses without a tenant, without a known party, and with no message; a carrier refusal is a tool error', async () => {
    const store = openStore({ file: ':memory:' });
    const t = await store.tenants.create({ email: 'x@example.com' });
    const tool = sendSmsTool({ sms: createSmsSender({ store, fetch }), store });
    const ctx = (over: Partial<ToolContext>): ToolContext => ({
      callId: 'CA1',
      signal: new AbortController().signal,
      logger: silentLogger,
      endCall: () => {},
      transfer: () => {},
      sendDtmf: () => {},
      transferTargets: [],
      ...over,
    });
    const err = async (args: Record<string, unknown>, c: ToolContext) => {
      const r = await tool.run(args, c);
      expect(r.ok).toBe(false);
      return JSON.parse(r.content).error as string;
    };
    expect(await err({ message: 'hi' }, ctx({}))).toMatch(/not available/);
    expect(await err({ message: 'hi' }, ctx({ tenantId: t.id }))).toMatch(/not known/);
    expect(await err({ message: 'hi' }, ctx({ tenantId: t.id, party: 'anonymous' }))).toMatch(/not known/);
    expect(await err({}, ctx({ tenantId: t.id, party: '+15551230000' }))).toMatch(/required/);
    expect(await err({ message: 'x'.repeat(1601) }, ctx({ tenantId: t.id, party: '+15551230000' }))).toMatch(/longer/);
    // No messaging plugin: the sender's refusal reaches the model as the tool's error.
    expect(await err({ message: 'hi' }, ctx({ tenantId: t.id, party: '+15551230000' }))).toMatch(/no messaging plugin/);
    await store.close();
  });
});
