import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlResult } from '../../src/telephony/call-control.js';
import { CloseCode } from '../../src/telephony/close-codes.js';
import type { ControlFor } from '../../src/telephony/gateway.js';
import type { TransferMode } from '../../src/telephony/leg.js';
import { PROTOCOLS } from '../../src/telephony/protocols.js';
import { loadFixture, type RecordedCall, render, startServer, type TestServer, WireClient } from './helpers.js';

/**
 * leg.hangup() / leg.transfer() over real sockets for every protocol, with a fake carrier (GatewayDeps.control: the
 * one call-control interface, bound to each call) that records what it is asked. Expected routes, per PROTOCOLS.md "Hangup / transfer" (written out here, not read from the
 * adapters' caps):
 * - REST hangup before the close: telnyx (closing does not end the call), plivo (closing runs the next XML),
 *   vonage (closing ends only the websocket leg); the others end the call with a socket message or the close.
 * - REST transfer: twilio, telnyx, plivo, vonage, asterisk (ARI), jambonz; socket message: freeswitch, audiofork,
 *   native; exotel: neither (the Voicebot applet's flow decides), so transfer is 'unsupported'.
 */
const REST_HANGUP = new Set(['telnyx', 'plivo', 'vonage']);
const HANGUP_MESSAGE: Record<string, string> = {
  asterisk: 'HANGUP',
  jambonz: '{"type":"disconnect"}',
  native: '{"type":"hangup","reason":"goodbye"}',
  freeswitch: '{"type":"hangup","reason":"goodbye"}',
  audiofork: '{"type":"disconnect"}',
};
const REST_TRANSFER = new Set(['twilio', 'telnyx', 'plivo', 'vonage', 'asterisk', 'jambonz']);
const TRANSFER_MESSAGE: Record<string, string> = {
  freeswitch: '{"type":"transfer","target":"+15551234567","mode":"warm","summary":"wants billing"}',
  audiofork: '{"type":"transfer","data":{"to":"+15551234567"}}',
  native: '{"type":"transfer","target":"+15551234567","mode":"warm","summary":"wants billing"}',
};

interface Recorded {
  op: 'hangup' | 'transfer';
  tenantId: string;
  callId: string;
  protocol: string;
  target?: string;
  mode?: TransferMode;
  summary?: string;
  /** Whether the socket was still open when the platform was asked. */
  legOpen: boolean;
}

/** A fake platform control: records each request; answers are set per test. */
function fakeControl() {
  const seen: Recorded[] = [];
  const legs = new Map<string, RecordedCall>();
  const state = {
    hangup: async (): Promise<ControlResult> => 'done',
    transfer: async (): Promise<ControlResult> => 'done',
  };
  const control: ControlFor = (call, info) => ({
    async hangup() {
      seen.push({
        op: 'hangup',
        tenantId: call.tenantId,
        callId: info.callId,
        protocol: info.protocol,
        legOpen: !legs.get(info.callId)?.leg.closed,
      });
      return state.hangup();
    },
    async transfer(target: string, mode: TransferMode, summary?: string) {
      seen.push({
        op: 'transfer',
        tenantId: call.tenantId,
        callId: info.callId,
        protocol: info.protocol,
        target,
        mode,
        summary,
        legOpen: !legs.get(info.callId)?.leg.closed,
      });
      return state.transfer();
    },
    sendDtmf: () => 'unsupported',
  });
  return { seen, legs, state, control };
}

let fc: ReturnType<typeof fakeControl>;
let srv: TestServer;
let bare: TestServer;
beforeAll(async () => {
  fc = fakeControl();
  srv = await startServer({ control: fc.control });
  bare = await startServer();
});
afterAll(async () => {
  await srv.close();
  await bare.close();
});

async function open(protocol: string, server = srv): Promise<{ client: WireClient; call: RecordedCall }> {
  const fx = loadFixture(protocol);
  const client = new WireClient(`${server.url}${fx.path}`, fx.subprotocol ?? undefined);
  await client.opened;
  const callP = server.nextCall();
  let seq = 1;
  for (const step of fx.start) client.send(render(step, { seq: seq++ }));
  const call = await callP;
  fc.legs.set(call.leg.info.callId, call);
  return { client, call };
}

/** Text messages the engine sent, minus the protocol's greeting (native `ready`). */
function controlTexts(client: WireClient): string[] {
  return client.texts().filter((t) => !t.startsWith('{"type":"ready"'));
}

