import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Assistant } from '../assistant.js';
import { EngineError } from '../errors.js';
import { normalizeNumber } from '../store/index.js';
import { admitCall } from './call-limits.js';
import type { RouteDeps } from './deps.js';

/** Why the assistant's pre-call number validation (precall.numberValidation) refuses `to`, or null. */
export function numberRefusal(a: Assistant, to: string): string | null {
  const nv = a.config.precall?.numberValidation;
  if (!nv?.enabled) return null;
  const n = normalizeNumber(to);
  if ((nv.blockedNumbers ?? []).some((b) => normalizeNumber(b) === n)) {
    return `Number ${to} is blocked by the assistant's number validation`;
  }
  const prefixes = nv.allowedPrefixes ?? [];
  if (prefixes.length > 0 && !prefixes.some((p) => n.startsWith(normalizeNumber(p)))) {
    return `Number ${to} does not match the allowed prefixes (${prefixes.join(', ')})`;
  }
  return null;
}

/** One `pre-call` analytics row per decision taken before a call is placed or answered. */
export interface PrecallDecision {
  direction: 'inbound' | 'outbound';
  assistant_id: string;
  number: string | null;
  check: 'number_validation' | 'call_limit' | 'ip_allowlist';
  decision: 'allowed' | 'refused';
  reason: string | null;
  call_id?: string;
}

/** How long an Idempotency-Key is remembered, ms (a day: longer than any client's retry policy). */
const IDEMPOTENCY_TTL_MS = 86_400_000;

/** The optional `Idempotency-Key` request header, documented on every outbound route. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'Retrying with the same key within 24 h answers the same call_id instead of dialing again',
    }),
  ),
});

/** What an outbound route asks for; numbers are already validated by the route (E.164, or a PBX extension). */
export interface OutboundInput {
  assistant: Assistant;
  to: string;
  from?: string;
  channel?: string;
  metadata?: Record<string, unknown>;
}

/**
 * Queues an outbound call: limits first (a refusal leaves nothing behind), then the call record (status queued)
 * and the persisted queue job; the worker dials it. With an Idempotency-Key, a repeated request answers the call
 * the first one created (`replayed`), so a CRM retrying a timed-out request never dials twice.
 */
export async function startOutbound(
  deps: RouteDeps,
  req: FastifyRequest,
  input: OutboundInput,
): Promise<{ callId: string; replayed: boolean }> {
  if (!deps.outbound) throw new EngineError('UNAVAILABLE', 'Outbound calling is not configured in this engine');
  const raw = req.headers['idempotency-key'];
  const key = typeof raw === 'string' && raw.length > 0 ? raw : undefined;
  if (key) {
    const c = await deps.store.outbound.claimIdempotencyKey(req.tenant.id, key, IDEMPOTENCY_TTL_MS);
    if (!c.ok) {
      if (c.callId) return { callId: c.callId, replayed: true };
      throw new EngineError('CONFLICT', 'A request with this Idempotency-Key is still being processed');
    }
  }
  try {
    const callId = await queueCall(deps, req, input);
    if (key) await deps.store.outbound.bindIdempotencyKey(req.tenant.id, key, callId);
    return { callId, replayed: false };
  } catch (err) {
    if (key) await deps.store.outbound.releaseIdempotencyKey(req.tenant.id, key);
    throw err;
  }
}

async function queueCall(deps: RouteDeps, req: FastifyRequest, input: OutboundInput): Promise<string> {
  const outbound = deps.outbound!;
  const channel = input.channel ?? (await deps.dialer?.defaultChannel?.(req.tenant.id)) ?? 'twilio';
  const blocker = await deps.dialer?.unavailable?.(req.tenant.id, channel, input.from);
  if (blocker) throw new EngineError(blocker.code, blocker.message);
  const decide = (check: PrecallDecision['check'], reason: string | null) =>
    deps.store.analytics.record(req.tenant.id, 'precall', {
      direction: 'outbound',
      assistant_id: input.assistant.id,
      number: input.to,
      check,
      decision: reason ? 'refused' : 'allowed',
      reason,
    } satisfies PrecallDecision);
  if (input.assistant.config.precall?.numberValidation?.enabled) {
    const refusal = numberRefusal(input.assistant, input.to);
    await decide('number_validation', refusal);
    if (refusal) throw new EngineError('UNPROCESSABLE', refusal);
  }
  const admitted = await admitCall(deps.store, req.tenant.id, {
    create: {
      tenantId: req.tenant.id,
      assistantId: input.assistant.id,
      direction: 'outbound',
      status: 'queued',
      to: input.to,
      ...(input.from ? { from: input.from } : {}),
      ...(input.channel ? { protocol: input.channel } : {}),
      metadata: input.metadata ?? {},
    },
  });
  if (!admitted.ok) {
    await decide('call_limit', admitted.reason);
    throw new EngineError('CALL_LIMIT_REACHED', admitted.reason);
  }
  const call = admitted.record;
  await deps.store.outbound.enqueue({
    tenantId: req.tenant.id,
    callId: call.id,
    assistantId: input.assistant.id,
    to: input.to,
    ...(input.from ? { from: input.from } : {}),
    channel,
    metadata: input.metadata ?? {},
  });
  outbound.poke();
  return call.id;
}
