import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/telephony/close-codes.js';
import { Pacer } from '../../src/telephony/pacer.js';
import {
  assistant,
  eventually,
  loadFixture,
  render,
  startServer,
  type TestServer,
  testAudio,
  WireClient,
} from './helpers.js';

const twilio = loadFixture('twilio');
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

function twilioStart(client: WireClient): void {
  for (const step of twilio.start) client.send(render(step, { seq: 1 }));
}

describe('gateway routing', () => {
  it('answers 404 to other paths and unknown protocols, and keeps serving', async () => {
    srv = await startServer();
    for (const p of ['/other', '/media', '/media/sip', '/media/twilio/a/b']) {
      const c = new WireClient(`${srv.url}${p}`);
      await expect(c.opened).rejects.toThrow('HTTP 404');
    }
    expect(srv.gateway.stats().notFound).toBe(4);
    const ok = new WireClient(`${srv.url}/media/twilio`);
    await ok.opened;
    twilioStart(ok);
    await srv.nextCall();
    expect(srv.gateway.activeCalls).toBe(1);
    ok.close();
    await ok.closed;
    await eventually(() => srv!.gateway.activeCalls === 0, 'call end');
    expect(srv.released).toBe(1);
  });

  it('passes the path key, the start key and the called number to resolve, and closes with its code', async () => {
    const seen: unknown[] = [];
    srv = await startServer({
      resolve: async (req) => {
        seen.push({ pathKey: req.pathKey, paramKey: req.paramKey, to: req.to });
        if (req.pathKey === 'ast_bad')
          return { ok: false, code: CloseCode.FORBIDDEN, reason: 'assistant key wrong or revoked' };
        return { ok: false, code: CloseCode.NO_ASSISTANT, reason: 'no assistant for this stream' };
      },
    });
    const a = new WireClient(`${srv.url}/media/telnyx/ast_bad`);
    await a.opened;
    for (const step of loadFixture('telnyx').start) a.send(render(step));
    expect(await a.closed).toEqual({ code: 4003, reason: 'assistant key wrong or revoked' });
    const b = new WireClient(`${srv.url}/media/telnyx`);
    await b.opened;
    for (const step of loadFixture('telnyx').start) b.send(render(step));
    expect(await b.closed).toEqual({ code: 4001, reason: 'no assistant for this stream' });
    expect(seen).toEqual([
      { pathKey: 'ast_bad', paramKey: 'ast_param', to: '+13122020000' },
      { pathKey: undefined, paramKey: 'ast_param', to: '+13122020000' },
    ]);
    expect(srv.calls.length).toBe(0);
  });

  it('closes 4500 when resolve() never answers', async () => {
    srv = await startServer({ limits: { resolveTimeoutMs: 200 }, resolve: () => new Promise(() => {}) });
    const c = new WireClient(`${srv.url}/media/twilio`);
    await c.opened;
    twilioStart(c);
    expect(await c.closed).toEqual({ code: 4500, reason: 'assistant resolution timed out' });
  });

  it('buffers audio that arrives while the assistant is being resolved', async () => {
    let letGo: () => void = () => {};
    const gate = new Promise<void>((r) => {
      letGo = r;
    });
    srv = await startServer({
      resolve: async () => {
        await gate;
        return { ok: true, call: { tenantId: 't', assistant: assistant() } };
      },
    });
    const c = new WireClient(`${srv.url}${twilio.path}`);
    await c.opened;
    twilioStart(c);
    const audio = testAudio(480);
    for (let i = 0; i < 3; i++)
      c.send(render(twilio.media, { seq: i + 2, payload: audio.subarray(i * 160, i * 160 + 160) }));
    const callP = srv.nextCall();
    await new Promise((r) => setTimeout(r, 30));
    letGo();
    const call = await callP;
    await expect.poll(() => call.audio.length).toBe(3);
    expect(Buffer.concat(call.audio)).toEqual(Buffer.from(audio));
    c.close();
  });
});