for (const protocol of Object.keys(PROTOCOLS)) {
  describe(`call control: ${protocol}`, () => {
    it(
      REST_HANGUP.has(protocol) ? 'hangup asks the platform first, then closes' : 'hangup needs no platform',
      async () => {
        fc.seen.length = 0;
        fc.state.hangup = async () => 'done';
        const { client, call } = await open(protocol);
        await call.leg.hangup('goodbye');
        const closed = await client.closed;
        expect(closed.code).toBe(CloseCode.NORMAL);
        expect(call.leg.closed).toBe(true);
        expect(call.stops).toEqual(['goodbye']);
        if (REST_HANGUP.has(protocol)) {
          expect(fc.seen).toEqual([
            { op: 'hangup', tenantId: 't_test', callId: call.leg.info.callId, protocol, legOpen: true },
          ]);
        } else {
          expect(fc.seen).toEqual([]);
        }
        const msg = HANGUP_MESSAGE[protocol];
        expect(controlTexts(client)).toEqual(msg ? [msg] : []);
      },
    );

    it(
      REST_TRANSFER.has(protocol)
        ? 'transfer goes through the platform, then the stream closes'
        : TRANSFER_MESSAGE[protocol]
          ? 'transfer is a socket message'
          : "transfer is impossible: 'unsupported', the call stays up",
      async () => {
        fc.seen.length = 0;
        fc.state.transfer = async () => 'done';
        const { client, call } = await open(protocol);
        const p = call.leg.transfer('+15551234567', 'warm', 'wants billing');
        if (!REST_TRANSFER.has(protocol) && !TRANSFER_MESSAGE[protocol]) {
          await expect(p).resolves.toBe('unsupported');
          expect(call.leg.closed).toBe(false);
          expect(fc.seen).toEqual([]);
          client.close();
          await client.closed;
          return;
        }
        expect(await p).toBe('done');
        expect((await client.closed).code).toBe(CloseCode.NORMAL);
        expect(call.stops).toEqual(['transfer']);
        if (REST_TRANSFER.has(protocol)) {
          expect(fc.seen).toEqual([
            {
              op: 'transfer',
              tenantId: 't_test',
              callId: call.leg.info.callId,
              protocol,
              target: '+15551234567',
              mode: 'warm',
              summary: 'wants billing',
              legOpen: true,
            },
          ]);
          expect(controlTexts(client)).toEqual([]);
        } else {
          expect(fc.seen).toEqual([]);
          expect(controlTexts(client)).toEqual([TRANSFER_MESSAGE[protocol]]);
        }
      },
    );
  });
}

describe('call control: failures and absence', () => {
  it("platform cannot transfer: 'unsupported', the stream stays up; a failed request rejects", async () => {
    fc.state.transfer = async () => 'unsupported';
    const { client, call } = await open('plivo');
    await expect(call.leg.transfer('+15551234567', 'cold')).resolves.toBe('unsupported');
    expect(call.leg.closed).toBe(false);
    fc.state.transfer = async () => {
      throw new Error('telnyx transfer failed: HTTP 422 (code 90018)');
    };
    await expect(call.leg.transfer('+15551234567', 'cold')).rejects.toThrow('HTTP 422');
    expect(call.leg.closed).toBe(false);
    client.close();
    await client.closed;
  });

  it('a failed REST hangup still closes the socket and resolves (callers fire and forget); the failure is logged', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const ctl = fakeControl();
    const own = await startServer({ control: ctl.control, logger });
    ctl.state.hangup = async () => {
      throw new Error('telnyx hangup failed: HTTP 401 (code 10009)');
    };
    const fx = loadFixture('telnyx');
    const client = new WireClient(`${own.url}${fx.path}`);
    await client.opened;
    const callP = own.nextCall();
    for (const step of fx.start) client.send(render(step));
    const call = await callP;
    await call.leg.hangup('bye');
    expect((await client.closed).code).toBe(CloseCode.NORMAL);
    expect(call.stops).toEqual(['bye']);
    expect(ctl.seen).toHaveLength(1);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 50);
    expect(logged).toEqual([
      expect.objectContaining({
        msg: 'platform hangup failed; closing the stream anyway',
        callId: call.leg.info.callId,
        protocol: 'telnyx',
        err: 'telnyx hangup failed: HTTP 401 (code 10009)',
      }),
    ]);
    await own.close();
  });

  it('concurrent hangups share one platform request; a hangup after the end sends nothing', async () => {
    fc.seen.length = 0;
    let release!: () => void;
    fc.state.hangup = () => new Promise((resolve) => (release = () => resolve('already-ended')));
    const { client, call } = await open('vonage');
    const a = call.leg.hangup('one');
    const b = call.leg.hangup('two');
    expect(a).toBe(b);
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([a, b]);
    await client.closed;
    await call.leg.hangup('three');
    expect(fc.seen).toHaveLength(1);
    expect(call.stops).toEqual(['one']);
  });

  it("without deps.control: hangup still closes the socket, REST transfer is 'unsupported'", async () => {
    const t = await open('telnyx', bare);
    await expect(t.call.leg.transfer('+15551234567', 'cold')).resolves.toBe('unsupported');
    expect(t.call.leg.closed).toBe(false);
    await t.call.leg.hangup('done');
    expect((await t.client.closed).code).toBe(CloseCode.NORMAL);
    const n = await open('native', bare);
    await n.call.leg.transfer('sip:desk@pbx', 'cold');
    await n.client.closed;
    expect(n.client.texts()).toContain('{"type":"transfer","target":"sip:desk@pbx","mode":"cold"}');
  });
});
