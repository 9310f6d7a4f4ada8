import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from 'typebox';
import {
  AsrConfigSchema,
  type AssistantConfig,
  DtmfConfigSchema,
  HangupConfigSchema,
  LlmConfigSchema,
  McpServerSchema,
  PrecallConfigSchema,
  RagConfigSchema,
  RUNTIME_BLOCKS,
  type RuntimeBlock,
  SettingsSchema,
  ToolsConfigSchema,
  TtsConfigSchema,
} from '../../assistant.js';
import { mergeConfig, saveAssistant } from '../assistant-change.js';
import { tenantAssistant } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { AssistantKeyParams, Obj, responses } from '../schemas.js';

const BLOCK_SCHEMAS: Record<RuntimeBlock, TSchema> = {
  settings: SettingsSchema,
  asr: AsrConfigSchema,
  llm: LlmConfigSchema,
  tts: TtsConfigSchema,
  dtmf: DtmfConfigSchema,
  rag: RagConfigSchema,
  tools: ToolsConfigSchema,
  hangup: HangupConfigSchema,
  precall: PrecallConfigSchema,
};

const SaveConversationSchema = Type.Object(
  { enabled: Type.Optional(Type.Boolean()), summary: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const NumberValidationSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    allowedPrefixes: Type.Optional(Type.Array(Type.String())),
    blockedNumbers: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
const McpConfigSchema = Type.Object({ mcpServers: Type.Array(McpServerSchema) }, { additionalProperties: false });

/** Sub-resources of a block: `block.key`, merged (objects) or replaced (a JSON schema, a list). */
const SUBS: Array<{
  path: string;
  block: 'hangup' | 'precall';
  key: string;
  schema: TSchema;
  merge: boolean;
  wrap?: string;
}> = [
  {
    path: 'hangup/save-conversation',
    block: 'hangup',
    key: 'saveConversation',
    schema: SaveConversationSchema,
    merge: true,
  },
  { path: 'hangup/schema', block: 'hangup', key: 'schema', schema: Obj, merge: false },
  {
    path: 'precall/number-validation',
    block: 'precall',
    key: 'numberValidation',
    schema: NumberValidationSchema,
    merge: true,
  },
  {
    path: 'precall/mcp-config',
    block: 'precall',
    key: 'mcpServers',
    schema: McpConfigSchema,
    merge: false,
    wrap: 'mcpServers',
  },
];

/**
 * /api/v1/assistants/{assistantApiKey}/runtime/<block>: each block of the assistant document readable and patchable
 * on its own (DESIGN.md 6); a PATCH merges into the block, bumps the version and reaches live calls at their next turn.
 */
export function runtimeRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['assistant runtime'];
  return async (app) => {
    for (const block of RUNTIME_BLOCKS) {
      const url = `/api/v1/assistants/:assistantApiKey/runtime/${block}`;
      const schema = BLOCK_SCHEMAS[block];
      app.get(
        url,
        {
          schema: { tags, summary: `Get the ${block} block`, params: AssistantKeyParams, response: responses(schema) },
        },
        async (req) => {
          const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
          return { status: 'success' as const, data: a.config[block] ?? {} };
        },
      );
      app.patch(
        url,
        {
          schema: {
            tags,
            summary: `Update the ${block} block (fields merge)`,
            params: AssistantKeyParams,
            body: schema,
            response: responses(schema),
          },
        },
        async (req) => {
          const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
          const patch = { [block]: req.body as object } as Partial<AssistantConfig>;
          const kinds = block === 'asr' || block === 'llm' || block === 'tts' ? [block] : [];
          const saved = await saveAssistant(deps, a, mergeConfig(a.config, patch), kinds);
          return { status: 'success' as const, data: saved.config[block] ?? {} };
        },
      );
    }
    for (const sub of SUBS) {
      const url = `/api/v1/assistants/:assistantApiKey/runtime/${sub.path}`;
      const read = (cfg: AssistantConfig): unknown => {
        const v = (cfg[sub.block] as Record<string, unknown> | undefined)?.[sub.key];
        return sub.wrap ? { [sub.wrap]: v ?? [] } : (v ?? {});
      };
      app.get(
        url,
        {
          schema: {
            tags,
            summary: `Get ${sub.block}.${sub.key}`,
            params: AssistantKeyParams,
            response: responses(sub.schema),
          },
        },
        async (req) => {
          const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
          return { status: 'success' as const, data: read(a.config) };
        },
      );
      app.patch(
        url,
        {
          schema: {
            tags,
            summary: `Update ${sub.block}.${sub.key}`,
            params: AssistantKeyParams,
            body: sub.schema,
            response: responses(sub.schema),
          },
        },
        async (req) => {
          const a = await tenantAssistant(deps.store, req, req.params.assistantApiKey);
          const body = req.body as Record<string, unknown>;
          const value = sub.wrap ? body[sub.wrap] : body;
          const cur = (a.config[sub.block] as Record<string, unknown> | undefined) ?? {};
          const prev = cur[sub.key];
          const nextValue =
            sub.merge && prev && typeof prev === 'object' ? { ...(prev as object), ...(value as object) } : value;
          const next = { ...a.config, [sub.block]: { ...cur, [sub.key]: nextValue } } as AssistantConfig;
          const saved = await saveAssistant(deps, a, next, []);
          return { status: 'success' as const, data: read(saved.config) };
        },
      );
    }
  };
}
