import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, mediaLimitsFromEnv } from '../src/config.js';
import { type EngineHarness, startEngine } from './engine-harness.js';

/** The environment contract's media limits (README "Configuration"): parsed strictly, and they reach the gateway. */
describe('media limits from the environment', () => {
  let e: EngineHarness | undefined;
  afterEach(async () => {
    await e?.close();
    e = undefined;
  });

  it('reads each MEDIA_* variable into the gateway limit it names; unset ones keep the defaults', () => {
    expect(
      mediaLimitsFromEnv({
        MEDIA_START_TIMEOUT_MS: '3000',
        MEDIA_IDLE_TIMEOUT_MS: '20000',
        MEDIA_MAX_MESSAGE_BYTES: '32768',
        MEDIA_MAX_PRESTART_BYTES: '8192',
        MEDIA_MAX_PENDING_PER_IP: '5',
        MEDIA_MAX_MESSAGES_PER_SECOND: '120',
      }),
    ).toEqual({
      startTimeoutMs: 3000,
      idleTimeoutMs: 20000,
      maxMessageBytes: 32768,
      maxPrestartBytes: 8192,
      maxPendingPerIp: 5,
      maxMessagesPerSecond: 120,
    });
    expect(loadConfig({}).mediaLimits).toEqual({});
  });

  it('refuses a value that is not a positive integer, naming the variable', () => {
    expect(() => mediaLimitsFromEnv({ MEDIA_START_TIMEOUT_MS: '10s' })).toThrow(/MEDIA_START_TIMEOUT_MS/);
    expect(() => mediaLimitsFromEnv({ MEDIA_MAX_PENDING_PER_IP: '0' })).toThrow(/positive integer/);
  });

  it('MEDIA_START_TIMEOUT_MS closes a socket that never starts, whatever pre-start chatter it sends', async () => {
    e = await startEngine({ MEDIA_START_TIMEOUT_MS: '400' });
    const ws = new WebSocket(`${e.base.replace(/^http/, 'ws')}/media/twilio/ast_never_starts`);
    await new Promise((r) => ws.once('open', r));
    const chatter = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN)
        ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    }, 50);
    try {
      const closed = await new Promise<{ code: number; reason: string }>((r) =>
        ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
      );
      expect(closed).toEqual({ code: 4031, reason: 'no start message within 400 ms' });
    } finally {
      clearInterval(chatter);
    }
  });
});