describe('echo mode', () => {
  it('plays the caller audio back, paced, byte for byte (Twilio)', async () => {
    srv = await startServer({
      resolve: async () => ({ ok: true, call: { tenantId: 't', assistant: assistant({ mode: 'echo' }) } }),
    });
    const c = new WireClient(`${srv.url}/media/twilio`);
    await c.opened;
    twilioStart(c);
    const audio = testAudio(160 * 10, 4);
    for (let i = 0; i < 10; i++)
      c.send(render(twilio.media, { seq: i + 2, payload: audio.subarray(i * 160, i * 160 + 160) }));
    const [pre, post] = twilio.out.audio.split('$PAYLOAD');
    await c.until((r) => r.length >= 10, 'ten echoed frames');
    const back = c.texts().map((t) => {
      expect(t.startsWith(pre!) && t.endsWith(post!)).toBe(true);
      return Buffer.from(t.slice(pre!.length, t.length - post!.length), 'base64');
    });
    expect(Buffer.concat(back)).toEqual(Buffer.from(audio));
    c.close();
  });
});

describe('internal errors', () => {
  it('a session that throws closes only its own call with 4500', async () => {
    srv = await startServer({
      resolve: async (req) => ({
        ok: true,
        call: { tenantId: 't', assistant: assistant({ mode: req.pathKey === 'echo' ? 'echo' : 'agent' }) },
      }),
      onCall: (leg) => {
        leg.setHandler({
          onAudio: () => {
            throw new Error('session bug');
          },
          onDtmf: () => {},
          onMark: () => {},
          onStop: () => {},
        });
      },
    });
    const good = new WireClient(`${srv.url}/media/twilio/echo`);
    await good.opened;
    twilioStart(good);
    const bad = new WireClient(`${srv.url}/media/twilio/x`);
    await bad.opened;
    twilioStart(bad);
    bad.send(render(twilio.media, { seq: 2, payload: testAudio(160) }));
    expect(await bad.closed).toEqual({ code: 4500, reason: 'internal error' });
    for (let i = 0; i < 7; i++) good.send(render(twilio.media, { seq: i + 2, payload: testAudio(160, i) }));
    await good.until((r) => r.length >= 7, 'echo on the good call');
    good.close();
  });
});

describe('logging', () => {
  it('bad input is logged once per call, however often it comes', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    srv = await startServer({ logger, limits: { maxMalformed: 100 } });
    const c = new WireClient(`${srv.url}/media/twilio`);
    await c.opened;
    twilioStart(c);
    const call = await srv.nextCall();
    for (let i = 0; i < 30; i++) c.send(i % 2 ? '{"event":"nope"}' : 'not json');
    c.send(render(twilio.dtmf, { seq: 3 }));
    await expect.poll(() => call.dtmf.length).toBe(1);
    expect(call.leg.stats.malformed).toBe(30);
    expect(lines.filter((l) => l.includes('bad media message')).length).toBe(1);
    c.close();
  });
});

describe('leaks', () => {
  it('200 short calls leave no call, no paced leg and no connection behind', async () => {
    const pacer = new Pacer({ tickMs: 10 });
    srv = await startServer({
      pacer,
      resolve: async () => ({ ok: true, call: { tenantId: 't', assistant: assistant({ mode: 'echo' }) } }),
    });
    for (let batch = 0; batch < 10; batch++) {
      const clients = Array.from({ length: 20 }, () => new WireClient(`${srv!.url}/media/twilio`));
      await Promise.all(clients.map((c) => c.opened));
      for (const c of clients) {
        twilioStart(c);
        for (let i = 0; i < 8; i++) c.send(render(twilio.media, { seq: i + 2, payload: testAudio(160, i) }));
      }
      await Promise.all(clients.map((c) => c.until((r) => r.length > 0, 'echo')));
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.closed));
    }
    await eventually(() => srv!.gateway.stats().connections === 0, 'connections closed');
    expect(srv.gateway.activeCalls).toBe(0);
    expect(pacer.size).toBe(0);
    expect(srv.gateway.stats().accepted).toBe(200);
    pacer.stop();
  });
});

describe('drain and close', () => {
  it('drain refuses new streams with 4050 and keeps existing ones; close ends them with 4050', async () => {
    srv = await startServer();
    const a = new WireClient(`${srv.url}/media/twilio`);
    await a.opened;
    twilioStart(a);
    const call = await srv.nextCall();
    srv.gateway.drain();
    const b = new WireClient(`${srv.url}/media/twilio`);
    await b.opened;
    expect((await b.closed).code).toBe(4050);
    // the existing call still carries audio
    a.send(render(twilio.media, { seq: 2, payload: testAudio(160) }));
    await expect.poll(() => call.audio.length).toBe(1);
    await srv.gateway.close();
    expect((await a.closed).code).toBe(4050);
    expect(call.stops.length).toBe(1);
  });
});
