import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { ACTIVE_CALL_STATUSES, type ControlMessage } from '../../store/index.js';
import type { RouteDeps } from '../deps.js';
import { responses } from '../schemas.js';

const Accepted = Type.Object({
  call_id: Type.String(),
  status: Type.Literal('requested'),
  engine_id: Type.String({ description: 'The engine process carrying the call, which acts on the request' }),
});
const Params = Type.Object({ callId: Type.String() });

/**
 * Control of a live call from any engine's API (DESIGN.md 9): the request is checked here (the tenant's call, still
 * holding a line, carried by an engine) and delivered to the engine that owns the call through the store's control
 * channel (Postgres LISTEN/NOTIFY when engines share a database). 202: the owner acts on it asynchronously.
 */
export function liveCallRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['calls'];
  return async (app) => {
    async function send(tenantId: string, callId: string, msg: Omit<ControlMessage, 'to' | 'callId'>) {
      const call = await deps.store.calls.get(tenantId, callId);
      if (!call) throw new EngineError('CALL_NOT_FOUND', 'Call not found');
      if (!ACTIVE_CALL_STATUSES.includes(call.status) || !call.ownerId) {
        throw new EngineError('CONFLICT', `Call ${callId} is not live on an engine (status ${call.status})`);
      }
      await deps.store.control.publish({ ...msg, to: call.ownerId, callId });
      return {
        status: 'success' as const,
        data: { call_id: callId, status: 'requested' as const, engine_id: call.ownerId },
      };
    }
    app.post(
      '/api/v1/calls/:callId/hangup',
      {
        schema: {
          tags,
          summary: 'Hang up a live call, whichever engine carries it',
          params: Params,
          body: Type.Optional(
            Type.Object(
              { reason: Type.Optional(Type.String({ maxLength: 64, description: 'Recorded as the end reason' })) },
              { additionalProperties: false },
            ),
          ),
          response: responses(Accepted, 202),
        },
      },
      async (req, reply) => {
        reply.status(202);
        return send(req.tenant.id, req.params.callId, {
          op: 'hangup',
          reason: req.body?.reason ? `api: ${req.body.reason}` : 'api',
        });
      },
    );
    app.post(
      '/api/v1/calls/:callId/transfer',
      {
        schema: {
          tags,
          summary:
            "Transfer a live call to one of its assistant's hangup.transferTargets (by name or number), whichever engine carries it",
          params: Params,
          body: Type.Object(
            {
              target: Type.String({ minLength: 1, maxLength: 256, description: 'A transfer target name or number' }),
              mode: Type.Optional(Type.Union([Type.Literal('cold'), Type.Literal('warm')])),
            },
            { additionalProperties: false },
          ),
          response: responses(Accepted, 202),
        },
      },
      async (req, reply) => {
        // Only numbers the assistant's owner configured: an API key alone cannot send a call to an arbitrary number.
        const call = await deps.store.calls.get(req.tenant.id, req.params.callId);
        const a = call && (await deps.store.assistants.get(req.tenant.id, call.assistantId));
        const t = a?.config.hangup?.transferTargets?.find(
          (x) => x.name === req.body.target || x.number === req.body.target,
        );
        if (call && !t) {
          throw new EngineError('UNPROCESSABLE', `'${req.body.target}' is not one of the assistant's transfer targets`);
        }
        reply.status(202);
        return send(req.tenant.id, req.params.callId, {
          op: 'transfer',
          target: t?.number ?? req.body.target,
          mode: req.body.mode ?? 'cold',
        });
      },
    );
  };
}
