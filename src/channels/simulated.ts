import { PhoneSim } from '../call/phone-sim.js';
import type { Logger } from '../log.js';
import { defaultGuardedFetch } from '../net/egress.js';
import { newId } from '../store/ids.js';
import { type Store, testModeOf } from '../store/index.js';
import { DialError, type DialRequest, type DialResult, type OutboundDialer } from './types.js';

/**
 * The simulated carrier of test mode (test keys: src/api/routes/keys.ts). Nothing here reaches a carrier.
 *
 * Calls: the dial answers `ringing` at once; after `ringMs` the simulated callee "answers" by opening a media
 * stream to this engine itself (native protocol, the assistant's key, our call id as a parameter), exactly as a
 * carrier's stream would arrive, so the call runs its real lifecycle with its real webhooks:
 *
 *   queued ──worker──▶ ringing ──callee answers──▶ in-progress (call.started) ──callee hangs up──▶ completed (call.ended)
 *
 * The callee stays silent, listens to the agent and hangs up once the agent has been quiet for `hangupAfterQuietMs`
 * (or after `maxTalkMs`). Magic numbers give the other outcomes (like a card processor's test cards):
 *   +15005550010 busy, +15005550011 no-answer, +15005550012 failed (the call ends failed with that reason and a
 *   `call.failed` webhook).
 *
 * Messages (SMS, WhatsApp): accepted with a `sim_…` id and delivered: status queued -> sent -> delivered, through
 * `onStatus` (the stored message and its webhook).
 */

export const SIMULATED_OUTCOMES: Readonly<Record<string, 'busy' | 'no-answer' | 'failed'>> = {
  '+15005550010': 'busy',
  '+15005550011': 'no-answer',
  '+15005550012': 'failed',
};

export interface SimulatedCallOptions {
  /** This engine's own base URL (http://127.0.0.1:PORT) once it listens. */
  selfUrl(): string | undefined;
  logger: Logger;
  ringMs?: number;
  hangupAfterQuietMs?: number;
  maxTalkMs?: number;
}

/** Simulated calls: every callee answers (unless a magic number says otherwise) and listens. */
export function createSimulatedDialer(opts: SimulatedCallOptions): OutboundDialer & { idle(): Promise<void> } {
  const live = new Set<Promise<void>>();
  const ringMs = opts.ringMs ?? 300;
  const quietMs = opts.hangupAfterQuietMs ?? 1500;
  const maxTalkMs = opts.maxTalkMs ?? 20_000;

  async function answer(req: DialRequest, base: string): Promise<void> {
    await new Promise((r) => setTimeout(r, ringMs));
    const sim = await PhoneSim.connect({
      url: `${base.replace(/^http/, 'ws')}/media/native/${req.assistant.assistantApiKey}`,
      protocol: 'native',
      callId: `sim_${req.callId}`,
      to: req.to,
      ...(req.from ? { from: req.from } : {}),
      customParameters: { callId: req.callId, simulated: 'true' },
    });
    // The callee's line: silence in real time (mu-law 0xff), one 20 ms frame per tick.
    const silence = new Uint8Array(160).fill(0xff);
    const started = performance.now();
    await new Promise<void>((done) => {
      const tick = setInterval(() => {
        const now = performance.now();
        const heard = sim.lastAgentAudioAt >= 0;
        const quiet = heard && !sim.agentPlaying && sim.nowMs() - sim.lastAgentAudioAt > quietMs;
        if (sim.closed || quiet || now - started > maxTalkMs) {
          clearInterval(tick);
          done();
          return;
        }
        sim.sendFrame(silence);
      }, 20);
    });
    await sim.stop();
  }

  return {
    // A simulated callee needs nothing configured: no plugin, no PUBLIC_URL.
    unavailable: async () => null,
    async dial(req): Promise<DialResult> {
      const outcome = SIMULATED_OUTCOMES[req.to];
      if (outcome) throw new DialError(`simulated: ${outcome}`, false);
      const base = opts.selfUrl();
      if (!base) throw new DialError('simulated carrier: the engine is not listening', false);
      const run = answer(req, base)
        .catch((err: unknown) => opts.logger.warn({ err, callId: req.callId }, 'simulated call failed'))
        .finally(() => live.delete(run));
      live.add(run);
      return { providerCallId: `sim_${req.callId}`, status: 'ringing' };
    },
    async idle() {
      while (live.size > 0) await Promise.allSettled([...live]);
    },
  };
}

/** Where a simulated message's status changes go (the stored message and its webhook). */
export type MessageStatusHook = (
  tenantId: string,
  channel: 'sms' | 'whatsapp',
  messageId: string,
  status: 'sent' | 'delivered',
) => Promise<void>;

export interface SimulatedMessage {
  provider: 'simulated';
  providerMessageId: string;
  status: 'queued';
}

/**
 * A simulated message: accepted now, then `sent` and `delivered` shortly after through `onStatus` (each a status
 * change of the stored message and its webhook).
 */
export function simulateMessage(
  prefix: 'SM' | 'wamid',
  onStatus: (messageId: string, status: 'sent' | 'delivered') => Promise<void>,
  stepMs = 100,
): SimulatedMessage {
  const id = newId(`sim_${prefix}`, 12);
  const t = setTimeout(async () => {
    await onStatus(id, 'sent').catch(() => {});
    const t2 = setTimeout(() => void onStatus(id, 'delivered').catch(() => {}), stepMs);
    t2.unref();
  }, stepMs);
  t.unref();
  return { provider: 'simulated', providerMessageId: id, status: 'queued' };
}

/** What every message sender (sms.ts, whatsapp.ts) is built from. */
export interface MessageSenderOptions {
  store: Store;
  /** Defaults to the SSRF-guarded fetch (base URLs are tenant configuration). */
  fetch?: typeof fetch;
  /** Per request, ms (default 15 s). */
  timeoutMs?: number;
  /** Status changes of test-mode (simulated) messages. */
  onSimulatedStatus?: MessageStatusHook;
}

/**
 * The one test-mode switch of the message senders: a test-mode tenant's message goes to the simulated carrier
 * (never the tenant's carrier account, never Meta) and `simulated` shapes its result; every other message goes to
 * `real`, which gets the sender's fetch and timeout.
 */
export function testModeSender<R extends { tenantId: string }, T>(
  opts: MessageSenderOptions,
  channel: 'sms' | 'whatsapp',
  real: (req: R, net: { fetch: typeof fetch; timeoutMs: number }) => Promise<T>,
  simulated: (sim: SimulatedMessage, req: R) => T,
): { send(req: R): Promise<T> } {
  const net = { fetch: opts.fetch ?? defaultGuardedFetch(), timeoutMs: opts.timeoutMs ?? 15_000 };
  const isTest = testModeOf(opts.store);
  return {
    async send(req) {
      if (!(await isTest(req.tenantId))) return real(req, net);
      const sim = simulateMessage(
        channel === 'sms' ? 'SM' : 'wamid',
        (id, status) => opts.onSimulatedStatus?.(req.tenantId, channel, id, status) ?? Promise.resolve(),
      );
      return simulated(sim, req);
    },
  };
}
