import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type Assistant, AssistantConfigSchema } from '../../assistant.js';
import { kindsIn, mergeConfig, resolveReferences, saveAssistant, validateAgainstCatalog } from '../assistant-change.js';
import { tenantAssistant } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { AssistantKeyParams, PageQuery, page, responses } from '../schemas.js';

export const AssistantSchema = Type.Object({
  id: Type.String({ description: 'ag_… (CallAI agent_id)' }),
  assistantApiKey: Type.String({ description: 'ast_… (AI4CALL assistantApiKey)' }),
  tenantId: Type.String(),
  config: AssistantConfigSchema,
  version: Type.Integer({ description: 'Increases on every change' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const view = (a: Assistant) => a;

const PromptSchema = Type.Object(
  {
    prompt: Type.Optional(Type.String({ maxLength: 100_000 })),
    firstMessage: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

/** Assistants CRUD and the prompt (DESIGN.md 5, 6). */
export function assistantRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['assistants'];
  return async (app) => {
    app.get(
      '/api/v1/assistants',
      {
        schema: {
          tags,
          summary: 'List assistants',
          querystring: PageQuery,
          response: responses(page(AssistantSchema)),
        },
      },
      async (req) => ({ status: 'success' as const, data: await deps.store.assistants.list(req.tenant.id, req.query) }),
    );
    app.post(
      '/api/v1/assistants',
      {
        schema: {
          tags,
          summary: 'Create an assistant',
          body: AssistantConfigSchema,
          response: responses(AssistantSchema, 201),
        },
      },
      async (req, reply) => {
        const cfg = await resolveReferences(deps, req.tenant.id, req.body);
        await validateAgainstCatalog(deps, cfg);
        const a = await deps.store.assistants.create(req.tenant.id, cfg);
        deps.live?.applyAssistantChange?.(a.id);
        reply.status(201);
        return { status: 'success' as const, data: view(a) };
      },
    );
    app.get(
      '/api/v1/assistants/:assistantApiKey',
      {
        schema: { tags, summary: 'Get an assistant', params: AssistantKeyParams, response: responses(AssistantSchema) },
      },
      async (req) => ({
        status: 'success' as const,
        data: view(await tenantAssistant(deps.store, req, req.params.assistantApiKey)),
      }),
    );
    app.patch(
      '/api/v1/assistants/:assistantApiKey',
      {
        schema: {
          tags,
          summary: 'Update an assistant (top-level fields replace, blocks merge one level deep)',
          params: AssistantKeyParams,
          body: AssistantConfigSchema,
          response: responses(AssistantSchema),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        const saved = await saveAssistant(deps, a, mergeConfig(a.config, req.body), kindsIn(req.body));
        return { status: 'success' as const, data: view(saved) };
      },
    );
    app.delete(
      '/api/v1/assistants/:assistantApiKey',
      {
        schema: {
          tags,
          summary: 'Delete an assistant',
          params: AssistantKeyParams,
          response: responses(Type.Object({ deleted: Type.Boolean(), id: Type.String() })),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        await deps.store.assistants.delete(req.tenant.id, a.id);
        // Numbers routed to it would otherwise resolve to nothing; free them for another assistant.
        for (const r of await deps.store.numberRouting.list(req.tenant.id)) {
          if (r.assistantId === a.id) await deps.store.numberRouting.delete(req.tenant.id, r.number);
        }
        deps.live?.applyAssistantChange?.(a.id);
        return { status: 'success' as const, data: { deleted: true, id: a.id } };
      },
    );
    app.get(
      '/api/v1/assistants/:assistantApiKey/prompt',
      {
        schema: {
          tags,
          summary: 'Get prompt and first message',
          params: AssistantKeyParams,
          response: responses(PromptSchema),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        return {
          status: 'success' as const,
          data: { prompt: a.config.prompt ?? '', firstMessage: a.config.firstMessage ?? '' },
        };
      },
    );
    app.patch(
      '/api/v1/assistants/:assistantApiKey/prompt',
      {
        schema: {
          tags,
          summary: 'Update prompt and/or first message',
          params: AssistantKeyParams,
          body: PromptSchema,
          response: responses(PromptSchema),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        const saved = await saveAssistant(deps, a, mergeConfig(a.config, req.body), []);
        return {
          status: 'success' as const,
          data: { prompt: saved.config.prompt ?? '', firstMessage: saved.config.firstMessage ?? '' },
        };
      },
    );
  };
}
