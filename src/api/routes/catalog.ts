import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { defaultBuiltins } from '../../tools/builtins.js';
import { tenantAssistant } from '../auth.js';
import type { CatalogLike, RouteDeps } from '../deps.js';
import { AssistantKeyParams, responses } from '../schemas.js';

const Kind = Type.Union([Type.Literal('asr'), Type.Literal('llm'), Type.Literal('tts')]);
const Item = Type.Record(Type.String(), Type.Unknown());
const ProviderQuery = Type.Object({ provider: Type.Optional(Type.String()) });
const ToolItem = Type.Object({
  name: Type.String(),
  description: Type.String(),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  source: Type.Optional(Type.String({ description: 'builtin | http | mcp' })),
});

/** What a call can do to end or hand off (the hangup block's options). */
const HANGUP_OPTIONS = {
  actions: [
    { id: 'end_call', description: 'The agent ends the call (tool or end phrase), optionally after goodbyeMessage' },
    {
      id: 'transfer_call',
      description: 'Transfer to one of hangup.transferTargets (cold, or warm with a spoken summary)',
    },
    {
      id: 'redirect',
      description:
        'When the agent hangs up (end_call, end phrase, menu), transfer the call cold to hangup.redirect instead: an E.164 number or a SIP URI, through the same platform transfer as transfer_call',
    },
  ],
  saveConversation: {
    enabled: 'store transcript and recording (false: no recording is made, no transcript is stored or sent)',
    summary: 'write a summary after the call',
  },
  structuredOutput: 'hangup.schema: a JSON schema; the result is extracted after the call into the call record',
};

function need(deps: RouteDeps): CatalogLike {
  const c = deps.providers?.catalog;
  if (!c) throw new EngineError('UNAVAILABLE', 'Provider catalog not configured in this engine');
  return c;
}

/** The provider / model / voice / tool catalog, from the provider registry and the tool registry. */
export function catalogRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['catalog'];
  return async (app) => {
    app.get(
      '/api/v1/catalog/providers/:kind',
      {
        schema: {
          tags,
          summary: 'Providers of a kind',
          params: Type.Object({ kind: Kind }),
          response: responses(Type.Array(Item)),
        },
      },
      async (req) => ({
        status: 'success' as const,
        data: (await need(deps).providers(req.params.kind)) as Array<Record<string, unknown>>,
      }),
    );
    app.get(
      '/api/v1/catalog/providers/:kind/models',
      {
        schema: {
          tags,
          summary: 'Models of a provider kind',
          params: Type.Object({ kind: Kind }),
          querystring: ProviderQuery,
          response: responses(Type.Array(Item)),
        },
      },
      async (req) => ({
        status: 'success' as const,
        data: (await need(deps).models(req.params.kind, req.query.provider)) as Array<Record<string, unknown>>,
      }),
    );
    app.get(
      '/api/v1/catalog/providers/tts/voices',
      { schema: { tags, summary: 'TTS voices', querystring: ProviderQuery, response: responses(Type.Array(Item)) } },
      async (req) => ({
        status: 'success' as const,
        data: (await need(deps).voices(req.query.provider)) as Array<Record<string, unknown>>,
      }),
    );
    app.get(
      '/api/v1/catalog/tools',
      { schema: { tags, summary: 'Tools the engine offers', response: responses(Type.Array(ToolItem)) } },
      async () => ({
        status: 'success' as const,
        data: (deps.tools?.catalog() ?? []).map((t) => ({
          name: t.name,
          description: t.description,
          parameters: t.parameters,
          source: 'builtin',
        })),
      }),
    );
    app.get(
      '/api/v1/catalog/hangup',
      { schema: { tags, summary: 'Hangup options', response: responses(Item) } },
      async () => ({ status: 'success' as const, data: HANGUP_OPTIONS }),
    );
    app.get(
      '/api/v1/catalog/assistants/:assistantApiKey/asr/models',
      {
        schema: {
          tags,
          summary: "Models of the assistant's ASR provider",
          params: AssistantKeyParams,
          response: responses(Type.Array(Item)),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        return {
          status: 'success' as const,
          data: (await need(deps).models('asr', a.config.asr?.provider ?? 'offline')) as Array<Record<string, unknown>>,
        };
      },
    );
    app.get(
      '/api/v1/catalog/assistants/:assistantApiKey/tools',
      {
        schema: {
          tags,
          summary: 'Tools this assistant offers',
          params: AssistantKeyParams,
          response: responses(Type.Array(ToolItem)),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        // Same default as the call's tool set (src/tools/registry.ts) when the assistant does not list built-ins.
        const cfg = a.config;
        const enabled = new Set(
          cfg.tools?.builtins ??
            defaultBuiltins(
              (cfg.hangup?.transferTargets?.length ?? 0) > 0,
              (cfg.rag?.collections?.length ?? 0) > 0 && cfg.rag?.mode !== 'automatic',
            ),
        );
        const builtins = (deps.tools?.catalog() ?? [])
          .filter((t) => enabled.has(t.name))
          .map((t) => ({ name: t.name, description: t.description, parameters: t.parameters, source: 'builtin' }));
        const http = (a.config.tools?.http ?? []).map((t) => ({
          name: t.name,
          description: t.description,
          parameters: t.parameters ?? { type: 'object', properties: {} },
          source: 'http',
        }));
        return { status: 'success' as const, data: [...builtins, ...http] };
      },
    );
    app.get(
      '/api/v1/catalog/assistants/:assistantApiKey/pre-call',
      {
        schema: {
          tags,
          summary: "The assistant's pre-call checks and MCP servers",
          params: AssistantKeyParams,
          response: responses(Item),
        },
      },
      async (req) => {
        const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
        return {
          status: 'success' as const,
          data: {
            numberValidation: a.config.precall?.numberValidation ?? { enabled: false },
            mcpServers: (a.config.precall?.mcpServers ?? []).map((s) => ({
              name: s.name,
              ...(s.server !== undefined ? { server: s.server } : { transport: 'http', url: s.url }),
              tools: s.tools ?? 'all',
            })),
            /** Operator-configured servers (MCP_SERVERS_FILE) an assistant may reference by name; never their commands. */
            operatorServers: (deps.config.mcpServers ?? []).map((s) => s.name),
          },
        };
      },
    );
  };
}
