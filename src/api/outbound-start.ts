import type { FastifyRequest } from 'fastify';
import type { Assistant } from '../call/assistant.js';
import { EngineError } from '../errors.js';
import { normalizeNumber } from '../store/index.js';
import type { RouteDeps } from './app.js';
import { checkCallLimit } from './call-limits.js';

/** The assistant's pre-call number validation (precall.numberValidation): a refused number is a 422. */
export function checkNumber(a: Assistant, to: string): void {
  const nv = a.config.precall?.numberValidation;
  if (!nv?.enabled) return;
  const n = normalizeNumber(to);
  if ((nv.blockedNumbers ?? []).some((b) => normalizeNumber(b) === n)) {
    throw new EngineError('UNPROCESSABLE', `Number ${to} is blocked by the assistant's number validation`);
  }
  const prefixes = nv.allowedPrefixes ?? [];
  if (prefixes.length > 0 && !prefixes.some((p) => n.startsWith(normalizeNumber(p)))) {
    throw new EngineError('UNPROCESSABLE', `Number ${to} does not match the allowed prefixes (${prefixes.join(', ')})`);
  }
}

/**
 * Queues an outbound call: limits first (a refusal leaves nothing behind), then the call record (status queued)
 * and the persisted queue job; the worker dials it. Returns the call id.
 */
export async function startOutbound(
  deps: RouteDeps,
  req: FastifyRequest,
  input: { assistant: Assistant; to: string; from?: string; channel?: string; metadata?: Record<string, unknown> },
): Promise<string> {
  if (!deps.outbound) throw new EngineError('UNAVAILABLE', 'Outbound calling is not configured in this engine');
  if (normalizeNumber(input.to).replace('+', '').length < 2) {
    throw new EngineError('VALIDATION_FAILED', `'${input.to}' is not a phone number`, [
      { in: 'body', field: 'to_number', instancePath: '/to_number', message: 'is not a phone number' },
    ]);
  }
  checkNumber(input.assistant, input.to);
  const limit = await checkCallLimit(deps.store, req.tenant.id);
  if (!limit.ok) throw new EngineError('CALL_LIMIT_REACHED', limit.reason);
  const call = await deps.store.calls.create({
    tenantId: req.tenant.id,
    assistantId: input.assistant.id,
    direction: 'outbound',
    status: 'queued',
    to: input.to,
    ...(input.from ? { from: input.from } : {}),
    ...(input.channel ? { protocol: input.channel } : {}),
    metadata: input.metadata ?? {},
  });
  await deps.store.outbound.enqueue({
    tenantId: req.tenant.id,
    callId: call.id,
    assistantId: input.assistant.id,
    to: input.to,
    ...(input.from ? { from: input.from } : {}),
    channel: input.channel ?? 'twilio',
    metadata: input.metadata ?? {},
  });
  deps.outbound.poke();
  return call.id;
}
