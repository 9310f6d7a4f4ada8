import { PhoneSim } from '../call/phone-sim.js';
import type { Logger } from '../log.js';
import { newId } from '../store/ids.js';
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
